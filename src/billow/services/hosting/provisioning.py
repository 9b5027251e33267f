"""Module actions on services: create, suspend, unsuspend, terminate, change package,
change password, custom functions, renew.

:func:`run` builds WHMCS's ``$params`` for a service (:mod:`.module_params`), prepares a
new account (server, username, password), and makes the call through
:func:`billow.services.hosting._exchange.exchange`, the one path every module call takes:
``PreModule<Action>`` hooks, the call with no transaction or writer lock held, the module
log with secrets masked, then either the result applied (status, credentials, IPs) and
``AfterModule<Action>``, or the service left exactly as it was, the module's own error in
the module queue (retryable, :mod:`.module_queue`) and ``AfterModule<Action>Failed``.

Callers that must report a failure to the API raise :class:`billow.errors.ModuleFailed`
through :func:`require_success`; the dispatcher then keeps the queue entry and log.
Callers inside a savepoint (the paid step) use :mod:`billow.services.hosting._module_calls`
to run the call after their commit instead.

:data:`OVERDUE_REASON` is WHMCS's suspension reason for non-payment. It lives here, below
:mod:`.addon_provisioning` and :mod:`.overdue`, which both need it (the overdue rules
import addon provisioning, so it cannot live in :mod:`.overdue` without a cycle).
"""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import Product, Service
from billow.errors import ModuleFailed, NotAllowed, NotFound
from billow.events import request_email
from billow.modules.servers import get_module
from billow.modules.servers.base import ModuleParams, ModuleResult, ServerModule
from billow.services.hosting._exchange import exchange, resolve_action, service_target
from billow.services.hosting.module_params import (
    build_params,
    generate_password,
    generate_username,
    set_service_password,
)
from billow.services.hosting.servers import choose_server
from billow.uow import UnitOfWork

#: WHMCS's suspension reason for non-payment: what payment may undo, for services and addons.
OVERDUE_REASON = "Overdue on Payment"


def get_service(uow: UnitOfWork, service_id: int, message: str = "Service ID not found") -> Service:
    service = uow.session.get(Service, service_id) if service_id else None
    if service is None:
        raise NotFound(message, code="service_not_found")
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


def module_for(uow: UnitOfWork, service: Service) -> tuple[Product, ServerModule]:
    product = uow.session.get(Product, service.packageid)
    if product is None or not product.servertype:
        raise NotAllowed("Service not assigned to a module", code="service_without_module")
    return product, get_module(product.servertype)


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
    product, module = module_for(uow, service)
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


def require_success(result: ModuleResult) -> ModuleResult:
    """Raise the module's error for the API (keeping the queue entry) unless it succeeded."""
    if not result.success:
        raise ModuleFailed(result.error, code="module_failed")
    return result


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
    module_for(uow, service)
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
