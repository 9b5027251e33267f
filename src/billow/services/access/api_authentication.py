"""Authenticating one API call: brute-force lock-out, the IP check, the credential (or
legacy admin md5) check and the role check, each answered with WHMCS's message.

The statements of these checks are built once (building and caching a statement costs
more than SQLite takes to run them) and run on the session's connection.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select

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
from billow.errors import AuthError, ValidationError
from billow.services.access.ip_allow_list import ip_in
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

AUTH_FAILED = "Authentication Failed"

# Statements of the checks every API call makes, built once (building and caching a
# statement costs more than SQLite takes to run these) and run on the session's
# connection, since none of them loads entities into the session.
_FAILURES_SINCE = select(
    func.count(),
    func.coalesce(func.sum(case((LoginFailure.username == bindparam("username"), 1), else_=0)), 0),
).select_from(LoginFailure).where(LoginFailure.ip == bindparam("ip"), LoginFailure.at >= bindparam("since"))

_LAST_FAILURE = select(func.max(LoginFailure.at)).where(LoginFailure.ip == bindparam("ip"))

_LAST_FAILURE_OF = select(func.max(LoginFailure.at)).where(
    LoginFailure.ip == bindparam("ip"), LoginFailure.username == bindparam("username"))

_CREDENTIAL = select(ApiCredential).where(ApiCredential.identifier == bindparam("identifier"))

_ALLOWED_NETWORKS = select(AllowedIP.network, AllowedIP.credential_id)

_ROLE_ALLOWS = (
    select(ApiRoleAction.action)
    .join(credential_roles, credential_roles.c.role_id == ApiRoleAction.role_id)
    .where(credential_roles.c.credential_id == bindparam("credential_id"),
           ApiRoleAction.action.in_(bindparam("actions", expanding=True)))
    .limit(1)
)


@dataclass(frozen=True)
class Lockout:
    """The brute-force state of one caller: whether it is refused ("IP Banned") and how
    many recent failures its username has from its address (cleared on success)."""

    banned: bool
    failures: int


def lockout(uow: UnitOfWork, ip: str, username: str = "") -> Lockout:
    """Failures are counted per username (or credential identifier) from an address and
    per address over every username: ``login_max_failures`` of one username lock that
    username out from that address, ``login_max_failures_per_ip`` of any lock the address
    out. Only authentication failures count (see :func:`record_failure`); addresses in
    WHMCS's ``WhitelistedIPs`` setting are never locked out.
    """
    settings = get_settings()
    now = uow.now
    since = now - timedelta(seconds=settings.login_failure_window_seconds)
    connection = uow.session.connection()
    username = username[:255]
    row = connection.execute(_FAILURES_SINCE, {"ip": ip, "since": since, "username": username}).one()
    total, mine = int(row[0] or 0), int(row[1] or 0)
    banned = False
    cool_down = now - timedelta(seconds=settings.login_lockout_seconds)
    if total >= settings.login_max_failures_per_ip:
        last = connection.execute(_LAST_FAILURE, {"ip": ip}).scalar()
        banned = last is not None and last >= cool_down
    if not banned and username and mine >= settings.login_max_failures:
        last = connection.execute(_LAST_FAILURE_OF, {"ip": ip, "username": username}).scalar()
        banned = last is not None and last >= cool_down
    if banned and is_whitelisted(uow, ip):
        banned = False
    return Lockout(banned, mine)


def is_locked_out(uow: UnitOfWork, ip: str, username: str = "") -> bool:
    return lockout(uow, ip, username).banned


def record_failure(uow: UnitOfWork, ip: str, username: str, secret: str = "") -> None:
    """Count a failed authentication: a username *and* a secret that did not match. A
    request missing either (no body, no Content-Type, no Authorization header) is
    malformed, not a guess, and does not count; nor does a whitelisted address."""
    if not username or not secret or is_whitelisted(uow, ip):
        return
    uow.session.add(LoginFailure(ip=ip, username=username[:255], at=uow.now))


def clear_failures(uow: UnitOfWork, ip: str, username: str | None = None) -> int:
    """Forget *ip*'s failures (only *username*'s when given); returns how many."""
    query = delete(LoginFailure).where(LoginFailure.ip == ip)
    if username is not None:
        query = query.where(LoginFailure.username == username[:255])
    return uow.session.execute(query).rowcount or 0


def unban_ip(uow: UnitOfWork, ip: str) -> int:
    """Lift a lock-out of *ip* at once (``billow ip unban``); returns the failures forgotten."""
    try:
        address = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise ValidationError(f"Not an IP address: {ip}", code="invalid_ip_address") from None
    return clear_failures(uow, address)


def whitelisted_ips(value: str) -> list[str]:
    """The networks of WHMCS's ``WhitelistedIPs`` setting: a PHP-serialised array of
    ``{"ip": ..., "note": ...}`` (what WHMCS's admin area writes), or one address or
    CIDR range a line (or comma-separated). Entries that are not addresses are skipped."""
    value = (value or "").strip()
    if value.startswith("a:"):
        entries = [m.group(2) for m in _PHP_IP.finditer(value)]
    else:
        entries = [e.strip() for e in re.split(r"[\s,]+", value)]
    networks: list[str] = []
    for entry in entries:
        try:
            networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            continue
    return networks


#: ``s:2:"ip";s:9:"127.0.0.1"`` inside a PHP-serialised array.
_PHP_IP = re.compile(r's:2:"ip";s:(\d+):"([^"]*)"')


def is_whitelisted(uow: UnitOfWork, ip: str) -> bool:
    networks = whitelisted_ips(get_setting(uow, "WhitelistedIPs"))
    return bool(networks) and ip_in(ip, networks)


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
