"""The one path every module call takes, for a service or an addon (private to hosting).

:func:`exchange` runs the ``PreModule<Action>`` hooks, makes the call with no transaction
or writer lock held, writes the exchange to the module log with secrets masked, and then
applies the result and closes the module queue entries, or records the failure in the
module queue; ``AfterModule<Action>[Failed]`` hooks follow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from billow.db.models import ModuleLog, ModuleQueueEntry, Service
from billow.errors import NotAllowed, ValidationError
from billow.modules.servers.base import SECRET_KEYS, ModuleParams, ModuleResult, ServerModule, mask
from billow.services.activity import log_activity
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


def secrets_of(params: ModuleParams) -> tuple[str, ...]:
    return tuple(str(params.get(k) or "") for k in SECRET_KEYS if params.get(k))


def write_log(
    uow: UnitOfWork, module: ServerModule, service_id: int, secrets_: tuple[str, ...], addon_id: int = 0
) -> None:
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
            raise ValidationError("Invalid Function Name", code="invalid_function_name")
        return Action(functions[func_name], func_name, "Custom", f"Custom Function ({func_name})")
    action = ACTIONS[key]
    if not type(module).supports(action.method):
        raise NotAllowed(f"{action.function} is not supported by the {module.name} module",
                         code="module_action_not_supported")
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
    secrets_ = secrets_of(params)
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
    write_log(uow, module, target.service_id, secrets_, target.id if target.kind == "addon" else 0)
    if not isinstance(result, ModuleResult):
        result = ModuleResult.failed(f"Invalid module response: {result!r}")
    if result.success:
        apply(result, params)
        complete_queue(uow, target.kind, target.id, action.function)
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
            record_failure(
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


def record_failure(
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


def complete_queue(uow: UnitOfWork, kind: str, item_id: int, function: str) -> None:
    # Queue entries are flushed when written (record_failure), so no autoflush is needed here.
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
