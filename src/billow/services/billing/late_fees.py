"""Late fees: one fee on an invoice still unpaid ``AddLateFeeDays`` after its due date.

The fee is ``InvoiceLateFeeAmount``, a fixed amount or (``LateFeeType`` "Percentage") a
percentage of the invoice total with ``LateFeeMinimum`` as the floor, rounded to the
invoice currency. Clients with ``latefeeoveride`` are exempt. The ``LateFee`` line on the
invoice is the record that the fee was added, so adding it twice is impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import exists, select

from billow.db.models import Client, Invoice, InvoiceItem
from billow.money import quantize
from billow.services.activity import log_activity
from billow.services.billing.invoices import lock_invoice, places_of, recalculate
from billow.services.settings import get_setting, setting_decimal, setting_int
from billow.uow import UnitOfWork


def late_fees_enabled(uow: UnitOfWork) -> bool:
    return setting_int(uow, "AddLateFeeDays") > 0 and setting_decimal(uow, "InvoiceLateFeeAmount") > 0


def fee_type(uow: UnitOfWork) -> str:
    """WHMCS's ``LateFeeType``: "Percentage" or "Fixed Amount" (any other spelling: fixed)."""
    kind = get_setting(uow, "LateFeeType").strip().lower()
    return "Percentage" if kind.startswith("perc") else "Fixed Amount"


def invoices_due_a_fee(uow: UnitOfWork, today: date, after: int, limit: int) -> Sequence[int]:
    """Ids (above *after*, at most *limit*) of invoices that should get a late fee today."""
    cutoff = today - timedelta(days=setting_int(uow, "AddLateFeeDays"))
    has_fee = exists().where(InvoiceItem.invoice_id == Invoice.id, InvoiceItem.type == "LateFee")
    return list(uow.session.scalars(
        select(Invoice.id).join(Client, Client.id == Invoice.client_id)
        .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate <= cutoff,
               Invoice.total > 0, Client.latefeeoveride.is_(False), ~has_fee)
        .order_by(Invoice.id).limit(limit)))


def fee_for(uow: UnitOfWork, invoice: Invoice) -> Decimal:
    """The late fee *invoice* would get, in its currency's places."""
    places = places_of(invoice)
    amount = setting_decimal(uow, "InvoiceLateFeeAmount")
    if fee_type(uow) == "Percentage":
        fee = quantize(invoice.total * amount / Decimal(100), places)
        return max(fee, quantize(setting_decimal(uow, "LateFeeMinimum"), places))
    return quantize(amount, places)


def add_late_fee(uow: UnitOfWork, invoice_id: int, today: date) -> Decimal | None:
    """Add the late fee to an unpaid invoice that has none; returns it, or None if none was due."""
    invoice = lock_invoice(uow, invoice_id)
    if invoice.status != "Unpaid" or any(line.type == "LateFee" for line in invoice.items):
        return None
    fee = fee_for(uow, invoice)
    if fee <= 0:
        return None
    invoice.items.append(InvoiceItem(
        client_id=invoice.client_id, type="LateFee", relid=0,
        description=f"Late Fee (Added {today.strftime('%d/%m/%Y')})", amount=fee, taxed=False,
        duedate=invoice.duedate, paymentmethod=invoice.paymentmethod))
    recalculate(uow, invoice)
    log_activity(uow, f"Late Fee Added - Invoice ID: {invoice.id} - Amount: {fee}",
                 client_id=invoice.client_id)
    uow.emit("AddInvoiceLateFee", {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)
    return fee
