"""Orders, the services and addons they create, upgrades, cancellation requests, and the
provisioning records (module queue, module log, module settings).

Mirrors WHMCS ``tblorders``, ``tblhosting``, ``tblhostingaddons``,
``tblhostingconfigoptions``, ``tblupgrades``, ``tblcancelrequests``, ``tblmodulequeue``
and ``tblmodulelog``. Invoice ids are plain integers: invoices belong to the billing area.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base, Timestamps
from billow.db.types import Money, UTCDateTime

ZERO = Decimal("0")


class Order(Timestamps, Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    ordernum: Mapped[int] = mapped_column(BigInteger, unique=True)
    userid: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    contactid: Mapped[int] = mapped_column(Integer, default=0)
    requestor_id: Mapped[int] = mapped_column(Integer, default=0)
    admin_requestor_id: Mapped[int] = mapped_column(Integer, default=0)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    nameservers: Mapped[str] = mapped_column(Text, default="")
    transfersecret: Mapped[str] = mapped_column(Text, default="")
    renewals: Mapped[str] = mapped_column(Text, default="")
    promocode: Mapped[str] = mapped_column(String(100), default="")
    promotype: Mapped[str] = mapped_column(String(20), default="")
    promovalue: Mapped[str] = mapped_column(String(20), default="")
    orderdata: Mapped[dict] = mapped_column(JSON, default=dict)
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    paymentmethod: Mapped[str] = mapped_column(String(50), default="")
    invoiceid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: Pending | Active | Fraud | Cancelled
    status: Mapped[str] = mapped_column(String(20), default="Pending", index=True)
    ipaddress: Mapped[str] = mapped_column(String(64), default="")
    fraudmodule: Mapped[str] = mapped_column(String(50), default="")
    fraudoutput: Mapped[str] = mapped_column(Text, default="")
    frauddata: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class Service(Timestamps, Base):
    """A client's product instance (WHMCS ``tblhosting``)."""

    __tablename__ = "services"
    #: The daily run reads a page of clients' billable services through this index.
    __table_args__ = (Index("ix_services_status_userid", "status", "userid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    userid: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    orderid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    packageid: Mapped[int] = mapped_column(Integer, index=True)
    server_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    regdate: Mapped[date] = mapped_column(Date, default=clock.today)
    domain: Mapped[str] = mapped_column(String(255), default="", index=True)
    paymentmethod: Mapped[str] = mapped_column(String(50), default="")
    qty: Mapped[int] = mapped_column(Integer, default=1)
    firstpaymentamount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    #: display form: Free Account, One Time, Monthly ... Triennially
    billingcycle: Mapped[str] = mapped_column(String(20), default="Monthly")
    nextduedate: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    nextinvoicedate: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    termination_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    completed_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: Pending | Active | Suspended | Terminated | Cancelled | Fraud | Completed
    status: Mapped[str] = mapped_column(String(20), default="Pending", index=True)
    username: Mapped[str] = mapped_column(String(255), default="", index=True)
    password_enc: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    subscriptionid: Mapped[str] = mapped_column(String(255), default="")
    promoid: Mapped[int] = mapped_column(Integer, default=0)
    #: how many recurring invoices the promotion has discounted so far
    promo_uses: Mapped[int] = mapped_column(Integer, default=0)
    suspendreason: Mapped[str] = mapped_column(Text, default="")
    overideautosuspend: Mapped[bool] = mapped_column(Boolean, default=False)
    overidesuspenduntil: Mapped[date | None] = mapped_column(Date, nullable=True)
    dedicatedip: Mapped[str] = mapped_column(String(64), default="")
    assignedips: Mapped[str] = mapped_column(Text, default="")
    ns1: Mapped[str] = mapped_column(String(255), default="")
    ns2: Mapped[str] = mapped_column(String(255), default="")
    diskusage: Mapped[int] = mapped_column(Integer, default=0)
    disklimit: Mapped[int] = mapped_column(Integer, default=0)
    bwusage: Mapped[int] = mapped_column(Integer, default=0)
    bwlimit: Mapped[int] = mapped_column(Integer, default=0)
    lastupdate: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: day of the month due dates fall on (0: the registration day; pro-rata products set it)
    anchor_day: Mapped[int] = mapped_column(Integer, default=0)
    #: what the provisioning module keeps about the remote account (instance id ...)
    module_data: Mapped[dict] = mapped_column(JSON, default=dict)


class ServiceConfigOption(Base):
    """The chosen value of a configurable option on a service."""

    __tablename__ = "service_config_options"
    __table_args__ = (UniqueConstraint("service_id", "option_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    option_id: Mapped[int] = mapped_column(Integer)
    choice_id: Mapped[int] = mapped_column(Integer, default=0)
    qty: Mapped[int] = mapped_column(Integer, default=0)


class ServiceAddon(Timestamps, Base):
    """An addon on a client's service (WHMCS ``tblhostingaddons``)."""

    __tablename__ = "service_addons"
    __table_args__ = (Index("ix_service_addons_status_userid", "status", "userid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    orderid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    service_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    addonid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    userid: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    qty: Mapped[int] = mapped_column(Integer, default=1)
    setupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    recurring: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    billingcycle: Mapped[str] = mapped_column(String(20), default="Monthly")
    tax: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="Pending", index=True)
    regdate: Mapped[date] = mapped_column(Date, default=clock.today)
    nextduedate: Mapped[date | None] = mapped_column(Date, nullable=True)
    nextinvoicedate: Mapped[date | None] = mapped_column(Date, nullable=True)
    termination_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    paymentmethod: Mapped[str] = mapped_column(String(50), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: the server the addon's own module runs on (WHMCS ``tblhostingaddons.server``)
    server_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: what the addon's module keeps about the remote object (instance id ...)
    module_data: Mapped[dict] = mapped_column(JSON, default=dict)


class Upgrade(Base):
    """A product or configurable-option upgrade (WHMCS ``tblupgrades``)."""

    __tablename__ = "upgrades"
    id: Mapped[int] = mapped_column(primary_key=True)
    orderid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    service_id: Mapped[int] = mapped_column(Integer, index=True)
    userid: Mapped[int] = mapped_column(Integer, default=0)
    #: package | configoptions
    type: Mapped[str] = mapped_column(String(20))
    date: Mapped[date] = mapped_column(Date, default=clock.today)
    #: what the service had and gets: {"pid": .., "billingcycle": .., "configoptions": {..}}
    original: Mapped[dict] = mapped_column(JSON, default=dict)
    new: Mapped[dict] = mapped_column(JSON, default=dict)
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    new_recurring: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    days_remaining: Mapped[int] = mapped_column(Integer, default=0)
    total_days: Mapped[int] = mapped_column(Integer, default=0)
    invoiceid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: Pending (awaiting payment) | Completed
    status: Mapped[str] = mapped_column(String(20), default="Pending")


class CancelRequest(Timestamps, Base):
    __tablename__ = "cancel_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    service_id: Mapped[int] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: Immediate | End of Billing Period
    type: Mapped[str] = mapped_column(String(30), default="End of Billing Period")


class ModuleQueueEntry(Timestamps, Base):
    """A failed module action waiting to be retried (WHMCS ``tblmodulequeue``)."""

    __tablename__ = "module_queue"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: service | addon | domain
    service_type: Mapped[str] = mapped_column(String(20), default="service")
    service_id: Mapped[int] = mapped_column(Integer, index=True)
    module_name: Mapped[str] = mapped_column(String(50), default="")
    #: WHMCS function name: CreateAccount, SuspendAccount, ...
    module_action: Mapped[str] = mapped_column(String(50))
    #: arguments the action needs again on retry (suspend reason, new password is not kept)
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    last_attempt: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_attempt_error: Mapped[str] = mapped_column(Text, default="")
    num_retries: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class ModuleLog(Base):
    """One request/response exchanged with a module's remote API, secrets masked."""

    __tablename__ = "module_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    module: Mapped[str] = mapped_column(String(50), index=True)
    action: Mapped[str] = mapped_column(String(100))
    service_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: the client addon the call was made for (0: the service itself)
    addon_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    request: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


class ModuleSetting(Base):
    """Activation and settings of a non-server module (fraud checks ...) by name."""

    __tablename__ = "module_settings"
    __table_args__ = (UniqueConstraint("module_type", "module_name", "setting"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    module_type: Mapped[str] = mapped_column(String(20))
    module_name: Mapped[str] = mapped_column(String(50))
    setting: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text, default="")
