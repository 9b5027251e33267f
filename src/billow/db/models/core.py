"""System tables: settings, currencies, admins and API access."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billow import clock
from billow.db.base import Base, Timestamps
from billow.db.types import Money, UTCDateTime


class Setting(Base):
    """WHMCS ``tblconfiguration``: business settings by WHMCS key (``AutoSuspension`` ...)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Currency(Base):
    __tablename__ = "currencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    prefix: Mapped[str] = mapped_column(String(10), default="")
    suffix: Mapped[str] = mapped_column(String(10), default="")
    #: WHMCS format 1: 1234.56, 2: 1,234.56, 3: 1.234,56, 4: 1,234
    format: Mapped[int] = mapped_column(Integer, default=1)
    rate: Mapped[Decimal] = mapped_column(Money(5), default=Decimal("1"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Decimal places amounts in this currency are rounded to.
    decimals: Mapped[int] = mapped_column(Integer, default=2)


class AdminRole(Base):
    __tablename__ = "admin_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: WHMCS's "API Access" permission: admins of a role without it cannot use the API.
    api_access: Mapped[bool] = mapped_column(Boolean, default=True)


class Admin(Timestamps, Base):
    __tablename__ = "admins"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(255), default="")
    firstname: Mapped[str] = mapped_column(String(100), default="")
    lastname: Mapped[str] = mapped_column(String(100), default="")
    #: argon2 over the md5 hex of the password: the web login hashes md5(pw) first, and
    #: the legacy API sends md5(pw), so both check this one hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(ForeignKey("admin_roles.id"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[AdminRole] = relationship(lazy="joined")


credential_roles = Table(
    "api_credential_roles",
    Base.metadata,
    Column("credential_id", ForeignKey("api_credentials.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("api_roles.id", ondelete="CASCADE"), primary_key=True),
)


class ApiRole(Base):
    """WHMCS API role: a whitelist of actions a credential may call."""

    __tablename__ = "api_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[list[ApiRoleAction]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class ApiRoleAction(Base):
    __tablename__ = "api_role_actions"
    role_id: Mapped[int] = mapped_column(
        ForeignKey("api_roles.id", ondelete="CASCADE"), primary_key=True
    )
    #: lower-cased action name, or ``*`` for every action.
    action: Mapped[str] = mapped_column(String(100), primary_key=True)


class ApiCredential(Timestamps, Base):
    __tablename__ = "api_credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    #: HMAC-SHA256 of the secret under the server key; the secret itself is never stored.
    secret_digest: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    admin: Mapped[Admin] = relationship(lazy="joined")
    # Loaded on demand: the per-request permission check is one query (access.allows).
    roles: Mapped[list[ApiRole]] = relationship(secondary=credential_roles)


class AllowedIP(Base):
    """API IP allow-list entry: one address or a CIDR range, IPv4 or IPv6.

    ``credential_id`` empty means the entry admits every credential (WHMCS's global list).
    """

    __tablename__ = "api_allowed_ips"
    __table_args__ = (UniqueConstraint("network", "credential_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_credentials.id", ondelete="CASCADE"), nullable=True
    )


class LoginFailure(Base):
    """A failed authentication, kept for the brute-force cool-down."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    username: Mapped[str] = mapped_column(String(255), default="")
