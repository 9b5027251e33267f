"""Clients' services and addons after the order: reading, editing, cancellation requests,
upgrades, and the hooks this area plugs into billing and the client lifecycle.

* :func:`due_items` is the due-items source of invoice generation (services and addons).
* :func:`on_invoice_paid` is the paid step: provisioning on payment, unsuspension of
  services suspended for non-payment, applying paid upgrades, advancing due dates.
* :func:`close_client_services`, :func:`delete_client_services`, :func:`client_stats`
  are the client lifecycle steps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select

from billow.db.models import (
    CancelRequest,
    Client,
    Order,
    Product,
    Service,
    ServiceAddon,
    Upgrade,
)
from billow.db.queries import count_of
from billow.errors import ModuleFailed, NotFound, ValidationError
from billow.money import ZERO
from billow.services.activity import log_activity
from billow.services.billing.contract import DateAdvance, DueItem, InvoiceLine
from billow.services.catalog import addons, config_options, pricing
from billow.services.catalog import products as catalog_products
from billow.services.catalog.cycles import anchor_day, anchor_of, cycle, due_after, next_due, prorate
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.hosting import addon_provisioning, module_calls, provisioning
from billow.services.hosting.config_options import option_values, save_options, service_options
from billow.services.settings import setting_on
from billow.uow import UnitOfWork

SERVICE_STATUSES = ("Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed")
OVERDUE_REASON = provisioning.OVERDUE_REASON
CANCEL_TYPES = ("Immediate", "End of Billing Period")


def _apply_columns(row: Any, values: dict[str, Any], columns: dict[str, str]) -> None:
    """Copy the given *values* onto *row*'s mapped columns.

    An admin who moves the next due date moves the next invoice date with it (WHMCS's
    rule for services and addons alike), so both edits share this one place.
    """
    for key, column in columns.items():
        if key in values:
            setattr(row, column, values[key])
    if "nextduedate" in values:
        row.nextinvoicedate = values["nextduedate"]


# -- reading --------------------------------------------------------------------------------
def list_services(
    uow: UnitOfWork,
    *,
    client_id: int = 0,
    service_id: int = 0,
    pid: int = 0,
    domain: str = "",
    username: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[Service]]:
    query = select(Service)
    if client_id:
        query = query.where(Service.userid == client_id)
    if service_id:
        query = query.where(Service.id == service_id)
    if pid:
        query = query.where(Service.packageid == pid)
    if domain:
        query = query.where(Service.domain == domain.lower())
    if username:
        query = query.where(Service.username == username)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(Service.id).offset(offset).limit(limit))
    return total, list(rows)


def _client(uow: UnitOfWork, client_id: int) -> Client:
    client = uow.session.get(Client, client_id)
    if client is None:
        raise NotFound("Client ID Not Found", code="client_not_found")
    return client


# -- UpdateClientProduct ---------------------------------------------------------------------
@dataclass
class ServiceChanges:
    values: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    customfields: dict[str, str] = field(default_factory=dict)
    configoptions: dict[str, Any] = field(default_factory=dict)
    autorecalc: bool = False


UNSETTABLE = {
    "domain": "domain",
    "serviceusername": "username",
    "servicepassword": "password_enc",
    "subscriptionid": "subscriptionid",
    "ns1": "ns1",
    "ns2": "ns2",
    "dedicatedip": "dedicatedip",
    "assignedips": "assignedips",
    "notes": "notes",
    "suspendreason": "suspendreason",
}


def update_service(uow: UnitOfWork, service_id: int, changes: ServiceChanges) -> Service:
    """Change a service's stored fields only (``UpdateClientProduct``): no module call."""
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    uow.emit("PreServiceEdit", {"serviceid": service.id}, resource_type="service", resource_id=service.id)
    v = changes.values
    if "pid" in v:
        catalog_products.get_product(uow, int(v["pid"]))
        service.packageid = int(v["pid"])
    if "serverid" in v:
        if int(v["serverid"]):
            from billow.services.hosting.servers import get_server

            get_server(uow, int(v["serverid"]))
        service.server_id = int(v["serverid"])
    if "billingcycle" in v:
        service.billingcycle = cycle(str(v["billingcycle"])).display
    if "status" in v:
        if v["status"] not in SERVICE_STATUSES:
            raise ValidationError("Invalid Service Status", code="invalid_service_status")
        service.status = v["status"]
    if "servicepassword" in v:
        provisioning.set_service_password(service, str(v["servicepassword"]))
    simple = {
        "regdate": "regdate",
        "nextduedate": "nextduedate",
        "terminationdate": "termination_date",
        "domain": "domain",
        "firstpaymentamount": "firstpaymentamount",
        "recurringamount": "amount",
        "paymentmethod": "paymentmethod",
        "subscriptionid": "subscriptionid",
        "notes": "notes",
        "serviceusername": "username",
        "overideautosuspend": "overideautosuspend",
        "overidesuspenduntil": "overidesuspenduntil",
        "ns1": "ns1",
        "ns2": "ns2",
        "dedicatedip": "dedicatedip",
        "assignedips": "assignedips",
        "diskusage": "diskusage",
        "disklimit": "disklimit",
        "bwusage": "bwusage",
        "bwlimit": "bwlimit",
        "suspendreason": "suspendreason",
        "promoid": "promoid",
    }
    _apply_columns(service, v, simple)
    for key in changes.unset:
        column = UNSETTABLE.get(key)
        if column is None:
            raise ValidationError(f"Invalid unset field {key}", code="invalid_unset_field")
        setattr(service, column, "")
    if changes.customfields:
        check_custom_fields(
            uow, changes.customfields, required=False, kind="product", relid=service.packageid
        )
        save_custom_fields(uow, "product", service.id, changes.customfields)
    if changes.configoptions:
        current = option_values(service_options(uow, service))
        current.update({str(k): val for k, val in changes.configoptions.items()})
        save_options(uow, service, config_options.resolve_options(uow, service.packageid, current))
    if changes.autorecalc:
        product = catalog_products.get_product(uow, service.packageid)
        client = _client(uow, service.userid)
        service.amount = pricing.service_recurring(
            uow, service, service_options(uow, service), product, client.currency_id, service.billingcycle
        )
    uow.emit(
        "ServiceEdit",
        {"userid": service.userid, "serviceid": service.id},
        resource_type="service",
        resource_id=service.id,
    )
    log_activity(uow, f"Modified Product/Service - Service ID: {service.id}", client_id=service.userid)
    return service


# -- addons ---------------------------------------------------------------------------------
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
        addons.get_addon(uow, int(values["addonid"]))
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
    _apply_columns(row, values, columns)
    if autorecalc and row.addonid:
        addon = addons.get_addon(uow, row.addonid)
        quote = pricing.addon_quote(
            uow, addon, _client(uow, row.userid).currency_id, row.billingcycle, row.qty
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


# -- cancellation requests ----------------------------------------------------------------
def add_cancel_request(
    uow: UnitOfWork, service_id: int, reason: str = "", type_: str = "End of Billing Period"
) -> CancelRequest:
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    if type_ not in CANCEL_TYPES:
        raise ValidationError("Invalid Cancellation Type. Must be 'Immediate' or 'End of Billing Period'",
                              code="invalid_cancellation_type")
    existing = uow.session.scalar(
        select(func.count()).select_from(CancelRequest).where(CancelRequest.service_id == service.id)
    )
    if existing:
        raise ValidationError("Existing Cancellation Request Exists", code="cancellation_request_exists")
    request = CancelRequest(service_id=service.id, reason=reason, type=type_, date=uow.now)
    uow.session.add(request)
    uow.session.flush()
    uow.emit(
        "CancellationRequest",
        {"userid": service.userid, "relid": service.id, "reason": reason, "type": type_},
        resource_type="service",
        resource_id=service.id,
    )
    log_activity(uow, f"Cancellation Request Submitted - Service ID: {service.id}", client_id=service.userid)
    return request


def list_cancel_requests(
    uow: UnitOfWork, offset: int = 0, limit: int = 25
) -> tuple[int, list[CancelRequest]]:
    total = uow.session.scalar(select(func.count()).select_from(CancelRequest)) or 0
    rows = uow.session.scalars(select(CancelRequest).order_by(CancelRequest.id).offset(offset).limit(limit))
    return total, list(rows)


# -- upgrades -------------------------------------------------------------------------------
@dataclass
class UpgradeQuote:
    service: Service
    old_product: Product
    new_product: Product
    new_cycle: str
    new_options: list[config_options.ChosenOption]
    new_recurring: Decimal
    days_remaining: int
    total_days: int
    amount: Decimal
    type: str


def calculate_upgrade(
    uow: UnitOfWork,
    service_id: int,
    type_: str,
    *,
    new_pid: int = 0,
    new_cycle: str = "",
    configoptions: dict[str, Any] | None = None,
) -> UpgradeQuote:
    """Price an upgrade: the new recurring amount and the prorated charge (or credit)."""
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    old_product = catalog_products.get_product(uow, service.packageid)
    client = _client(uow, service.userid)
    current = option_values(service_options(uow, service))
    if type_ == "product":
        new_product = catalog_products.get_product(uow, new_pid)
        target_cycle = pricing.cycle_for_product(new_product, new_cycle or service.billingcycle).display
        linked = {str(o.id) for o, _ in config_options.product_options(uow, new_product.id)}
        options = config_options.resolve_options(
            uow, new_product.id, {k: v for k, v in current.items() if k in linked}
        )
    elif type_ == "configoptions":
        new_product, target_cycle = old_product, service.billingcycle
        options = config_options.resolve_options(
            uow, old_product.id, {**current, **{str(k): v for k, v in (configoptions or {}).items()}}
        )
    else:
        raise ValidationError("Invalid Upgrade Type", code="invalid_upgrade_type")
    promotion = None
    new_recurring = pricing.product_quote(
        uow, new_product, client.currency_id, target_cycle, options, qty=service.qty, promotion=promotion
    ).recurring
    today = uow.today
    due = service.nextduedate or today
    places = client.currency.decimals if client.currency else 2
    if not cycle(service.billingcycle).recurring:
        return UpgradeQuote(
            service,
            old_product,
            new_product,
            target_cycle,
            options,
            new_recurring,
            0,
            0,
            max(new_recurring - service.amount, ZERO),
            type_,
        )
    old_share = prorate(service.amount, today, due, service.billingcycle, anchor_day(service), places)
    if target_cycle == service.billingcycle:
        share = prorate(new_recurring, today, due, service.billingcycle, anchor_day(service), places)
        amount = share.amount - old_share.amount
    else:
        # A new cycle starts today: pay it in full, less the unused part of the old one.
        amount = new_recurring - old_share.amount
    return UpgradeQuote(
        service,
        old_product,
        new_product,
        target_cycle,
        options,
        new_recurring,
        old_share.days_remaining,
        old_share.total_days,
        amount,
        type_,
    )


def upgrade_service(uow: UnitOfWork, quote: UpgradeQuote, paymentmethod: str) -> tuple[Upgrade, Order, int]:
    """Create the upgrade order (and its invoice when something is due); apply it when free."""
    from billow.services.orders import orders

    service = quote.service
    pending = uow.session.scalars(
        select(Upgrade).where(
            Upgrade.service_id == service.id, Upgrade.status == "Pending", Upgrade.invoiceid > 0
        )
    )
    if any(True for _ in pending):
        raise ValidationError(
            "Unable to accept upgrade order. Previous upgrade invoice for service is still unpaid.",
            code="upgrade_invoice_unpaid",
        )
    orders.check_payment_method(uow, paymentmethod)
    client = _client(uow, service.userid)
    order = orders.Order(
        ordernum=orders._new_ordernum(uow, {"products": [quote.new_product.id], "domains": []}),
        userid=client.id,
        date=uow.now,
        paymentmethod=paymentmethod,
        status="Pending",
        amount=max(quote.amount, ZERO),
        admin_requestor_id=uow.actor.admin_id or 0,
    )
    uow.session.add(order)
    uow.session.flush()
    upgrade = Upgrade(
        orderid=order.id,
        service_id=service.id,
        userid=client.id,
        type="package" if quote.type == "product" else "configoptions",
        date=uow.today,
        original={
            "pid": service.packageid,
            "billingcycle": service.billingcycle,
            "amount": str(service.amount),
        },
        new={
            "pid": quote.new_product.id,
            "billingcycle": quote.new_cycle,
            "configoptions": {
                str(o.option.id): (
                    o.qty if o.option.optiontype in (3, 4) else (o.choice.id if o.choice else "")
                )
                for o in quote.new_options
            },
        },
        amount=quote.amount,
        new_recurring=quote.new_recurring,
        days_remaining=quote.days_remaining,
        total_days=quote.total_days,
        status="Pending",
    )
    uow.session.add(upgrade)
    uow.session.flush()
    invoice_id = 0
    if quote.amount > 0:
        line = InvoiceLine(
            f"Upgrade/Downgrade: {quote.old_product.name} => {quote.new_product.name} "
            f"({uow.today.isoformat()} - {(service.nextduedate or uow.today).isoformat()})",
            quote.amount,
            taxed=quote.new_product.tax,
            type="Upgrade",
            relid=upgrade.id,
            duedate=uow.today,
        )
        invoice_id = orders.create_order_invoice(uow, client, order, [line], send_email=True)
        order.invoiceid = invoice_id
        upgrade.invoiceid = invoice_id
    else:
        apply_upgrade(uow, upgrade)
        order.status = "Active"
    log_activity(
        uow, f"Upgrade Order Placed - Service ID: {service.id} - Order ID: {order.id}", client_id=client.id
    )
    return upgrade, order, invoice_id


def apply_upgrade(uow: UnitOfWork, upgrade: Upgrade) -> None:
    """Make a paid (or free) upgrade real: new product/options/amount, then the module."""
    if upgrade.status == "Completed":
        return
    service = provisioning.get_service(uow, upgrade.service_id)
    new = upgrade.new or {}
    old_cycle = service.billingcycle
    service.packageid = int(new.get("pid") or service.packageid)
    service.billingcycle = str(new.get("billingcycle") or service.billingcycle)
    save_options(
        uow, service, config_options.resolve_options(uow, service.packageid, new.get("configoptions") or {})
    )
    service.amount = upgrade.new_recurring
    if service.billingcycle != old_cycle:
        service.anchor_day = uow.today.day
        service.nextduedate = next_due(uow.today, service.billingcycle, uow.today.day)
        service.nextinvoicedate = service.nextduedate
    upgrade.status = "Completed"
    product = uow.session.get(Product, service.packageid)
    if service.status in ("Active", "Suspended") and product is not None and product.servertype:
        # after the commit: no module call inside the transaction (or the paid step's savepoint)
        module_calls.after_commit(uow, service.id, "changepackage", when=("Active", "Suspended"))
    uow.emit(
        "AfterProductUpgrade", {"upgradeid": upgrade.id}, resource_type="service", resource_id=service.id
    )


# -- billing: due items and paid steps -------------------------------------------------------
BILLABLE = ("Active", "Suspended")


def due_items(
    uow: UnitOfWork, as_of: date, client_id: int | None, ids: dict[str, list[int]] | None = None,
    *, clients: Collection[int] | None = None,
) -> list[DueItem]:
    """Recurring amounts of services and addons due for invoicing on *as_of*.

    Lead time and continuous generation follow :mod:`billow.services.billing.invoice_timing`.
    Rows are read as plain columns (a daily page holds thousands of services) and each
    line carries a :class:`DateAdvance` for its next invoice date.
    """
    from billow.services.billing.invoice_timing import invoice_timing

    timing = invoice_timing(uow)
    items: list[DueItem] = []
    # Plain rows on the session's connection (no ORM row handling); flush first so rows
    # added in this transaction are seen, as an ORM query's autoflush would.
    uow.session.flush()
    read = uow.session.connection().execute
    products = {pid: (name, tax) for pid, name, tax in read(select(Product.id, Product.name, Product.tax))}
    periods: dict[tuple[date, str, int], tuple[date, str]] = {}
    service_query = _scoped(select(*_SERVICE_COLUMNS).where(*_due_services(timing, as_of)), Service,
                            client_id, clients, _listed(ids, "service"))
    for (sid, userid, packageid, domain, amount, invoice_on, due_on, cycle_name, anchor, regdate,
         promoid) in read(service_query.order_by(Service.id)):
        if not timing.due(as_of, invoice_on, due_on, cycle_name):
            continue
        name, taxed = products.get(packageid, ("Service", False))
        end, period = _period(periods, invoice_on, cycle_name, anchor_of(anchor, regdate))
        items.append(DueItem(
            f"{name} - {domain} ({period})" if domain else f"{name} ({period})", amount,
            taxed=bool(taxed), type="Hosting", relid=sid, duedate=invoice_on, client_id=userid,
            advance=DateAdvance(Service, sid, invoice_on, end),
            on_invoiced=_promotion_use(sid) if promoid else None,
        ))
    addon_query = _scoped(select(*_ADDON_COLUMNS).where(*_due_addons(timing, as_of)), ServiceAddon,
                          client_id, clients, _listed(ids, "addon"))
    for (aid, userid, name, recurring, taxed, invoice_on, due_on, cycle_name,
         regdate) in read(addon_query.order_by(ServiceAddon.id)):
        if not timing.due(as_of, invoice_on, due_on, cycle_name):
            continue
        end, _ = _period(periods, invoice_on, cycle_name, anchor_of(0, regdate))
        items.append(DueItem(
            f"Addon - {name} ({_dmy(invoice_on)})", recurring, taxed=taxed, type="Addon", relid=aid,
            duedate=invoice_on, client_id=userid, advance=DateAdvance(ServiceAddon, aid, invoice_on, end),
        ))
    return items


def _period(memo: dict[tuple[date, str, int], tuple[date, str]], start: date, cycle_name: str,
            anchor: int) -> tuple[date, str]:
    """The period's end (the next due date) and its "dd/mm/yyyy - dd/mm/yyyy" text.

    Remembered per (start, cycle, anchor): a page's services mostly share a few.
    """
    key = (start, cycle_name, anchor)
    found = memo.get(key)
    if found is None:
        end = next_due(start, cycle_name, anchor)
        found = memo[key] = (end, f"{_dmy(start)} - {_dmy(end - timedelta(days=1))}")
    return found


def _dmy(day: date) -> str:
    """WHMCS's dd/mm/yyyy period dates on invoice lines."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


_SERVICE_COLUMNS = (Service.id, Service.userid, Service.packageid, Service.domain, Service.amount,
                    Service.nextinvoicedate, Service.nextduedate, Service.billingcycle,
                    Service.anchor_day, Service.regdate, Service.promoid)
_ADDON_COLUMNS = (ServiceAddon.id, ServiceAddon.userid, ServiceAddon.name, ServiceAddon.recurring,
                  ServiceAddon.tax, ServiceAddon.nextinvoicedate, ServiceAddon.nextduedate,
                  ServiceAddon.billingcycle, ServiceAddon.regdate)


def _listed(ids: dict[str, list[int]] | None, kind: str) -> list[int] | None:
    return None if ids is None else ids.get(kind + "s", ids.get(kind, []))


def _scoped(query: Any, model: Any, client_id: int | None, clients: Collection[int] | None,
            only: list[int] | None) -> Any:
    """Narrow a due-items query to one client, a page of clients, or listed record ids."""
    if client_id:
        query = query.where(model.userid == client_id)
    if clients is not None:
        query = query.where(model.userid.in_(list(clients)))
    if only is not None:
        query = query.where(model.id.in_(only))
    return query


def _due_services(timing: Any, as_of: date) -> tuple[Any, ...]:
    return (
        Service.status.in_(BILLABLE),
        Service.billingcycle.not_in(("Free Account", "One Time")),
        timing.where(Service, as_of),
    )


def _due_addons(timing: Any, as_of: date) -> tuple[Any, ...]:
    return (
        ServiceAddon.status.in_(BILLABLE),
        ServiceAddon.billingcycle.not_in(("Free Account", "One Time")),
        timing.where(ServiceAddon, as_of),
    )


def due_clients(uow: UnitOfWork, as_of: date) -> set[int]:
    """The clients :func:`due_items` has something for on *as_of*, found in SQL.

    The daily run plans its pages with this: one DISTINCT over the due condition instead
    of every service read into Python.
    """
    from billow.services.billing.invoice_timing import invoice_timing

    timing = invoice_timing(uow)
    clients: set[int] = set(uow.session.scalars(
        select(Service.userid).where(*_due_services(timing, as_of)).distinct()))
    clients.update(uow.session.scalars(
        select(ServiceAddon.userid).where(*_due_addons(timing, as_of)).distinct()))
    return clients


def _promotion_use(service_id: int):  # type: ignore[no-untyped-def]
    def count(uow: UnitOfWork, invoice_id: int) -> None:
        service = uow.session.get(Service, service_id)
        if service is not None:
            _count_promotion_use(uow, service)

    return count


def _count_promotion_use(uow: UnitOfWork, service: Service) -> None:
    """One more discounted renewal; past ``recurfor`` the service recurs at list price."""
    from billow.db.models import Promotion

    promotion = uow.session.get(Promotion, service.promoid) if service.promoid else None
    if promotion is None or not promotion.recurring or not promotion.recurfor:
        return
    service.promo_uses += 1
    if service.promo_uses >= promotion.recurfor:
        product = uow.session.get(Product, service.packageid)
        client = uow.session.get(Client, service.userid)
        if product is not None and client is not None:
            service.amount = pricing.service_recurring(
                uow, service, service_options(uow, service), product, client.currency_id, service.billingcycle
            )


def on_invoice_paid(uow: UnitOfWork, invoice: Any) -> None:
    """The paid step: what a paid invoice means for services, addons, orders and upgrades."""
    for line in list(invoice.items):
        if line.type in ("Hosting", "Setup", "PromoHosting") and line.relid:
            if line.type == "Hosting":
                _service_paid(uow, line.relid, line.duedate)
        elif line.type == "Addon" and line.relid:
            _addon_paid(uow, line.relid, line.duedate)
        elif line.type == "Upgrade" and line.relid:
            upgrade = uow.session.get(Upgrade, line.relid)
            if upgrade is not None:
                apply_upgrade(uow, upgrade)
                order = uow.session.get(Order, upgrade.orderid)
                if order is not None:
                    order.status = "Active"
    for order in uow.session.scalars(select(Order).where(Order.invoiceid == invoice.id)):
        uow.emit(
            "OrderPaid",
            {"orderId": order.id, "userId": order.userid, "invoiceId": invoice.id},
            resource_type="order",
            resource_id=order.id,
        )


def _advance_paid_period(row: Service | ServiceAddon, paid_due: date | None) -> None:
    """A paid period moves the next due date on one cycle (once: only the period that was due).

    *paid_due* is the due date the invoice line paid; a line for another period (already
    advanced by an earlier payment) moves nothing. The next invoice date never lags it.
    """
    if row.nextduedate is not None and (paid_due is None or paid_due == row.nextduedate):
        row.nextduedate = due_after(row)
        if row.nextinvoicedate is None or row.nextinvoicedate < row.nextduedate:
            row.nextinvoicedate = row.nextduedate


def _service_paid(uow: UnitOfWork, service_id: int, paid_due: date | None) -> None:
    service = uow.session.get(Service, service_id)
    if service is None:
        return
    _advance_paid_period(service, paid_due)
    product = uow.session.get(Product, service.packageid)
    if service.status == "Pending" and product is not None and product.autosetup == "payment":
        if product.servertype:
            module_calls.after_commit(uow, service.id, "create", when=("Pending",))
        else:
            service.status = "Active"
    elif (
        service.status == "Suspended"
        and service.suspendreason == OVERDUE_REASON
        and setting_on(uow, "AutoUnsuspend")
        and product is not None
        and product.servertype
    ):
        module_calls.after_commit(uow, service.id, "unsuspend", when=("Suspended",))
    elif service.status == "Active" and product is not None and product.servertype:
        module_cls = provisioning.get_module(product.servertype).__class__
        if module_cls.supports("renew"):
            module_calls.after_commit(uow, service.id, "renew", when=("Active",))


def _addon_paid(uow: UnitOfWork, addon_id: int, paid_due: date | None) -> None:
    addon = uow.session.get(ServiceAddon, addon_id)
    if addon is None:
        return
    _advance_paid_period(addon, paid_due)
    if addon.status == "Pending":
        # With a module, only an auto-activation "on payment" sets it up (like a product's
        # auto-setup); a refused call stays Pending with its module queue entry.
        product_addon = addon_provisioning.product_addon(uow, addon)
        if product_addon is None:
            addon_provisioning.change(uow, addon, "create")
        elif product_addon.autoactivate == "payment":
            module_calls.addon_after_commit(uow, addon.id, "create", when=("Pending",))


# -- client lifecycle steps -------------------------------------------------------------------
TYPE_STAT = {
    "hostingaccount": "hosting",
    "reselleraccount": "reseller",
    "server": "servers",
    "other": "other",
}


def client_stats(uow: UnitOfWork, client: Client, stats: dict[str, Any]) -> None:
    rows = uow.session.execute(
        select(Product.type, Service.status, func.count())
        .join(Product, Product.id == Service.packageid)
        .where(Service.userid == client.id)
        .group_by(Product.type, Service.status)
    )
    for ptype, status, count in rows:
        key = TYPE_STAT.get(ptype, "other")
        stats[f"productsnum{key}"] += int(count)
        stats["productsnumtotal"] += int(count)
        if status == "Active":
            stats[f"productsnumactive{key}"] += int(count)
            stats["productsnumactive"] += int(count)


def close_client_services(uow: UnitOfWork, client: Client) -> None:
    """CloseClient: every live service and addon becomes Cancelled (no module call, as WHMCS)."""
    for service in uow.session.scalars(
        select(Service).where(
            Service.userid == client.id, Service.status.in_(("Pending", "Active", "Suspended"))
        )
    ):
        service.status = "Cancelled"
    for addon in uow.session.scalars(
        select(ServiceAddon).where(
            ServiceAddon.userid == client.id, ServiceAddon.status.in_(("Pending", "Active", "Suspended"))
        )
    ):
        addon.status = "Cancelled"


def delete_client_services(uow: UnitOfWork, client: Client, delete_transactions: bool) -> None:
    from billow.services.orders.orders import delete_services

    service_ids = list(uow.session.scalars(select(Service.id).where(Service.userid == client.id)))
    uow.session.execute(delete(CancelRequest).where(CancelRequest.service_id.in_(service_ids)))
    uow.session.execute(delete(Upgrade).where(Upgrade.userid == client.id))
    delete_services(uow, service_ids)
    uow.session.execute(delete(ServiceAddon).where(ServiceAddon.userid == client.id))
    uow.session.execute(delete(Order).where(Order.userid == client.id))
