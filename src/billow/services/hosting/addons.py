"""Reading and editing clients' addons (``GetClientsAddons``, ``UpdateClientAddon``).

A status change of an addon with a provisioning module runs the module action it stands for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.db.models import ServiceAddon
from billow.errors import ModuleFailed, NotFound, ValidationError
from billow.services.catalog import addons as catalog_addons
from billow.services.catalog import pricing
from billow.services.catalog.cycles import cycle
from billow.services.hosting import addon_provisioning
from billow.services.hosting.services import SERVICE_STATUSES, apply_columns, service_client
from billow.uow import UnitOfWork


def list_addons(
    uow: UnitOfWork, *, client_id: int = 0, service_id: int = 0, addon_id: int = 0
) -> list[ServiceAddon]:
    query = select(ServiceAddon).order_by(ServiceAddon.id)
    if client_id:
        query = query.where(ServiceAddon.userid == client_id)
    if service_id:
        query = query.where(ServiceAddon.service_id == service_id)
    if addon_id:
        query = query.where(ServiceAddon.addonid == addon_id)
    return list(uow.session.scalars(query))


def update_addon(
    uow: UnitOfWork, addon_row_id: int, values: dict[str, Any], *, autorecalc: bool = False
) -> ServiceAddon:
    """Edit a client addon (``UpdateClientAddon``).

    A status change of an addon with a provisioning module runs the module action it
    stands for (:func:`_addon_module_action`), as WHMCS's addon automation does; when
    the module refuses, the other edits are kept, the status is not, and the module's
    message is raised as :class:`~billow.errors.ModuleFailed`.
    """
    row = uow.session.get(ServiceAddon, addon_row_id) if addon_row_id else None
    if row is None:
        raise NotFound("Addon ID Not Found", code="addon_not_found")
    if not values and not autorecalc:
        raise ValidationError("Nothing to Update", code="nothing_to_update")
    old_status = row.status
    if "addonid" in values:
        catalog_addons.get_addon(uow, int(values["addonid"]))
        row.addonid = int(values["addonid"])
    if "status" in values and values["status"] not in SERVICE_STATUSES:
        raise ValidationError("Invalid Addon Status", code="invalid_addon_status")
    if "billingcycle" in values:
        values = {**values, "billingcycle": cycle(str(values["billingcycle"])).display}
    columns = {
        "status": "status",
        "name": "name",
        "setupfee": "setupfee",
        "recurring": "recurring",
        "billingcycle": "billingcycle",
        "nextduedate": "nextduedate",
        "terminationdate": "termination_date",
        "notes": "notes",
    }
    apply_columns(row, values, columns)
    if autorecalc and row.addonid:
        addon = catalog_addons.get_addon(uow, row.addonid)
        quote = pricing.addon_quote(
            uow, addon, service_client(uow, row.userid).currency_id, row.billingcycle, row.qty
        )
        row.recurring = quote.recurring
    variables = {"id": row.id, "userid": row.userid, "serviceid": row.service_id, "addonid": row.addonid}
    module_error = ""
    if row.status != old_status:
        hook = ADDON_STATUS_HOOKS.get(row.status, "")
        key = _addon_module_action(old_status, row.status)
        if key and addon_provisioning.product_addon(uow, row) is not None:
            # The addon's module carries the change out; a refusal keeps the old status.
            wanted, row.status = row.status, old_status
            result = addon_provisioning.change(uow, row, key, status=wanted, hook=hook)
            if "terminationdate" in values:
                row.termination_date = values["terminationdate"]
            module_error = "" if result.success else result.error
        elif hook:
            uow.emit(hook, variables, resource_type="addon", resource_id=row.id)
    uow.emit("AddonEdit", variables, resource_type="addon", resource_id=row.id)
    if module_error:
        raise ModuleFailed(module_error, code="module_failed")
    return row


#: The hook of each status an admin may give an addon.
ADDON_STATUS_HOOKS = {
    "Active": "AddonActivated",
    "Suspended": "AddonSuspended",
    "Terminated": "AddonTerminated",
    "Cancelled": "AddonCancelled",
    "Fraud": "AddonFraud",
}


def _addon_module_action(old: str, new: str) -> str:
    """The module action a status change of an addon with a module stands for ("" none):
    activating a Pending addon creates it, reactivating a Suspended one unsuspends it,
    suspending an Active one suspends it, ending a live one terminates it."""
    if new == "Active":
        return {"Pending": "create", "Suspended": "unsuspend"}.get(old, "")
    if new == "Suspended" and old == "Active":
        return "suspend"
    if new in ("Terminated", "Cancelled") and old in ("Active", "Suspended"):
        return "terminate"
    return ""
