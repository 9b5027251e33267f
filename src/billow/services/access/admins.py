"""Administrators and their admin roles: creating, finding, enabling and disabling them.

Admin passwords are stored as argon2 over their md5, so the legacy ``username`` +
``md5(password)`` API login checks the same hash as the web login.
"""

from __future__ import annotations

from sqlalchemy import select

from billow import security
from billow.db.models import (
    Admin,
    AdminRole,
)
from billow.errors import Conflict, NotFound, ValidationError
from billow.uow import UnitOfWork

DEFAULT_ADMIN_ROLE = "Full Administrator"

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
        raise ValidationError("Username is required", code="username_required")
    if len(password) < 8:
        raise ValidationError("Password must be at least 8 characters", code="password_too_short")
    if uow.session.scalar(select(Admin).where(Admin.username == username)):
        raise Conflict(f"An admin named {username} already exists", code="admin_exists")
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
        raise NotFound(f"No admin named {username}", code="admin_not_found")
    return admin


def set_admin_disabled(uow: UnitOfWork, username: str, disabled: bool) -> Admin:
    admin = get_admin(uow, username)
    admin.disabled = disabled
    return admin
