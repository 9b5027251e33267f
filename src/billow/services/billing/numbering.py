"""Legal invoice numbering: sequential numbers per period, assigned when an invoice is paid or published.

WHMCS's ``SequentialInvoiceNumbering`` with ``SequentialInvoiceNumberFormat`` (``{YEAR}``,
``{MONTH}``, ``{DAY}``, ``{NUMBER}``) and ``TaxAutoResetNumbering`` (never, monthly, yearly).
The counter row is locked while a number is taken, so two payments never share a number.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from billow.db.models import Invoice, InvoiceNumberCounter
from billow.services.settings import get_setting, setting_on
from billow.uow import UnitOfWork


def _period(uow: UnitOfWork, on: date) -> str:
    reset = get_setting(uow, "TaxAutoResetNumbering").strip().lower()
    if reset == "yearly":
        return f"{on:%Y}"
    if reset == "monthly":
        return f"{on:%Y-%m}"
    return ""


def take_invoice_number(uow: UnitOfWork, on: date) -> int:
    """Take the next number of *on*'s numbering period from its locked counter row.

    The counter is updated in the caller's transaction: if that transaction rolls back,
    so does the number, which is why numbers have no gaps; and because the row is locked
    (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite) two payments never share one.
    """
    period = _period(uow, on)
    start = int(get_setting(uow, "SequentialInvoiceNumberValue") or 1)
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    uow.session.execute(
        insert(InvoiceNumberCounter).values(period=period, next_number=start)
        .on_conflict_do_nothing(index_elements=["period"])
    )
    counter = uow.session.scalar(
        select(InvoiceNumberCounter).where(InvoiceNumberCounter.period == period)
        .with_for_update().execution_options(populate_existing=True)
    )
    assert counter is not None  # inserted above when missing
    number = counter.next_number
    counter.next_number = number + 1
    return number


def format_invoice_number(template: str, number: int, on: date) -> str:
    return (
        (template or "{NUMBER}")
        .replace("{YEAR}", f"{on:%Y}")
        .replace("{MONTH}", f"{on:%m}")
        .replace("{DAY}", f"{on:%d}")
        .replace("{NUMBER}", str(number))
    )


def assign_invoice_number(uow: UnitOfWork, invoice: Invoice) -> None:
    """Give a newly paid invoice its legal number, when sequential numbering is on."""
    if invoice.invoicenum or not setting_on(uow, "SequentialInvoiceNumbering"):
        return
    on = uow.today
    number = take_invoice_number(uow, on)
    invoice.invoicenum = format_invoice_number(get_setting(uow, "SequentialInvoiceNumberFormat"), number, on)
