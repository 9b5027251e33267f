"""Running provisioning modules for services: the one path every module call takes.

:func:`run` builds WHMCS's ``$params`` for a service, runs the ``PreModule<Action>`` hooks
(which may abort or override parameters), calls the module, writes each remote exchange
to the module log with secrets masked, and then either applies the result (status,
credentials, IPs) and emits ``AfterModule<Action>``, or leaves the service exactly as it
was, records the module's own error in the module queue (retryable) and emits
``AfterModule<Action>Failed``.

Callers that must report a failure to the API raise :class:`billow.errors.ModuleFailed`
through :func:`require_success`; the dispatcher then keeps the queue entry and log.

No call is made inside a transaction. :func:`exchange` works in three steps: in the
caller's transaction it prepares the target (server, username, password) and runs the
``PreModule`` hooks; :meth:`~billow.uow.UnitOfWork.outside_transaction` commits that
intent and releases the API's SQLite writer lock; the module is called; the outcome (log,
queue, status, ``AfterModule`` hooks) is written in a new transaction that the entry point
commits. Callers inside a savepoint (the paid step) use
:mod:`billow.services.hosting.module_calls` to run the call after their commit instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    Client,
    ModuleLog,
    ModuleQueueEntry,
    Product,
    ProductGroup,
    Server,
    Service,
)
from billow.errors import ModuleFailed, NotAllowed, NotFound, ValidationError
from billow.events import request_email
from billow.modules.servers import get_module
from billow.modules.servers.base import SECRET_KEYS, ModuleParams, ModuleResult, ServerModule, mask
from billow.security import decrypt, encrypt
from billow.services.activity import log_activity
from billow.services.clients.custom_fields import custom_field_values
from billow.services.hosting.config_options import module_values, service_options
from billow.services.hosting.servers import choose_server, get_server, server_params
from billow.uow import UnitOfWork

log = logging.getLogger("billow.provisioning")


@dataclass(frozen=True)
class Action:
    method: str
    function: str
    hook: str
    label: str


ACTIONS = {
    "create": Action("create_account", "CreateAccount", "Create", "Create"),
    "suspend": Action("suspend_account", "SuspendAccount", "Suspend", "Suspend"),
    "unsuspend": Action("unsuspend_account", "UnsuspendAccount", "Unsuspend", "Unsuspend"),
    "terminate": Action("terminate_account", "TerminateAccount", "Terminate", "Terminate"),
    "changepackage": Action("change_package", "ChangePackage", "ChangePackage", "Change Package"),
    "changepw": Action("change_password", "ChangePassword", "ChangePassword", "Change Password"),
    "renew": Action("renew", "Renew", "Renew", "Renew"),
}
BY_FUNCTION = {a.function: key for key, a in ACTIONS.items()}
#: WHMCS's suspension reason for non-payment: what payment may undo, for services and addons.
OVERDUE_REASON = "Overdue on Payment"


def get_service(uow: UnitOfWork, service_id: int, message: str = "Service ID not found") -> Service:
    service = uow.session.get(Service, service_id) if service_id else None
    if service is None:
        raise NotFound(message)
    return service


#: WHMCS's welcome e-mail per product type (the shipped template names).
WELCOME_TEMPLATES = {
    "hostingaccount": "Hosting Account Welcome Email",
    "reselleraccount": "Hosting Account Welcome Email",
    "server": "Dedicated/VPS Server Welcome Email",
}


def welcome_template(product_type: str) -> str:
    """The welcome e-mail a newly created service of *product_type* gets."""
    return WELCOME_TEMPLATES.get(product_type, "Other Product/Service Welcome Email")


def service_password(service: Service) -> str:
    return decrypt(service.password_enc) if service.password_enc else ""


def set_service_password(service: Service, password: str) -> None:
    service.password_enc = encrypt(password) if password else ""


def generate_password(length: int = 14) -> str:
    """A password that satisfies common panel rules: upper, lower, digit and symbol."""
    alphabet = string.ascii_letters + string.digits + "!@#%^*-_"
    while True:
        text = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in text)
            and any(c.isupper() for c in text)
            and any(c.isdigit() for c in text)
            and any(c in "!@#%^*-_" for c in text)
        ):
            return text


def generate_username(uow: UnitOfWork, service: Service) -> str:
    """WHMCS's rule: up to 8 lower-case letters/digits from the domain, starting with a
    letter, never starting with ``test``; made unique among services with a digit suffix."""
    base = re.sub(r"[^a-z0-9]", "", service.domain.lower().split(".")[0]) or "user"
    base = base.lstrip("0123456789") or "user"
    if base.startswith("test"):
        base = "u" + base
    base = base[:8]
    taken = set(
        uow.session.scalars(
            select(Service.username).where(Service.username.like(f"{base[:6]}%"), Service.id != service.id)
        )
    )
    if base not in taken:
        return base
    for n in range(1, 1000):
        candidate = f"{base[: 8 - len(str(n))]}{n}"
        if candidate not in taken:
            return candidate
    return base[:4] + secrets.token_hex(2)


def build_params(uow: UnitOfWork, service: Service, product: Product | None = None) -> ModuleParams:
    """WHMCS's ``$params`` for *service* (see the provisioning module contract)."""
    product = product or uow.session.get(Product, service.packageid)
    if product is None:
        raise NotFound("Product ID not found")
    client = uow.session.get(Client, service.userid)
    server = uow.session.get(Server, service.server_id) if service.server_id else None
    params: dict[str, Any] = {
        "accountid": service.id,
        "serviceid": service.id,
        "userid": service.userid,
        "pid": product.id,
        "producttype": product.type,
        "moduletype": product.servertype,
        "packageid": product.id,
        "domain": service.domain,
        "username": service.username,
        "password": service_password(service),
        "status": service.status,
        "dedicatedip": service.dedicatedip,
        "assignedips": service.assignedips,
        "billingcycle": service.billingcycle,
        "qty": service.qty,
        "suspendreason": service.suspendreason,
        "moduledata": dict(service.module_data or {}),
    }
    for index in range(1, 25):
        params[f"configoption{index}"] = (product.module_settings or {}).get(f"configoption{index}", "")
    params["configoptions"] = module_values(service_options(uow, service, product.id))
    params["customfields"] = {
        d.fieldname: v for d, v in custom_field_values(uow, "product", service.id, product.id)
    }
    params["clientsdetails"] = _client_details(client)
    params.update(server_params(server))
    return ModuleParams(params)


def _client_details(client: Client | None) -> dict[str, Any]:
    if client is None:
        return {}
    return {
        "userid": client.id,
        "id": client.id,
        "firstname": client.firstname,
        "lastname": client.lastname,
        "fullname": client.fullname,
        "companyname": client.companyname,
        "email": client.email,
        "address1": client.address1,
        "address2": client.address2,
        "city": client.city,
        "state": client.state,
        "postcode": client.postcode,
        "country": client.country,
        "countrycode": client.country,
        "phonenumber": client.phonenumber,
        "language": client.language,
        "currency": client.currency_id,
    }


def _secrets_of(params: ModuleParams) -> tuple[str, ...]:
    return tuple(str(params.get(k) or "") for k in SECRET_KEYS if params.get(k))


def _write_log(
    uow: UnitOfWork, module: ServerModule, service_id: int, secrets_: tuple[str, ...], addon_id: int = 0
) -> None:
    import json

    for call in module.calls:
        uow.session.add(
            ModuleLog(
                date=uow.now,
                module=module.name,
                action=call.action,
                service_id=service_id,
                addon_id=addon_id,
                request=json.dumps(mask(call.request, secrets_), default=str)[:20000],
                response=json.dumps(mask(call.response, secrets_), default=str)[:20000],
                error=mask(call.error, secrets_),
            )
        )
    module.calls.clear()


def _module_for(uow: UnitOfWork, service: Service) -> tuple[Product, ServerModule]:
    product = uow.session.get(Product, service.packageid)
    if product is None or not product.servertype:
        raise NotAllowed("Service not assigned to a module")
    return product, get_module(product.servertype)


@dataclass(frozen=True)
class Target:
    """What a module call is for: a service, or a client addon (WHMCS ``addonId``).

    The module queue, the module log, the hooks' resource and the activity log all name
    the target the same way, whichever of the two it is.
    """

    #: ``service`` or ``addon`` (the module queue's ``service_type``)
    kind: str
    id: int
    client_id: int
    #: the service the call is made for (an addon's parent service)
    service_id: int
    #: how the activity log names it: ``Service ID: 3`` / ``Addon ID: 7 - Service ID: 3``
    label: str


def service_target(service: Service) -> Target:
    return Target("service", service.id, service.userid, service.id, f"Service ID: {service.id}")


def resolve_action(module: ServerModule, key: str, func_name: str = "") -> Action:
    """The :class:`Action` for *key* (or custom function *func_name*), if *module* has it."""
    if key == "custom":
        functions = type(module).custom_functions()
        if func_name not in functions:
            raise ValidationError("Invalid Function Name")
        return Action(functions[func_name], func_name, "Custom", f"Custom Function ({func_name})")
    action = ACTIONS[key]
    if not type(module).supports(action.method):
        raise NotAllowed(f"{action.function} is not supported by the {module.name} module")
    return action


def exchange(
    uow: UnitOfWork,
    module: ServerModule,
    action: Action,
    params: ModuleParams,
    target: Target,
    *,
    has_server: bool,
    apply: Any,
    arguments: dict[str, Any] | None = None,
    queue: bool = True,
    after_hook: bool = True,
) -> ModuleResult:
    """Make one module call the way every call is made, for a service or an addon.

    Runs the ``PreModule<Action>`` hooks (which may override *params*), calls *module*,
    writes the exchange to the module log with secrets masked, then on success calls
    ``apply(result, params)``, closes open queue entries of the action and emits
    ``AfterModule<Action>``; on failure records the module's error in the module queue
    (when *queue*, with *arguments* a retry needs again) and emits
    ``AfterModule<Action>Failed``. The target is left as it was on failure: only *apply*
    changes it.
    """
    secrets_ = _secrets_of(params)
    for override in uow.emit(
        f"PreModule{action.hook}",
        {"params": mask(dict(params), secrets_)},
        resource_type=target.kind,
        resource_id=target.id,
    ):
        if isinstance(override, dict):
            params.update({k: v for k, v in override.items() if k not in ("abortcmd", "abortmsg")})
    if module.requires_server and not has_server:
        # Nothing to call: every server is full, disabled, or none exists for the module.
        result = ModuleResult.failed(f"No {module.display_name} server with free capacity is available")
    else:
        # The intent (prepared target, hooks' events) commits; the panel is called with
        # no transaction or writer lock held; the outcome is recorded in a new transaction.
        with uow.outside_transaction():
            result = _call(module, action, params)
    _write_log(uow, module, target.service_id, secrets_, target.id if target.kind == "addon" else 0)
    if not isinstance(result, ModuleResult):
        result = ModuleResult.failed(f"Invalid module response: {result!r}")
    if result.success:
        apply(result, params)
        _complete_queue(uow, target.kind, target.id, action.function)
        if after_hook:
            uow.emit(
                f"AfterModule{action.hook}",
                {"params": mask(dict(params), secrets_)},
                resource_type=target.kind,
                resource_id=target.id,
            )
        log_activity(uow, f"Module {action.label} Successful - {target.label}", client_id=target.client_id)
    else:
        if queue:
            _record_failure(
                uow,
                target.kind,
                target.id,
                module.name,
                action.function,
                mask(result.error, secrets_),
                dict(arguments or {}),
            )
        uow.emit(
            f"AfterModule{action.hook}Failed",
            {"params": mask(dict(params), secrets_), "failureResponseMessage": result.error},
            resource_type=target.kind,
            resource_id=target.id,
        )
        log_activity(
            uow,
            f"Module {action.label} Failed - {target.label} - Error: {mask(result.error, secrets_)}",
            client_id=target.client_id,
        )
    return result


def _call(module: ServerModule, action: Action, params: ModuleParams) -> ModuleResult | Any:
    """The remote call itself (no database access here)."""
    try:
        return getattr(module, action.method)(params)
    except Exception as exc:  # noqa: BLE001 - a module bug is a failed call, not a crashed request
        log.exception("module %s %s crashed", module.name, action.function)
        return ModuleResult.failed(f"Module error: {exc.__class__.__name__}: {exc}")


def run(
    uow: UnitOfWork,
    service: Service,
    key: str,
    *,
    reason: str = "",
    func_name: str = "",
    send_email: bool = True,
    queue: bool = True,
    new_password: str = "",
) -> ModuleResult:
    """Run module action *key* (see :data:`ACTIONS`, or ``custom``) for *service*."""
    product, module = _module_for(uow, service)
    # Serialise module actions on one service (suspend racing unsuspend); a no-op on SQLite,
    # whose write transactions are already serial.
    uow.session.execute(select(Service.id).where(Service.id == service.id).with_for_update())
    action = resolve_action(module, key, func_name)
    if key == "create":
        _prepare_create(uow, service, product)
    if key == "suspend":
        service.suspendreason = reason or service.suspendreason
    with uow.session.no_autoflush:  # reads only: no need to write pending events first
        params = build_params(uow, service, product)
    if key == "suspend":
        params["suspendreason"] = reason
    if key == "custom":
        params["action"] = func_name
    if new_password:
        # Stored only once the panel took it (the call may fail, or never come back).
        params["password"] = new_password

    def apply(result: ModuleResult, used: ModuleParams) -> None:
        if new_password:
            set_service_password(service, new_password)
        _apply_success(uow, service, product, key, result, used, send_email=send_email)

    return exchange(
        uow,
        module,
        action,
        params,
        service_target(service),
        has_server=bool(service.server_id),
        apply=apply,
        arguments={"reason": reason} if reason else {},
        queue=queue and key != "custom",
        # change_password emits it with WHMCS's serviceid/old/new variables
        after_hook=key != "changepw",
    )


def _prepare_create(uow: UnitOfWork, service: Service, product: Product) -> None:
    """Give a new service its server, username and password before the module runs."""
    if not service.server_id:
        server = choose_server(uow, product.servertype, product.servergroup)
        if server is not None:
            service.server_id = server.id
    if not service.username and product.type in ("hostingaccount", "reselleraccount"):
        username = generate_username(uow, service)
        for override in uow.emit(
            "OverrideModuleUsernameGeneration",
            {"params": {"serviceid": service.id, "domain": service.domain}},
            resource_type="service",
            resource_id=service.id,
            outbox=False,
        ):
            if isinstance(override, str) and override.strip():
                username = override.strip()
        service.username = username
    if not service.password_enc:
        set_service_password(service, generate_password())
    uow.session.flush()


def _apply_success(
    uow: UnitOfWork,
    service: Service,
    product: Product,
    key: str,
    result: ModuleResult,
    params: ModuleParams,
    *,
    send_email: bool,
) -> None:
    data = result.data
    if "module_data" in data:
        service.module_data = dict(data["module_data"])
    if data.get("dedicatedip"):
        service.dedicatedip = str(data["dedicatedip"])
    if data.get("assignedips"):
        service.assignedips = str(data["assignedips"])
    if data.get("username"):
        service.username = str(data["username"])
    if data.get("password"):
        set_service_password(service, str(data["password"]))
    if key == "create":
        service.status = "Active"
        if send_email and product.servertype:
            request_email(uow, welcome_template(product.type), service.id)
    elif key == "suspend":
        service.status = "Suspended"
        service.suspendreason = str(params.get("suspendreason") or "")
    elif key == "unsuspend":
        service.status = "Active"
        service.suspendreason = ""
    elif key == "terminate":
        service.status = "Terminated"
        service.termination_date = uow.today


def _record_failure(
    uow: UnitOfWork,
    kind: str,
    item_id: int,
    module: str,
    function: str,
    error: str,
    arguments: dict[str, Any],
) -> ModuleQueueEntry:
    entry = uow.session.scalar(
        select(ModuleQueueEntry).where(
            ModuleQueueEntry.service_type == kind,
            ModuleQueueEntry.service_id == item_id,
            ModuleQueueEntry.module_action == function,
            ModuleQueueEntry.completed.is_(False),
        )
    )
    if entry is None:
        entry = ModuleQueueEntry(
            service_type=kind,
            service_id=item_id,
            module_name=module,
            module_action=function,
            arguments=arguments,
            num_retries=0,
            created_at=uow.now,
        )
        uow.session.add(entry)
    else:
        entry.num_retries += 1
        entry.arguments = arguments or entry.arguments
    entry.last_attempt = uow.now
    entry.last_attempt_error = error
    entry.updated_at = uow.now
    uow.session.flush()
    return entry


def _complete_queue(uow: UnitOfWork, kind: str, item_id: int, function: str) -> None:
    # Queue entries are flushed when written (_record_failure), so no autoflush is needed here.
    with uow.session.no_autoflush:
        open_entries = list(
            uow.session.scalars(
                select(ModuleQueueEntry).where(
                    ModuleQueueEntry.service_type == kind,
                    ModuleQueueEntry.service_id == item_id,
                    ModuleQueueEntry.module_action == function,
                    ModuleQueueEntry.completed.is_(False),
                )
            )
        )
    for entry in open_entries:
        entry.completed = True
        entry.updated_at = uow.now


def require_success(result: ModuleResult) -> ModuleResult:
    """Raise the module's error for the API (keeping the queue entry) unless it succeeded."""
    if not result.success:
        raise ModuleFailed(result.error)
    return result


# -- the operations the API, the CLI and the daily run call ------------------------------------
def create(uow: UnitOfWork, service_id: int, *, send_email: bool = True) -> ModuleResult:
    return run(uow, get_service(uow, service_id), "create", send_email=send_email)


def suspend(uow: UnitOfWork, service_id: int, reason: str = "") -> ModuleResult:
    return run(uow, get_service(uow, service_id), "suspend", reason=reason)


def unsuspend(uow: UnitOfWork, service_id: int) -> ModuleResult:
    return run(uow, get_service(uow, service_id), "unsuspend")


def terminate(uow: UnitOfWork, service_id: int) -> ModuleResult:
    return run(uow, get_service(uow, service_id), "terminate")


def change_package(uow: UnitOfWork, service_id: int) -> ModuleResult:
    return run(uow, get_service(uow, service_id), "changepackage")


def change_password(uow: UnitOfWork, service_id: int, new_password: str = "") -> ModuleResult:
    """Push the service's password (after setting *new_password*) to the panel.

    The stored password only changes when the panel accepted the new one.
    """
    service = get_service(uow, service_id)
    _module_for(uow, service)
    result = run(uow, service, "changepw", new_password=new_password)
    if result.success:
        uow.emit(
            "AfterModuleChangePassword",
            {"serviceid": service.id, "oldpassword": "********", "newpassword": "********"},
            resource_type="service",
            resource_id=service.id,
        )
    return result


def custom(uow: UnitOfWork, service_id: int, func_name: str) -> ModuleResult:
    return run(uow, get_service(uow, service_id), "custom", func_name=func_name)


def single_sign_on(uow: UnitOfWork, service_id: int) -> ModuleResult:
    service = get_service(uow, service_id)
    product, module = _module_for(uow, service)
    if not type(module).supports("single_sign_on"):
        raise NotAllowed("Single sign-on is not supported by the module")
    params = build_params(uow, service, product)
    with uow.outside_transaction():
        result = module.single_sign_on(params)  # type: ignore[attr-defined]
    _write_log(uow, module, service.id, _secrets_of(params))
    return result


def test_connection(uow: UnitOfWork, server_id: int) -> ModuleResult:
    server = get_server(uow, server_id)
    module = get_module(server.type)
    params = ModuleParams(server_params(server))
    if not type(module).supports("test_connection"):
        return ModuleResult.failed("Test connection is not supported by the module")
    with uow.outside_transaction():
        try:
            result = module.test_connection(params)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - report, never crash the admin's screen
            result = ModuleResult.failed(f"Module error: {exc}")
    _write_log(uow, module, 0, _secrets_of(params))
    return result


def update_usage(uow: UnitOfWork, server_id: int) -> int:
    """Store disk/bandwidth usage reported by the server's module; returns services updated."""
    server = get_server(uow, server_id)
    module = get_module(server.type)
    if not type(module).supports("usage_update"):
        return 0
    services = list(
        uow.session.scalars(
            select(Service).where(Service.server_id == server.id, Service.status.in_(("Active", "Suspended")))
        )
    )
    updated = 0
    params = ModuleParams(server_params(server))
    records: dict[str, Any] = {}
    with uow.outside_transaction():
        try:
            records = {r.username: r for r in module.usage_update(params)}  # type: ignore[attr-defined]
            server_wide = True
        except Exception as exc:  # noqa: BLE001 - modules reporting one instance need service params
            log.info("server-wide usage update of %s not available: %s", server.name, exc)
            server_wide = False
    if not server_wide:
        each = [(service, build_params(uow, service)) for service in services]
        with uow.outside_transaction():
            for service, service_params in each:
                try:
                    for record in module.usage_update(service_params):  # type: ignore[attr-defined]
                        records[service.username] = record
                except Exception:  # noqa: BLE001
                    log.exception("usage update for service %s failed", service.id)
    _write_log(uow, module, 0, _secrets_of(params))
    for service in services:
        record = records.get(service.username)
        if record is None:
            continue
        service.diskusage, service.disklimit = record.diskusage, record.disklimit
        service.bwusage, service.bwlimit = record.bwusage, record.bwlimit
        service.lastupdate = uow.now
        updated += 1
    return updated


# -- the module queue ---------------------------------------------------------------------------
def list_queue(
    uow: UnitOfWork,
    *,
    service_type: str = "",
    related_id: int = 0,
    module: str = "",
    action: str = "",
    since: Any = None,
    include_completed: bool = False,
) -> list[ModuleQueueEntry]:
    query = select(ModuleQueueEntry).order_by(ModuleQueueEntry.id)
    if not include_completed:
        query = query.where(ModuleQueueEntry.completed.is_(False))
    if service_type:
        query = query.where(ModuleQueueEntry.service_type == service_type)
    if related_id:
        query = query.where(ModuleQueueEntry.service_id == related_id)
    if module:
        query = query.where(ModuleQueueEntry.module_name == module)
    if action:
        query = query.where(ModuleQueueEntry.module_action == action)
    if since is not None:
        query = query.where(ModuleQueueEntry.last_attempt >= since)
    return list(uow.session.scalars(query))


def retry(uow: UnitOfWork, entry_id: int) -> ModuleResult:
    """Run a queued failed action again; success marks the entry completed."""
    entry = uow.session.get(ModuleQueueEntry, entry_id)
    if entry is None:
        raise NotFound("Module queue entry not found")
    if entry.completed:
        return ModuleResult.ok()
    key = BY_FUNCTION.get(entry.module_action)
    if key is None:
        raise ValidationError(f"Cannot retry {entry.module_action}")
    if entry.service_type == "addon":
        from billow.services.hosting import addon_provisioning

        return addon_provisioning.retry(uow, entry, key)
    service = get_service(uow, entry.service_id)
    return run(uow, service, key, reason=str((entry.arguments or {}).get("reason", "")))


def service_group_name(uow: UnitOfWork, product: Product) -> str:
    group = uow.session.get(ProductGroup, product.gid)
    return group.name if group else ""
