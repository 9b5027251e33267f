"""Editing an invoice (UpdateInvoice): its dates, status, items, notes and the credit applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from billow.db.models import Invoice, InvoiceItem
from billow.errors import NotFound, ValidationError
from billow.money import quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import (
    _publish,
    line_values,
    lock_invoice,
    normalise_status,
    places_of,
    recalculate,
    set_applied_credit,
    set_status,
    settle,
)
from billow.uow import UnitOfWork


@dataclass
class ItemChange:
    description: str
    amount: Decimal
    taxed: bool


@dataclass
class InvoiceChanges:
    """``UpdateInvoice``'s fields; None means "leave as it is"."""

    status: str | None = None
    paymentmethod: str | None = None
    taxrate: Decimal | None = None
    taxrate2: Decimal | None = None
    credit: Decimal | None = None
    date: date | None = None
    duedate: date | None = None
    datepaid: datetime | None = None
    notes: str | None = None
    changed_items: dict[int, ItemChange] = field(default_factory=dict)
    new_items: list[InvoiceLine] = field(default_factory=list)
    delete_item_ids: list[int] = field(default_factory=list)
    publish: bool = False
    publish_and_email: bool = False


def update_invoice(uow: UnitOfWork, invoice_id: int, changes: InvoiceChanges) -> Invoice:
    """``UpdateInvoice``: change items, rates, dates, applied credit and status; re-total.

    Applied credit moves through the client's credit balance (and its log) in either
    direction, so changing it never creates or destroys money.
    """
    invoice = lock_invoice(uow, invoice_id)
    publishing = changes.publish or changes.publish_and_email
    if publishing and invoice.status != "Draft":
        raise ValidationError("Invoice must be in Draft status to be published", code="invoice_not_draft")
    status = normalise_status(changes.status) if changes.status else None
    places = places_of(invoice)
    by_id = {item.id: item for item in invoice.items}
    for item_id in list(changes.delete_item_ids) + list(changes.changed_items):
        if item_id not in by_id:
            raise NotFound(f"Invoice Item ID Not Found: {item_id}", code="invoice_item_not_found")
    totals_changed = False
    for item_id in changes.delete_item_ids:
        invoice.items.remove(by_id.pop(item_id))
        totals_changed = True
    for item_id, change in changes.changed_items.items():
        if item_id in by_id:
            item = by_id[item_id]
            item.description, item.taxed = change.description, change.taxed
            item.amount = quantize(to_decimal(change.amount), places)
            totals_changed = True
    for line in changes.new_items:
        invoice.items.append(InvoiceItem(**line_values(invoice.client_id, invoice.duedate,
                                                       invoice.paymentmethod, line, places)))
        totals_changed = True
    if changes.taxrate is not None:
        invoice.taxrate, totals_changed = quantize(to_decimal(changes.taxrate), 3), True
    if changes.taxrate2 is not None:
        invoice.taxrate2, totals_changed = quantize(to_decimal(changes.taxrate2), 3), True
    if changes.paymentmethod is not None and changes.paymentmethod != invoice.paymentmethod:
        invoice.paymentmethod = changes.paymentmethod
        uow.emit("InvoiceChangeGateway", {"invoiceid": invoice.id, "paymentmethod": invoice.paymentmethod},
                 resource_type="invoice", resource_id=invoice.id)
    for name in ("date", "duedate", "datepaid", "notes"):
        value = getattr(changes, name)
        if value is not None:
            setattr(invoice, name, value)
    if changes.credit is not None:
        set_applied_credit(uow, invoice, quantize(to_decimal(changes.credit), places))
        totals_changed = True
    if totals_changed:
        recalculate(uow, invoice)
        uow.session.flush()
        uow.emit("UpdateInvoiceTotal", {"invoiceid": invoice.id}, resource_type="invoice",
                 resource_id=invoice.id)
    if publishing:
        _publish(uow, invoice, send_email=changes.publish_and_email)
    if status is not None and status != invoice.status:
        set_status(uow, invoice, status)
    log_activity(uow, f"Modified Invoice - Invoice ID: {invoice.id}", client_id=invoice.client_id)
    settle(uow, invoice)
    return invoice
