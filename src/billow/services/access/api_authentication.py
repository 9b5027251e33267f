"""Authenticating one API call: brute-force lock-out, the IP check, the credential (or
legacy admin md5) check and the role check, each answered with WHMCS's message.

The statements of these checks are built once (building and caching a statement costs
more than SQLite takes to run them) and run on the session's connection.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from billow import security
from billow.config import get_settings
from billow.db.models import (
    Admin,
    AllowedIP,
    ApiCredential,
    ApiRoleAction,
    LoginFailure,
    credential_roles,
)
from billow.errors import AuthError
from billow.services.access.ip_allow_list import ip_in
from billow.uow import UnitOfWork

AUTH_FAILED = "Authentication Failed"

# Statements of the checks every API call makes, built once (building and caching a
# statement costs more than SQLite takes to run these) and run on the session's
# connection, since none of them loads entities into the session.
_FAILURES_SINCE = select(func.count()).select_from(LoginFailure).where(
    LoginFailure.ip == bindparam("ip"), LoginFailure.at >= bindparam("since"))


_LAST_FAILURE = select(func.max(LoginFailure.at)).where(LoginFailure.ip == bindparam("ip"))

_CREDENTIAL = select(ApiCredential).where(ApiCredential.identifier == bindparam("identifier"))

_ALLOWED_NETWORKS = select(AllowedIP.network, AllowedIP.credential_id)

_ROLE_ALLOWS = (
    select(ApiRoleAction.action)
    .join(credential_roles, credential_roles.c.role_id == ApiRoleAction.role_id)
    .where(credential_roles.c.credential_id == bindparam("credential_id"),
           ApiRoleAction.action.in_(bindparam("actions", expanding=True)))
    .limit(1)
)


def is_locked_out(uow: UnitOfWork, ip: str) -> bool:
    settings = get_settings()
    since = uow.now - timedelta(seconds=settings.login_failure_window_seconds)
    connection = uow.session.connection()
    count = connection.execute(_FAILURES_SINCE, {"ip": ip, "since": since}).scalar()
    if not count or count < settings.login_max_failures:
        return False
    last = connection.execute(_LAST_FAILURE, {"ip": ip}).scalar()
    return last is not None and last >= uow.now - timedelta(seconds=settings.login_lockout_seconds)


def record_failure(uow: UnitOfWork, ip: str, username: str) -> None:
    uow.session.add(LoginFailure(ip=ip, username=username[:255], at=uow.now))


def clear_failures(uow: UnitOfWork, ip: str) -> None:
    uow.session.execute(delete(LoginFailure).where(LoginFailure.ip == ip))


def find_credential(uow: UnitOfWork, identifier: str) -> ApiCredential | None:
    if not identifier:
        return None
    return uow.session.execute(_CREDENTIAL, {"identifier": identifier}).scalar()


def check_ip(
    uow: UnitOfWork, ip: str, credential: ApiCredential | None, accesskey: str
) -> None:
    """Refuse *ip* unless it is allowed, or the request carries the configured access key."""
    settings = get_settings()
    if not settings.api_ip_restriction:
        return
    if settings.api_access_key and accesskey and hmac.compare_digest(
        accesskey, settings.api_access_key
    ):
        return
    rows = uow.session.connection().execute(_ALLOWED_NETWORKS).all()
    networks = [
        net for net, cred_id in rows
        if cred_id is None or (credential is not None and cred_id == credential.id)
    ]
    if not ip_in(ip, networks):
        raise AuthError(f"Invalid IP {ip}", code="ip_not_allowed")


_LOOK_UP: Any = object()

def authenticate(
    uow: UnitOfWork, username: str, secret: str, *, credential: ApiCredential | None = _LOOK_UP
) -> tuple[Admin, ApiCredential | None]:
    """Check an API credential (identifier/secret) or a legacy admin login (md5 password).

    Pass *credential* when the caller already looked *username* up (the dispatcher does,
    for the IP check), to save a query. Raises :class:`AuthError` with WHMCS's message on
    every failure.
    """
    if not username or not secret:
        raise AuthError(AUTH_FAILED, code="authentication_failed")
    if credential is _LOOK_UP:
        credential = find_credential(uow, username)
    if credential is not None:
        if credential.revoked_at is not None or not security.digest_matches(
            credential.secret_digest, secret
        ):
            raise AuthError(AUTH_FAILED, code="authentication_failed")
        admin = credential.admin
        if admin.disabled or not admin.role.api_access:
            raise AuthError(AUTH_FAILED, code="authentication_failed")
        return admin, credential
    admin = uow.session.scalar(select(Admin).where(Admin.username == username))
    # The hash is always checked first (against a dummy one for an unknown username), so
    # the time taken tells no one which admin usernames exist or are disabled.
    matched = _verify_outside_lock(uow, admin.password_hash if admin else "", secret)
    if admin is None or not matched or admin.disabled or not admin.role.api_access:
        raise AuthError(AUTH_FAILED, code="authentication_failed")
    return admin, None


def _verify_outside_lock(uow: UnitOfWork, hashed: str, md5_of_password: str) -> bool:
    """The argon2 check (~100 ms of CPU), without the API's writer lock when the unit holds
    one: nothing is written before authentication, so other calls go on meanwhile."""
    if uow.lock is None or uow.session.new or uow.session.dirty or uow.session.deleted:
        return security.verify_admin_md5(hashed, md5_of_password)
    with uow.outside_transaction():
        return security.verify_admin_md5(hashed, md5_of_password)


def needs_password_hash(credential: ApiCredential | None, username: str, secret: str) -> bool:
    """Whether :func:`authenticate` will run an argon2 check (~100 ms of CPU) for this
    caller: a legacy admin login or an unknown identifier. API credentials are checked by
    a keyed digest, which is cheap. Callers on an event loop hand such a call to a thread.
    """
    return credential is None and bool(username) and bool(secret)


def allows(credential: ApiCredential | None, action: str, uow: UnitOfWork | None = None) -> bool:
    """Whether *credential*'s roles whitelist *action*; legacy admin logins have every action.

    With *uow*, the check is one indexed query instead of loading the roles and their
    actions as objects (the dispatcher asks on every request).
    """
    if credential is None:
        return True
    wanted = action.lower()
    if uow is None:
        return any(a.action in ("*", wanted) for role in credential.roles for a in role.actions)
    found = uow.session.connection().execute(
        _ROLE_ALLOWS, {"credential_id": credential.id, "actions": ["*", wanted]}
    ).scalar()
    return found is not None


#: How stale ``last_used_at`` may get: one write a minute per credential, not one a call.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def mark_used(uow: UnitOfWork, credential: ApiCredential) -> None:
    """Record that *credential* was used, to the minute."""
    last = credential.last_used_at
    if last is None or uow.now - last >= LAST_USED_RESOLUTION:
        credential.last_used_at = uow.now
