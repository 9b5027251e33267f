"""Clients (billing accounts), their contacts, users (logins) and custom fields.

As in WHMCS 8, a *user* is a login and a *client* is a billing account; a user can reach
several clients and a client can have several users, one of them the owner.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billow import clock
from billow.db.base import Base, Timestamps
from billow.db.types import Money, UTCDateTime

DEFAULT_EMAIL_PREFERENCES = {
    "general": True,
    "invoice": True,
    "support": True,
    "product": True,
    "domain": True,
    "affiliate": True,
}


class ClientGroup(Base):
    __tablename__ = "client_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    groupname: Mapped[str] = mapped_column(String(100), unique=True)
    groupcolour: Mapped[str] = mapped_column(String(20), default="")
    discountpercent: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    susptermexempt: Mapped[bool] = mapped_column(Boolean, default=False)
    separateinvoices: Mapped[bool] = mapped_column(Boolean, default=False)


class Client(Timestamps, Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuidlib.uuid4()))
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    firstname: Mapped[str] = mapped_column(String(100), default="")
    lastname: Mapped[str] = mapped_column(String(100), default="")
    companyname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(255))
    address1: Mapped[str] = mapped_column(String(255), default="")
    address2: Mapped[str] = mapped_column(String(255), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    #: E.164 form (``+441234567890``) when it could be parsed, else as entered.
    phonenumber: Mapped[str] = mapped_column(String(40), default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    group_id: Mapped[int] = mapped_column(Integer, default=0)
    defaultgateway: Mapped[str] = mapped_column(String(50), default="")
    credit: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    taxexempt: Mapped[bool] = mapped_column(Boolean, default=False)
    latefeeoveride: Mapped[bool] = mapped_column(Boolean, default=False)
    overideduenotices: Mapped[bool] = mapped_column(Boolean, default=False)
    separateinvoices: Mapped[bool] = mapped_column(Boolean, default=False)
    disableautocc: Mapped[bool] = mapped_column(Boolean, default=False)
    emailoptout: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_emails_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    overrideautoclose: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_sso: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email_preferences: Mapped[dict] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_EMAIL_PREFERENCES)
    )
    datecreated: Mapped[date] = mapped_column(Date, default=clock.today)
    notes: Mapped[str] = mapped_column(Text, default="")
    billingcid: Mapped[int] = mapped_column(Integer, default=0)
    securityqid: Mapped[int] = mapped_column(Integer, default=0)
    securityqans: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20), default="Active")
    language: Mapped[str] = mapped_column(String(50), default="")
    lastlogin: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    host: Mapped[str] = mapped_column(String(255), default="")

    currency = relationship("Currency", lazy="joined")

    @property
    def fullname(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


class Contact(Timestamps, Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    firstname: Mapped[str] = mapped_column(String(100), default="")
    lastname: Mapped[str] = mapped_column(String(100), default="")
    companyname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    address1: Mapped[str] = mapped_column(String(255), default="")
    address2: Mapped[str] = mapped_column(String(255), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    phonenumber: Mapped[str] = mapped_column(String(40), default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    email_preferences: Mapped[dict] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_EMAIL_PREFERENCES)
    )


class User(Timestamps, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    firstname: Mapped[str] = mapped_column(String(100), default="")
    lastname: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(255), unique=True)
    #: argon2 hash; empty for a user who has not set a password yet.
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str] = mapped_column(String(50), default="")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ip: Mapped[str] = mapped_column(String(64), default="")
    reset_token_digest: Mapped[str] = mapped_column(String(64), default="")
    reset_token_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# E-mail addresses are compared case-insensitively (``lower(email) = ?``): index that.
Index("ix_clients_email_lower", func.lower(Client.email))
# Redundant with the primary key for lookups, but a narrow index SQLite can count and step
# through (COUNT(*), OFFSET) far faster than the table itself: GetClients pages on it.
Index("ix_clients_id", Client.id)
Index("ix_users_email_lower", func.lower(User.email))


class UserClient(Base):
    __tablename__ = "user_clients"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[bool] = mapped_column(Boolean, default=False)
    #: comma-separated WHMCS permission names (``profile,contacts,products,...``)
    permissions: Mapped[str] = mapped_column(Text, default="")


class CustomField(Base):
    """A custom field definition (WHMCS ``tblcustomfields``)."""

    __tablename__ = "custom_fields"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: "client", "product", "support", ...
    type: Mapped[str] = mapped_column(String(20), index=True)
    #: product/department id for non-client fields; 0 for client fields.
    relid: Mapped[int] = mapped_column(Integer, default=0)
    fieldname: Mapped[str] = mapped_column(String(255))
    #: text, link, password, dropdown, tickbox, textarea
    fieldtype: Mapped[str] = mapped_column(String(20), default="text")
    description: Mapped[str] = mapped_column(Text, default="")
    fieldoptions: Mapped[str] = mapped_column(Text, default="")
    regexpr: Mapped[str] = mapped_column(Text, default="")
    adminonly: Mapped[bool] = mapped_column(Boolean, default=False)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    showorder: Mapped[bool] = mapped_column(Boolean, default=False)
    showinvoice: Mapped[bool] = mapped_column(Boolean, default=False)
    sortorder: Mapped[int] = mapped_column(Integer, default=0)


class CustomFieldValue(Base):
    __tablename__ = "custom_field_values"
    __table_args__ = (UniqueConstraint("field_id", "relid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"))
    #: the client / service / ticket id the value belongs to
    relid: Mapped[int] = mapped_column(Integer, index=True)
    value: Mapped[str] = mapped_column(Text, default="")
    field: Mapped[CustomField] = relationship(lazy="joined")


class ClientNote(Timestamps, Base):
    __tablename__ = "client_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)
