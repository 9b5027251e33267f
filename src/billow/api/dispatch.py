"""Authenticate, authorise, run one action in one transaction, and log the call.

Order of checks follows what WHMCS is observed to do: lock-out, IP allow-list (or access
key), credentials, action existence, role permission. A handler's :class:`BillowError`
becomes ``{"result": "error", "message": ...}`` and rolls the transaction back; any other
exception is logged with its traceback and answered with a generic error, never a 500.

On SQLite the call holds the process's writer lock while its transaction is open, but
not while a module call waits on the network: the unit of work releases it around
:meth:`~billow.uow.UnitOfWork.outside_transaction`, so a hanging panel stalls only its
own request.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import ActionTable, UnknownAction
from billow.config import get_settings
from billow.db.models import AllowedIP, ApiLog
from billow.errors import AuthError, BillowError
from billow.services.access import api_authentication as access
from billow.services.access.ip_allow_list import ip_in
from billow.uow import Actor, UnitOfWork

log = logging.getLogger("billow.api")


@dataclass
class Outcome:
    result: dict[str, Any]
    http_status: int
    action: str


_INSERT_LOG = insert(ApiLog)


def _error(message: str) -> dict[str, Any]:
    return {"result": "error", "message": message}


#: SQLite has one writer at a time, and every call writes (the API log at least). Threads
#: of this process queue on this lock instead of in SQLite's busy handler, which polls
#: with sleeps of up to 100 ms and would leave the database idle between writers. The unit
#: of work holds it and lets go of it around network calls.
_SQLITE_WRITER = threading.RLock()


def _one_writer(factory: sessionmaker[Session]) -> AbstractContextManager[Any]:
    bind = factory.kw.get("bind")
    return _SQLITE_WRITER if bind is not None and bind.dialect.name == "sqlite" else nullcontext()


def may_be_allowed(factory: sessionmaker[Session], ip: str) -> bool:
    """False when *ip* is refused whatever the request body says: the IP restriction is on,
    no access key is configured (which a body could carry), and the address is in no
    allow-list entry, global or any credential's. Lets the endpoint refuse a stranger
    before reading its body."""
    settings = get_settings()
    if not settings.api_ip_restriction or settings.api_access_key:
        return True
    with _one_writer(factory), factory() as session:
        networks = list(session.scalars(select(AllowedIP.network)))
    return ip_in(ip, networks)


def dispatch(table: ActionTable, factory: sessionmaker[Session], params: Params, ip: str) -> Outcome:
    """Run one API call in one transaction; see the module docstring for the order of checks."""
    outcome = _dispatch(table, factory, params, ip, inline=False)
    if outcome is None:  # pragma: no cover - only an inline dispatch defers
        raise RuntimeError("dispatch deferred outside the event loop")
    return outcome


def dispatch_inline(
    table: ActionTable, factory: sessionmaker[Session], params: Params, ip: str
) -> Outcome | None:
    """:func:`dispatch` for a caller on the event loop: None, having written nothing, when
    the call needs an argon2 password check (~100 ms of CPU), which the caller then hands
    to a thread, so wrong logins never stall the loop (issue 12, finding 5)."""
    return _dispatch(table, factory, params, ip, inline=True)


def _dispatch(
    table: ActionTable, factory: sessionmaker[Session], params: Params, ip: str, inline: bool = False
) -> Outcome | None:
    started = time.perf_counter()
    action_name = params.str("action")
    identifier = params.str("identifier") or params.str("username")
    secret = params.str("secret") or params.str("password")
    uow = UnitOfWork(factory, Actor(kind="admin", ip=ip), lock=_one_writer(factory))
    with uow:
        status, auth_failed = 200, False
        try:
            gate = access.lockout(uow, ip, identifier)
            if gate.banned:
                log.warning("api login refused: %s is locked out", ip)
                raise AuthError("IP Banned")
            credential = access.find_credential(uow, identifier)
            access.check_ip(uow, ip, credential, params.str("accesskey"))
            if inline and access.needs_password_hash(credential, identifier, secret):
                return None  # nothing written yet: the unit rolls back on exit
            try:
                admin, credential = access.authenticate(uow, identifier, secret, credential=credential)
            except AuthError:
                auth_failed = True
                raise
            if gate.failures:
                access.clear_failures(uow, ip, identifier)  # a success resets the count
            uow.actor.admin_id, uow.actor.admin_username = admin.id, admin.username
            try:
                action = table.resolve(action_name)
            except UnknownAction:
                raise BillowError(
                    f'Invalid API Action: "{action_name.lower()}" is not a valid API action'
                ) from None
            if not access.allows(credential, action.name, uow):
                raise AuthError(
                    f'Invalid Permissions: API action "{action_name.lower()}" is not allowed'
                )
            ctx = Context(uow=uow, action=action.name, ip=ip, credential=credential)
            data = action.handler(ctx, params)
            result: dict[str, Any] = {"result": "success"}
            result.update(data)
            if credential is not None:
                access.mark_used(uow, credential)
            _log_call(uow, action_name, identifier, ip, result, status, started)
            uow.commit()
            return Outcome(result, status, action_name)
        except BillowError as exc:
            result, status = _error(exc.message), exc.http_status
            if getattr(exc, "keep_changes", False):
                # The refusal is itself a record (e.g. a module failure in the queue).
                _log_call(uow, action_name, identifier, ip, result, status, started)
                uow.commit()
                return Outcome(result, status, action_name)
        except Exception:  # noqa: BLE001 - the wire never answers with a traceback
            log.exception("action %s failed", action_name)
            result, status = _error("An unexpected error occurred"), 200
        uow.rollback()
        if auth_failed:
            access.record_failure(uow, ip, identifier, secret)
        _log_call(uow, action_name, identifier, ip, result, status, started)
        uow.commit()
        return Outcome(result, status, action_name)


def _log_call(
    uow: UnitOfWork,
    action: str,
    identifier: str,
    ip: str,
    result: dict[str, Any],
    status: int,
    started: float,
) -> None:
    # Only the identifier is kept; secrets and passwords never reach the log. A plain
    # INSERT on the session's connection: the row is never read back in the request.
    username = identifier if len(identifier) <= 64 else identifier[:64]
    uow.session.connection().execute(_INSERT_LOG, {
        "at": uow.now,
        "action": action[:100],
        "identifier": username,
        "ip": ip,
        "result": str(result.get("result", "")),
        "message": str(result.get("message", ""))[:1000],
        "http_status": status,
        "duration_ms": int((time.perf_counter() - started) * 1000),
    })
