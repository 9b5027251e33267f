"""Events: WHMCS hook names and variables, dispatched to in-process hooks and the outbox.

Services call ``uow.emit(name, variables)`` inside their transaction. Hooks registered for
*name* run at once, in priority order (WHMCS runs hooks at the point of the event); the
event is also written to the outbox table in the same transaction, so webhooks and
e-mails are sent only for committed changes and never lost once committed.

A "Pre" hook may stop the operation by raising :class:`HookAbort` or returning a dict
with ``abortcmd`` true (WHMCS's convention); :func:`emit` turns that into a
:class:`HookAbort` the service lets through (the request then fails and rolls back).
An exception in any other hook is logged and does not break the operation, as in WHMCS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from billow.db.models import OutboxEvent
from billow.errors import BillowError

if TYPE_CHECKING:
    from billow.uow import UnitOfWork

log = logging.getLogger("billow.hooks")

Hook = Callable[[dict[str, Any]], Any]


class HookAbort(BillowError):
    """A Pre hook refused the operation; ``message`` is the hook's reason."""

    code = "hook_abort"


@dataclass(order=True)
class _Registered:
    priority: int
    seq: int
    fn: Hook = field(compare=False)


@dataclass
class HookRegistry:
    hooks: dict[str, list[_Registered]] = field(default_factory=dict)
    _seq: int = 0

    def add(self, name: str, fn: Hook, priority: int = 1) -> None:
        self._seq += 1
        entries = self.hooks.setdefault(name, [])
        entries.append(_Registered(priority, self._seq, fn))
        entries.sort()

    def for_event(self, name: str) -> list[Hook]:
        return [r.fn for r in self.hooks.get(name, ())]

    def clear(self) -> None:
        self.hooks.clear()


#: Set after a commit that wrote outbox events: an in-process worker wakes at once instead
#: of waiting for its next poll.
outbox_committed = threading.Event()

#: The process-wide hook registry (``billow.hooks`` entry points and the hooks folder fill it).
registry = HookRegistry()


def add_hook(name: str, priority: int = 1) -> Callable[[Hook], Hook]:
    """Register the decorated function for WHMCS hook *name* (lower priority runs first)."""

    def decorate(fn: Hook) -> Hook:
        registry.add(name, fn, priority)
        return fn

    return decorate


def is_pre_hook(name: str) -> bool:
    return name.startswith("Pre") or name.endswith("Validate") or "Validate" in name


def run_hooks(name: str, variables: dict[str, Any]) -> list[Any]:
    results: list[Any] = []
    for fn in registry.for_event(name):
        try:
            result = fn(dict(variables))
        except HookAbort:
            raise
        except Exception:  # noqa: BLE001 - a broken hook must not break billing (WHMCS does the same)
            log.exception("hook %s for %s failed", getattr(fn, "__name__", fn), name)
            continue
        if isinstance(result, dict) and result.get("abortcmd") and is_pre_hook(name):
            raise HookAbort(str(result.get("message") or result.get("abortmsg") or f"{name} aborted"))
        results.append(result)
    return results


def validation_errors(results: list[Any]) -> list[str]:
    """Collect the error messages validation hooks returned (WHMCS's ``*Validate*`` hooks).

    A validation hook returns an error string, a list of them, or nothing; services call
    this on ``uow.emit("ShoppingCartValidateCheckout", ...)``'s results and refuse the
    operation with the messages when the list is not empty.
    """
    errors: list[str] = []
    for result in results:
        if isinstance(result, str) and result.strip():
            errors.append(result.strip())
        elif isinstance(result, list | tuple):
            errors.extend(str(item).strip() for item in result if str(item).strip())
    return errors


def emit(
    uow: UnitOfWork,
    name: str,
    variables: dict[str, Any],
    *,
    resource_type: str = "",
    resource_id: int = 0,
    outbox: bool = True,
    hooks: bool = True,
) -> list[Any]:
    """Run *name*'s hooks and write the event to the outbox in *uow*'s transaction."""
    # Internal events (``hooks=False``) carry data no third-party hook should see.
    results = run_hooks(name, variables) if hooks else []
    if outbox:
        uow.session.add(OutboxEvent(**_outbox_row(uow, name, variables, resource_type, resource_id)))
        _wake_worker(uow)
    return results


class Emitted(NamedTuple):
    """One event of :func:`emit_many`, with :func:`emit`'s arguments (a tuple: cheap by the
    ten thousand)."""

    name: str
    variables: dict[str, Any]
    resource_type: str = ""
    resource_id: int = 0
    hooks: bool = True


def emit_many(uow: UnitOfWork, events: list[Emitted]) -> None:
    """:func:`emit` for a batch: hooks run per event in order, the outbox takes one INSERT.

    For set-based work (the daily invoice run writes four events per invoice): rows keep
    the order of *events*, after anything emitted earlier in the transaction.
    """
    import uuid

    from sqlalchemy import insert


    if not events:
        return
    rows = []
    hooked = registry.hooks
    for event in events:
        if event.hooks and event.name in hooked:
            run_hooks(event.name, event.variables)
        row = _outbox_row(uow, event.name, event.variables, event.resource_type, event.resource_id)
        row["uuid"] = str(uuid.uuid4())
        rows.append(row)
    uow.session.flush()
    uow.session.execute(insert(OutboxEvent.__table__), rows)
    _wake_worker(uow)


def _outbox_row(uow: UnitOfWork, name: str, variables: dict[str, Any], resource_type: str,
                resource_id: int) -> dict[str, Any]:
    return {
        "name": name,
        "payload": _jsonable({k: v for k, v in variables.items() if k not in _NEVER_STORED}),
        "resource_type": resource_type,
        "resource_id": int(resource_id or 0),
        "created_at": uow.now,
    }


def _wake_worker(uow: UnitOfWork) -> None:
    if outbox_committed.set not in uow.after_commit:
        uow.after_commit.append(outbox_committed.set)


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, _PLAIN) else _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


#: Variables never written to the outbox (it is stored and sent to webhook receivers).
_NEVER_STORED = frozenset({"password", "password2"})


#: The internal event the e-mail sender consumes: ``{"template": ..., "relid": ...}``.
EMAIL_REQUESTED = "EmailRequested"


def request_email(uow: UnitOfWork, template: str, relid: int, **extra: Any) -> None:
    """Ask for WHMCS e-mail *template* about record *relid*, sent after commit by the worker."""
    event = email_request(template, relid, **extra)
    emit(uow, event.name, event.variables, resource_type=event.resource_type,
         resource_id=event.resource_id, hooks=False)


def email_request(template: str, relid: int, **extra: Any) -> Emitted:
    """The event :func:`request_email` writes, for :func:`emit_many`."""
    return Emitted(EMAIL_REQUESTED, {"template": template, "relid": relid, **extra},
                   resource_type="email", resource_id=relid, hooks=False)
