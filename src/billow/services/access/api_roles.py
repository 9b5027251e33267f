"""API roles: named whitelists of the API actions a credential may call (WHMCS 7.2+)."""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import (
    ApiRole,
    ApiRoleAction,
)
from billow.errors import Conflict, ValidationError
from billow.uow import UnitOfWork

#: API role created for the first credential of an installation: every action.
FULL_ACCESS_ROLE = "Full Access"


def create_role(uow: UnitOfWork, name: str, actions: list[str], description: str = "") -> ApiRole:
    if uow.session.scalar(select(ApiRole).where(ApiRole.name == name)):
        raise Conflict(f"An API role named {name} already exists", code="api_role_exists")
    if not actions:
        raise ValidationError("A role must allow at least one action", code="role_without_actions")
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
