"""Admins, API credentials, API roles, the IP allow-list and brute-force protection.

Follows WHMCS 7.2+: a credential (identifier + secret) belongs to an admin and carries API
roles that whitelist actions. The secret is stored only as a keyed digest; admin
passwords as argon2 over their md5 so the legacy ``username`` + ``md5(password)`` API
login checks the same hash as the web login.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from billow import security
from billow.config import get_settings
from billow.db.models import (
    Admin,
    AdminRole,
    AllowedIP,
    ApiCredential,
    ApiRole,
    ApiRoleAction,
    LoginFailure,
    credential_roles,
)
from billow.errors import AuthError, Conflict, NotFound, ValidationError
from billow.uow import UnitOfWork

AUTH_FAILED = "Authentication Failed"
DEFAULT_ADMIN_ROLE = "Full Administrator"
#: API role created for the first credential of an installation: every action.
FULL_ACCESS_ROLE = "Full Access"


@dataclass(frozen=True)
class NewCredential:
    identifier: str
    secret: str
    credential: ApiCredential


# --- admins ---------------------------------------------------------------------------

def ensure_admin_role(uow: UnitOfWork, name: str = DEFAULT_ADMIN_ROLE) -> AdminRole:
    role = uow.session.scalar(select(AdminRole).where(AdminRole.name == name))
    if role is None:
        role = AdminRole(name=name, api_access=True)
        uow.session.add(role)
        uow.session.flush()
    return role


def create_admin(
    uow: UnitOfWork,
    username: str,
    password: str,
    *,
    email: str = "",
    role: str = DEFAULT_ADMIN_ROLE,
    firstname: str = "",
    lastname: str = "",
) -> Admin:
    username = username.strip()
    if not username:
        raise ValidationError("Username is required")
    if len(password) < 8:
        raise ValidationError("Password must be at least 8 characters")
    if uow.session.scalar(select(Admin).where(Admin.username == username)):
        raise Conflict(f"An admin named {username} already exists")
    admin = Admin(
        username=username,
        email=email,
        firstname=firstname,
        lastname=lastname,
        password_hash=security.hash_admin_password(password),
        role=ensure_admin_role(uow, role),
    )
    uow.session.add(admin)
    uow.session.flush()
    return admin


def get_admin(uow: UnitOfWork, username: str) -> Admin:
    admin = uow.session.scalar(select(Admin).where(Admin.username == username))
    if admin is None:
        raise NotFound(f"No admin named {username}")
    return admin


def set_admin_disabled(uow: UnitOfWork, username: str, disabled: bool) -> Admin:
    admin = get_admin(uow, username)
    admin.disabled = disabled
    return admin


# --- API roles --------------------------------------------------------------------------

def create_role(uow: UnitOfWork, name: str, actions: list[str], description: str = "") -> ApiRole:
    if uow.session.scalar(select(ApiRole).where(ApiRole.name == name)):
        raise Conflict(f"An API role named {name} already exists")
    if not actions:
        raise ValidationError("A role must allow at least one action")
    role = ApiRole(name=name, description=description)
    role.actions = [ApiRoleAction(action=a.strip().lower()) for a in dict.fromkeys(actions)]
    uow.session.add(role)
    uow.session.flush()
    return role


def ensure_full_access_role(uow: UnitOfWork) -> ApiRole:
    role = uow.session.scalar(select(ApiRole).where(ApiRole.name == FULL_ACCESS_ROLE))
    if role is None:
        role = create_role(uow, FULL_ACCESS_ROLE, ["*"], "Every API action")
    return role


def list_roles(uow: UnitOfWork) -> list[ApiRole]:
    return list(uow.session.scalars(select(ApiRole).order_by(ApiRole.name)))


# --- credentials ------------------------------------------------------------------------

def create_credential(
    uow: UnitOfWork,
    admin_username: str,
    *,
    roles: list[str] | None = None,
    allow_ips: list[str] | None = None,
    description: str = "",
) -> NewCredential:
    """Create an API credential; the secret is returned once and never stored."""
    admin = get_admin(uow, admin_username)
    role_rows: list[ApiRole] = []
    for name in roles or [FULL_ACCESS_ROLE]:
        if name == FULL_ACCESS_ROLE:
            role_rows.append(ensure_full_access_role(uow))
            continue
        role = uow.session.scalar(select(ApiRole).where(ApiRole.name == name))
        if role is None:
            raise NotFound(f"No API role named {name}")
        role_rows.append(role)
    identifier, secret = security.new_identifier(), security.new_token(32)
    credential = ApiCredential(
        admin=admin,
        identifier=identifier,
        secret_digest=security.keyed_digest(secret),
        description=description,
        roles=role_rows,
    )
    uow.session.add(credential)
    uow.session.flush()
    for network in allow_ips or []:
        add_allowed_ip(uow, network, note=f"credential {identifier}", credential=credential)
    return NewCredential(identifier, secret, credential)


def list_credentials(uow: UnitOfWork) -> list[ApiCredential]:
    return list(uow.session.scalars(select(ApiCredential).order_by(ApiCredential.id)))


def revoke_credential(uow: UnitOfWork, identifier: str) -> ApiCredential:
    credential = uow.session.scalar(
        select(ApiCredential).where(ApiCredential.identifier == identifier)
    )
    if credential is None:
        raise NotFound(f"No credential {identifier}")
    credential.revoked_at = uow.now
    return credential


# --- IP allow-list ----------------------------------------------------------------------

def normalise_network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ValidationError(f"Not an IP address or CIDR range: {text}") from None


def add_allowed_ip(
    uow: UnitOfWork, network: str, *, note: str = "", credential: ApiCredential | None = None
) -> AllowedIP:
    normalised = normalise_network(network)
    cred_id = credential.id if credential else None
    same_owner = (
        AllowedIP.credential_id.is_(None) if cred_id is None else AllowedIP.credential_id == cred_id
    )
    existing = uow.session.scalar(
        select(AllowedIP).where(AllowedIP.network == normalised, same_owner)
    )
    if existing:
        existing.note = note or existing.note
        return existing
    entry = AllowedIP(network=normalised, note=note, credential_id=cred_id)
    uow.session.add(entry)
    uow.session.flush()
    return entry


def remove_allowed_ip(uow: UnitOfWork, network: str) -> int:
    normalised = normalise_network(network)
    result = uow.session.execute(delete(AllowedIP).where(AllowedIP.network == normalised))
    return result.rowcount or 0


def list_allowed_ips(uow: UnitOfWork) -> list[AllowedIP]:
    return list(uow.session.scalars(select(AllowedIP).order_by(AllowedIP.id)))


def ip_in(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for network in networks:
        net = ipaddress.ip_network(network, strict=False)
        if address.version == net.version and address in net:
            return True
    return False


# --- authentication ---------------------------------------------------------------------

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
        raise AuthError(f"Invalid IP {ip}")


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
        raise AuthError(AUTH_FAILED)
    if credential is _LOOK_UP:
        credential = find_credential(uow, username)
    if credential is not None:
        if credential.revoked_at is not None or not security.digest_matches(
            credential.secret_digest, secret
        ):
            raise AuthError(AUTH_FAILED)
        admin = credential.admin
        if admin.disabled or not admin.role.api_access:
            raise AuthError(AUTH_FAILED)
        return admin, credential
    admin = uow.session.scalar(select(Admin).where(Admin.username == username))
    if (
        admin is None
        or admin.disabled
        or not admin.role.api_access
        or not security.verify_admin_md5(admin.password_hash, secret)
    ):
        raise AuthError(AUTH_FAILED)
    return admin, None


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
