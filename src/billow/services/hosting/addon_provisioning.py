"""Client addons whose product addon has a provisioning module: WHMCS's addon automation.

A product addon (catalogue :class:`~billow.db.models.Addon`) with a ``module`` is set up,
suspended, unsuspended and terminated through that module, the way a service is through
its product's: :func:`change` builds WHMCS's ``$params`` for the addon and makes the call
through :func:`billow.services.hosting._exchange.exchange`, the one path of every module call
(``PreModule*``/``AfterModule*`` hooks, module log with secrets masked, module queue entry
on failure, retried by ``billow modulequeue retry`` or ``GetModuleQueue`` tooling).

The parameters are the parent service's (client details, domain, username, password),
with what belongs to the addon on top, as WHMCS passes them: ``addonId`` (the client
addon's id), ``serviceid`` (the parent service), ``configoption1``.. from the addon's own
module settings, the addon's server, status, cycle, quantity and ``moduledata``.

An addon whose product addon has no module keeps the status-only behaviour: :func:`change`
sets its status and fires the addon hook without calling anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, exists, literal, select

from billow.db.models import Addon, AutomationMark, ModuleQueueEntry, Server, Service, ServiceAddon
from billow.errors import NotFound
from billow.modules.servers import get_module
from billow.modules.servers.base import ModuleParams, ModuleResult, ServerModule
from billow.services.hosting._exchange import Target, exchange, resolve_action
from billow.services.hosting.module_params import build_params as service_params
from billow.services.hosting.provisioning import OVERDUE_REASON
from billow.services.hosting.servers import choose_server, server_params
from billow.uow import UnitOfWork


@dataclass(frozen=True)
class Step:
    """What an addon becomes after a module action, and the hook that says so."""

    status: str
    hook: str


#: The default outcome of each action (callers may ask for another status or hook, e.g.
#: ``Cancelled``/``AddonCancelled`` for a cancellation, ``AddonActivated`` for an edit).
STEPS = {
    "create": Step("Active", "AddonActivation"),
    "suspend": Step("Suspended", "AddonSuspended"),
    "unsuspend": Step("Active", "AddonUnsuspended"),
    "terminate": Step("Terminated", "AddonTerminated"),
}


#: Only addons suspended with this reason come back on payment (not those suspended by hand).
#: Marks (``automation_marks``) of addons suspended for non-payment: addons have no
#: suspension reason column, so the mark plays that part.
OVERDUE_MARK = "AddonSuspendedWithService"


def suspended_for_overdue():  # type: ignore[no-untyped-def]
    """SQL condition: the client addon was suspended for non-payment."""
    return exists().where(AutomationMark.task == OVERDUE_MARK,
                          AutomationMark.key == literal("addon:", String) + cast(ServiceAddon.id, String))


def module_backed():  # type: ignore[no-untyped-def]
    """SQL condition: the client addon's product addon has a provisioning module."""
    return exists().where(Addon.id == ServiceAddon.addonid, Addon.module != "")


def product_addon(uow: UnitOfWork, row: ServiceAddon) -> Addon | None:
    """The catalogue addon of *row* when it has a module (None: status-only)."""
    addon = uow.session.get(Addon, row.addonid) if row.addonid else None
    return addon if addon is not None and addon.module else None


def hook_variables(row: ServiceAddon, *, clientid: bool = False) -> dict[str, Any]:
    """WHMCS's variables of the addon hooks (``AddonActivation`` also has ``clientid``)."""
    variables: dict[str, Any] = {"id": row.id, "userid": row.userid}
    if clientid:
        variables["clientid"] = row.userid
    variables.update({"serviceid": row.service_id, "addonid": row.addonid})
    return variables


def set_status(uow: UnitOfWork, row: ServiceAddon, step: Step, *, reason: str = "") -> None:
    """Give *row* the status of *step* and fire its hook (no module involved).

    A suspension for non-payment (*reason*) is remembered, and forgotten again when the
    addon leaves Suspended, so that payment brings back only what non-payment took.
    """
    row.status = step.status
    mark = f"addon:{row.id}"
    if step.status == "Suspended":
        if reason == OVERDUE_REASON and uow.session.scalar(
            select(AutomationMark.id).where(AutomationMark.task == OVERDUE_MARK, AutomationMark.key == mark)
        ) is None:
            uow.session.add(
                AutomationMark(task=OVERDUE_MARK, key=mark, run_date=uow.today, created_at=uow.now)
            )
    else:
        uow.session.execute(
            delete(AutomationMark).where(AutomationMark.task == OVERDUE_MARK, AutomationMark.key == mark)
        )
    if step.status == "Terminated":
        row.termination_date = uow.today
    uow.emit(
        step.hook,
        hook_variables(row, clientid=step.hook == "AddonActivation"),
        resource_type="addon",
        resource_id=row.id,
    )


def change(
    uow: UnitOfWork,
    row: ServiceAddon,
    key: str,
    *,
    status: str = "",
    hook: str = "",
    reason: str = "",
    queue: bool = True,
) -> ModuleResult:
    """Move client addon *row* through action *key* (``create``, ``suspend``, ``unsuspend``,
    ``terminate``): through its module when it has one, else by status alone.

    On success the addon gets *status* (default: the action's, see :data:`STEPS`) and
    *hook* is fired. On a module failure nothing about the addon changes; the failure is
    in the module queue and log, and the result carries the module's message.
    """
    default = STEPS[key]
    step = Step(status or default.status, hook or default.hook)
    addon = product_addon(uow, row)
    if addon is None or (row.status == "Pending" and key != "create"):
        # No module, or nothing was ever provisioned for a Pending addon: status only.
        set_status(uow, row, step, reason=reason)
        return ModuleResult.ok()
    arguments = {"reason": reason} if reason else {}
    if step != default:  # a retry must reach the same outcome (e.g. Cancelled, not Terminated)
        arguments.update(status=step.status, hook=step.hook)
    result = call(uow, row, addon, key, reason=reason, arguments=arguments, queue=queue)
    if result.success:
        set_status(uow, row, step, reason=reason)
    return result


def call(
    uow: UnitOfWork,
    row: ServiceAddon,
    addon: Addon,
    key: str,
    *,
    reason: str = "",
    arguments: dict[str, Any] | None = None,
    queue: bool = True,
) -> ModuleResult:
    """Run module action *key* of *addon*'s module for client addon *row*."""
    service = uow.session.get(Service, row.service_id)
    if service is None:
        raise NotFound("Service ID not found", code="service_not_found")
    module = get_module(addon.module)
    action = resolve_action(module, key)
    # Serialise module actions on one addon, as for services (a no-op on SQLite).
    uow.session.execute(select(ServiceAddon.id).where(ServiceAddon.id == row.id).with_for_update())
    if not row.server_id:
        server = addon_server(uow, service, module)
        if server is not None:
            row.server_id = server.id
    with uow.session.no_autoflush:
        params = build_params(uow, row, service, addon)
    if key == "suspend":
        params["suspendreason"] = reason

    def apply(result: ModuleResult, _params: ModuleParams) -> None:
        if "module_data" in result.data:
            row.module_data = dict(result.data["module_data"])

    target = Target(
        "addon", row.id, row.userid, service.id, f"Addon ID: {row.id} - Service ID: {service.id}"
    )
    return exchange(
        uow,
        module,
        action,
        params,
        target,
        has_server=bool(row.server_id),
        apply=apply,
        arguments=arguments,
        queue=queue,
    )


def addon_server(uow: UnitOfWork, service: Service, module: ServerModule) -> Server | None:
    """The server an addon's module runs on: the parent service's when it is of the same
    module (a feature of the same account or panel), else the module's default server."""
    if not module.requires_server:
        return None
    if service.server_id:
        parent = uow.session.get(Server, service.server_id)
        if parent is not None and parent.type == module.name and not parent.disabled:
            return parent
    return choose_server(uow, module.name, 0)


def build_params(uow: UnitOfWork, row: ServiceAddon, service: Service, addon: Addon) -> ModuleParams:
    """WHMCS's ``$params`` for a call made for client addon *row* of *service*."""
    params = service_params(uow, service)
    server = uow.session.get(Server, row.server_id) if row.server_id else None
    params.update(server_params(server))
    params.update(
        {
            "addonId": row.id,
            "serviceid": service.id,
            "userid": row.userid,
            "moduletype": addon.module,
            "status": row.status,
            "billingcycle": row.billingcycle,
            "qty": row.qty,
            "moduledata": dict(row.module_data or {}),
            # the parent's configurable options and custom fields describe the parent
            "configoptions": {},
            "customfields": {},
        }
    )
    settings = addon.module_settings or {}
    for index in range(1, 25):
        params[f"configoption{index}"] = settings.get(f"configoption{index}", "")
    return params


def retry(uow: UnitOfWork, entry: ModuleQueueEntry, key: str) -> ModuleResult:
    """Run a queued failed addon action again (see :func:`billow.services.hosting.module_queue.retry`)."""
    row = uow.session.get(ServiceAddon, entry.service_id)
    if row is None:
        raise NotFound("Addon ID Not Found", code="addon_not_found")
    arguments = entry.arguments or {}
    return change(
        uow,
        row,
        key,
        status=str(arguments.get("status") or ""),
        hook=str(arguments.get("hook") or ""),
        reason=str(arguments.get("reason") or ""),
    )
