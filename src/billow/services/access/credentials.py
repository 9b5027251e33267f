"""API credentials: an identifier and a secret belonging to an admin, carrying API roles
(WHMCS 7.2+). The secret is stored only as a keyed digest and shown once, when created.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from billow import security
from billow.db.models import (
    ApiCredential,
    ApiRole,
)
from billow.errors import NotFound
from billow.services.access.admins import get_admin
from billow.services.access.api_roles import FULL_ACCESS_ROLE, ensure_full_access_role
from billow.services.access.ip_allow_list import add_allowed_ip
from billow.uow import UnitOfWork


@dataclass(frozen=True)
class NewCredential:
    identifier: str
    secret: str
    credential: ApiCredential


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
            raise NotFound(f"No API role named {name}", code="api_role_not_found")
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
        raise NotFound(f"No credential {identifier}", code="credential_not_found")
    credential.revoked_at = uow.now
    return credential
