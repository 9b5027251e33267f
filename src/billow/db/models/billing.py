"""Invoices, their items, transactions (payments and refunds), credit, billable items, taxes.

Every figure here is re-derivable from ledger rows: an invoice's balance is its total
minus the money its transactions brought in plus what they paid back out, and a client's
credit is the sum of its credit-log rows. :mod:`billow.services.billing.invoices` keeps the
stored totals in step with the items, in one function.

Tables mirror WHMCS (``tblinvoices``, ``tblinvoiceitems``, ``tblaccounts``,
``tblcredit``, ``tblbillableitems``, ``tbltax``) with Billow names.
"""

from __future__ import annotations

import datetime as dt
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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billow import clock
from billow.db.base import Base, Timestamps
from billow.db.types import Money, UTCDateTime

ZERO = Decimal("0")

#: WHMCS invoice statuses, exactly as the API spells them.
INVOICE_STATUSES = ("Draft", "Unpaid", "Paid", "Cancelled", "Refunded", "Collections", "Payment Pending")


class Invoice(Timestamps, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_client_status", "client_id", "status"),
        Index("ix_invoices_status_duedate", "status", "duedate"),
        # Invoice ids are never reused (transactions keep pointing at deleted invoices'
        # ids); PostgreSQL sequences already behave so, SQLite needs AUTOINCREMENT.
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    #: The legal, sequential number given when the invoice is paid ("" until then).
    invoicenum: Mapped[str] = mapped_column(String(100), default="", index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    duedate: Mapped[dt.date] = mapped_column(Date)
    datepaid: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_capture_attempt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    date_refunded: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    date_cancelled: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    credit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    tax: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    tax2: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    taxrate: Mapped[Decimal] = mapped_column(Money(3), default=ZERO)
    taxrate2: Mapped[Decimal] = mapped_column(Money(3), default=ZERO)
    status: Mapped[str] = mapped_column(String(20), default="Unpaid")
    paymentmethod: Mapped[str] = mapped_column(String(50), default="")
    paymethodid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    #: "reverse_charge" when EU VAT reverse charge applied (shown on the PDF), else "".
    tax_note: Mapped[str] = mapped_column(String(50), default="")

    items: Mapped[list[InvoiceItem]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceItem.id",
        lazy="selectin",
    )
    client = relationship("Client", lazy="joined")
    currency = relationship("Currency", lazy="joined")


class InvoiceItem(Base):
    __tablename__ = "invoice_items"
    __table_args__ = (Index("ix_invoice_items_type_relid", "type", "relid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(Integer, index=True)
    type: Mapped[str] = mapped_column(String(40), default="")
    relid: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    taxed: Mapped[bool] = mapped_column(Boolean, default=False)
    duedate: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    paymentmethod: Mapped[str] = mapped_column(String(50), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    invoice: Mapped[Invoice] = relationship(back_populates="items")


class Transaction(Base):
    """WHMCS ``tblaccounts``: money in (payment) or out (refund) through a gateway.

    ``client_id`` is a plain column, not a foreign key: deleting a client keeps its
    transactions (with client 0) for the books unless asked otherwise.
    ``unique_key`` is ``"<gateway>:<transid>"`` when the transaction id must be unique for
    its gateway (payments) and empty (NULL) when duplicates are allowed, so the database
    itself refuses a second payment with the same gateway transaction id.
    """

    __tablename__ = "transactions"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    currency_id: Mapped[int] = mapped_column(Integer, default=0)
    gateway: Mapped[str] = mapped_column(String(50), default="")
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    amountin: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    fees: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amountout: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    rate: Mapped[Decimal] = mapped_column(Money(5), default=Decimal("1"))
    transid: Mapped[str] = mapped_column(String(255), default="", index=True)
    invoice_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    refundid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    unique_key: Mapped[str | None] = mapped_column(String(310), nullable=True, unique=True)


class CreditLog(Base):
    """WHMCS ``tblcredit``: every change of a client's credit balance, with its reason."""

    __tablename__ = "credit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    #: the invoice the credit came from or went to (0: none)
    relid: Mapped[int] = mapped_column(Integer, default=0)
    admin_id: Mapped[int] = mapped_column(Integer, default=0)


class BillableItem(Base):
    """WHMCS ``tblbillableitems``: a one-off or recurring charge waiting to be invoiced."""

    __tablename__ = "billable_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(10), default="quantity")
    quantity: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    #: noinvoice | nextcron | nextinvoice | duedate | recur
    invoiceaction: Mapped[str] = mapped_column(String(20), default="noinvoice")
    recur: Mapped[int] = mapped_column(Integer, default=0)
    recurcycle: Mapped[str] = mapped_column(String(10), default="")
    recurfor: Mapped[int] = mapped_column(Integer, default=0)
    duedate: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    invoicecount: Mapped[int] = mapped_column(Integer, default=0)
    #: the last invoice the item went on (0: not yet invoiced)
    invoice_id: Mapped[int] = mapped_column(Integer, default=0)
    taxed: Mapped[bool] = mapped_column(Boolean, default=False)


class TaxRule(Base):
    """WHMCS ``tbltax``: a rate for level 1 or 2, by country and state ("" = any)."""

    __tablename__ = "tax_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="", index=True)
    state: Mapped[str] = mapped_column(String(100), default="")
    taxrate: Mapped[Decimal] = mapped_column(Money(3), default=ZERO)


class InvoiceNumberCounter(Base):
    """The next legal invoice number per numbering period, locked while it is taken."""

    __tablename__ = "invoice_number_counters"
    #: "" when numbering never resets, "2026" or "2026-11" for yearly or monthly resets.
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class GatewaySetting(Base):
    """A payment gateway's activation and settings (WHMCS ``tblpaymentgateways``)."""

    __tablename__ = "gateway_settings"
    gateway: Mapped[str] = mapped_column(String(50), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    sortorder: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Run against the gateway's sandbox (WHMCS "test mode").
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)


class GatewayLog(Base):
    """One exchange with a payment gateway (WHMCS "Gateway Log", ``tblgatewaylog``).

    ``data`` is written by :mod:`billow.services.billing.gateway_log` with every secret
    and card number masked.
    """

    __tablename__ = "gateway_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    gateway: Mapped[str] = mapped_column(String(50), default="", index=True)
    #: what the exchange was: ``callback``, ``capture``, ``refund``, ``store_remote`` ...
    kind: Mapped[str] = mapped_column(String(50), default="")
    data: Mapped[str] = mapped_column(Text, default="")
    #: WHMCS's result words: ``Success``, ``Declined``, ``Error``, ``Invalid Signature`` ...
    result: Mapped[str] = mapped_column(String(100), default="")
