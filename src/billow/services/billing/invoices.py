"""Invoices: creation, totals, balance, status changes, legal numbering and the paid step.

This is the contract other areas call (see :mod:`billow.services.billing.contract`):

* :func:`create_invoice` — orders, invoice generation, late fees and the API create
  invoices through it; taxes come from :mod:`billow.services.billing.tax` when no rate is given.
* :data:`PAID_STEPS` — an extension point (filled in :mod:`billow.bootstrap`); each ``fn(uow, invoice)`` runs
  in the paying transaction once an invoice becomes Paid, after ``InvoicePaidPreEmail``
  and before ``InvoicePaid`` (provisioning on payment, unsuspension, domain renewals). Each
  step runs in a savepoint: one that raises is rolled back and logged (Activity Log
  "Invoice Paid Automation Failed"), and the payment still stands.
* :func:`invoice_balance` — total minus money in plus money out, from the ledger rows.
* :func:`get_invoice` — ``NotFound("Invoice ID Not Found")`` for an unknown id.

Totals are recomputed only by :func:`recalculate`, and an invoice becomes Paid only
through :func:`settle`, so every path (payment, credit, item edit) obeys the same rule:
Paid exactly when the balance reaches zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from billow.db.models import Client, Invoice, InvoiceItem, Transaction
from billow.db.models.billing import INVOICE_STATUSES
from billow.errors import BillowError, NotFound, ValidationError
from billow.events import Emitted, email_request, emit, request_email
from billow.modules.gateways import active_gateways
from billow.money import ZERO, quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.billing import tax
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.credit import adjust_credit, lock_client
from billow.services.billing.numbering import assign_invoice_number
from billow.services.clients.accounts import get_client
from billow.services.extension import ExtensionPoint
from billow.uow import UnitOfWork

log = logging.getLogger("billow.invoices")

#: ``fn(uow, invoice)`` run once an invoice becomes Paid, in the paying transaction.
PAID_STEPS: ExtensionPoint[Callable[[UnitOfWork, Invoice], None]] = ExtensionPoint("invoice paid steps")

STATUS_BY_NAME = {s.lower(): s for s in INVOICE_STATUSES}
#: Statuses from which a zero balance makes the invoice Paid (WHMCS processPaidInvoice).
PAYABLE = ("Unpaid", "Payment Pending")


def normalise_status(text: str) -> str:
    """Map any capitalisation of a WHMCS invoice status to its canonical spelling."""
    status = STATUS_BY_NAME.get((text or "").strip().lower())
    if status is None:
        raise ValidationError(f"Invalid status {text}", code="invalid_invoice_status")
    return status


def places_of(invoice: Invoice) -> int:
    return invoice.currency.decimals if invoice.currency is not None else 2


def get_invoice(uow: UnitOfWork, invoice_id: int) -> Invoice:
    invoice = uow.session.get(Invoice, invoice_id) if invoice_id else None
    if invoice is None:
        raise NotFound("Invoice ID Not Found", code="invoice_not_found")
    return invoice


def lock_invoice(uow: UnitOfWork, invoice_id: int, *, message: str = "Invoice ID Not Found") -> Invoice:
    """Load *invoice_id* with its row locked, so payments on one invoice run one at a time.

    On PostgreSQL this is ``SELECT ... FOR UPDATE``; SQLite transactions already hold the
    database write lock from their first statement (``BEGIN IMMEDIATE``).
    """
    invoice = uow.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update(of=Invoice)
        .execution_options(populate_existing=True)
    ) if invoice_id else None
    if invoice is None:
        raise NotFound(message, code="invoice_not_found")
    return invoice


def _source(uow: UnitOfWork) -> tuple[str, Any]:
    actor = uow.actor
    if actor.kind == "admin":
        return "api", actor.admin_id or 0
    if actor.kind == "client":
        return "clientarea", actor.user_id or 0
    return "autogen", "system"


def create_invoice(
    uow: UnitOfWork,
    client_id: int,
    lines: list[InvoiceLine],
    *,
    date: date | None = None,
    duedate: date | None = None,
    paymentmethod: str = "",
    status: str = "Unpaid",
    notes: str = "",
    taxrate: Decimal | None = None,
    taxrate2: Decimal | None = None,
    send_email: bool = True,
    apply_credit: bool = False,
) -> Invoice:
    """Create an invoice for *client_id* with *lines*, taxed, totalled and announced.

    Rates not given come from the client's tax rules. Emits ``InvoiceCreation`` and
    ``InvoiceCreated`` (WHMCS variables ``source``, ``user``, ``invoiceid``, ``status``)
    and requests the "Invoice Created" e-mail when *send_email* and not a Draft. With
    *apply_credit*, available credit is applied at once; an Unpaid invoice whose balance
    is zero (a free order, or credit covering it) becomes Paid immediately.
    :mod:`billow.services.billing.invoice_batch` writes many at once by the same rules.
    """
    client = get_client(uow, client_id)
    status = normalise_status(status)
    rates = tax.rates_for_client(uow, client) if taxrate is None or taxrate2 is None else None
    rate1 = to_decimal(taxrate) if taxrate is not None else rates.rate1  # type: ignore[union-attr]
    rate2 = to_decimal(taxrate2) if taxrate2 is not None else rates.rate2  # type: ignore[union-attr]
    if rate1 < 0 or rate2 < 0:
        raise ValidationError("Invalid tax rate", code="invalid_tax_rate")
    when = date or uow.today
    invoice = Invoice(
        client_id=client.id,
        date=when,
        duedate=duedate or when,
        status=status,
        paymentmethod=paymentmethod or client.defaultgateway or default_gateway(uow),
        notes=notes,
        currency_id=client.currency_id,
        **rate_columns(rate1, rate2, reverse_charge=rates is not None and rates.reverse_charge
                       and taxrate is None),
        credit=ZERO,
    )
    invoice.client = client
    invoice.currency = client.currency
    places = places_of(invoice)
    for line in lines:
        invoice.items.append(InvoiceItem(**line_values(invoice.client_id, invoice.duedate,
                                                       invoice.paymentmethod, line, places)))
    uow.session.add(invoice)
    recalculate(uow, invoice)
    uow.session.flush()
    if status == "Paid":
        invoice.datepaid = uow.now
        assign_invoice_number(uow, invoice)
    elif status == "Cancelled":
        invoice.date_cancelled = uow.now
    log_activity(uow, created_activity(invoice.id), client_id=client.id)
    variables = creation_variables(uow, invoice.id, status)
    uow.emit("InvoiceCreation", variables, resource_type="invoice", resource_id=invoice.id)
    if apply_credit and status in PAYABLE:
        apply_available_credit(uow, invoice)
    settle(uow, invoice, noemail=not send_email)
    _announce(uow, after_creation(invoice.id, variables, email=send_email and status != "Draft"))
    return invoice


def _announce(uow: UnitOfWork, events: list[Emitted]) -> None:
    for event in events:
        emit(uow, event.name, event.variables, resource_type=event.resource_type,
             resource_id=event.resource_id, hooks=event.hooks)


# --- the parts of creation the batch writer (invoice_batch) shares -------------------------

def rate_columns(rate1: Decimal, rate2: Decimal, *, reverse_charge: bool) -> dict[str, Any]:
    """An invoice's tax-rate columns as stored (WHMCS keeps three decimals)."""
    return {"taxrate": quantize(rate1, 3), "taxrate2": quantize(rate2, 3),
            "tax_note": "reverse_charge" if reverse_charge else ""}


def line_values(client_id: int, duedate: date, paymentmethod: str, line: InvoiceLine,
                places: int) -> dict[str, Any]:
    """The stored columns of one invoice item for *line* (amount rounded per currency)."""
    return {
        "client_id": client_id,
        "type": line.type or "",
        "relid": int(line.relid or 0),
        "description": line.description,
        "amount": quantize(to_decimal(line.amount), places),
        "taxed": bool(line.taxed),
        "duedate": line.duedate or duedate,
        "paymentmethod": paymentmethod,
    }


def created_activity(invoice_id: int) -> str:
    return f"Created Invoice - Invoice ID: {invoice_id}"


def creation_variables(uow: UnitOfWork, invoice_id: int, status: str) -> dict[str, Any]:
    """WHMCS's ``InvoiceCreation``/``InvoiceCreated`` variables."""
    source, user = _source(uow)
    return {"source": source, "user": user, "invoiceid": invoice_id, "status": status}


def after_creation(invoice_id: int, variables: dict[str, Any], *, email: bool) -> list[Emitted]:
    """The events that close a creation: pre-email hook and e-mail (when sent), created."""
    events = []
    if email:
        events += [Emitted("InvoiceCreationPreEmail", variables, "invoice", invoice_id),
                   email_request("Invoice Created", invoice_id)]
    events.append(Emitted("InvoiceCreated", variables, "invoice", invoice_id))
    return events


def default_gateway(uow: UnitOfWork) -> str:
    """The first active gateway by display order (WHMCS's default payment method)."""
    gateways = active_gateways(uow)
    return gateways[0].system_name if gateways else ""


def recalculate(uow: UnitOfWork, invoice: Invoice) -> None:
    """Recompute subtotal, taxes and total from the items: the one place totals change.

    Credit already applied stays applied unless the invoice shrank below it; then the
    excess goes back to the client's credit balance (logged), so no credit is lost.
    """
    places = places_of(invoice)
    totals = tax.compute(
        ((item.amount, item.taxed) for item in invoice.items),
        invoice.taxrate, invoice.taxrate2, tax.tax_mode(uow), places,
    )
    gross = totals.total
    if invoice.credit > gross and invoice.client_id:
        excess = invoice.credit - max(gross, ZERO)
        client = lock_client(uow, invoice.client_id)
        adjust_credit(uow, client, excess, f"Credit Removed from Invoice #{invoice.id}",
                      relid=invoice.id or 0)
        invoice.credit = invoice.credit - excess
    invoice.subtotal, invoice.tax, invoice.tax2 = totals.subtotal, totals.tax1, totals.tax2
    invoice.total = quantize(gross - invoice.credit, places)


def payments_of(uow: UnitOfWork, invoice_id: int) -> tuple[Decimal, Decimal]:
    """(money in, money out) recorded against *invoice_id*."""
    row = uow.session.execute(
        select(func.sum(Transaction.amountin), func.sum(Transaction.amountout))
        .where(Transaction.invoice_id == invoice_id)
    ).one()
    return (row[0] if row[0] is not None else ZERO), (row[1] if row[1] is not None else ZERO)


def invoice_balance(uow: UnitOfWork, invoice: Invoice) -> Decimal:
    """What is still owed: total − payments + refunds (negative when overpaid)."""
    money_in, money_out = payments_of(uow, invoice.id)
    return quantize(invoice.total - money_in + money_out, places_of(invoice))


def settle(uow: UnitOfWork, invoice: Invoice, *, noemail: bool = False, when: datetime | None = None) -> bool:
    """Mark *invoice* Paid if it is payable and nothing is owed; True when it became Paid."""
    if invoice.status not in PAYABLE or invoice_balance(uow, invoice) > 0:
        return False
    _mark_paid(uow, invoice, noemail=noemail, when=when or uow.now)
    return True


def _mark_paid(uow: UnitOfWork, invoice: Invoice, *, noemail: bool, when: datetime) -> None:
    invoice.status = "Paid"
    invoice.datepaid = when
    assign_invoice_number(uow, invoice)
    log_activity(uow, f"Invoice Marked Paid - Invoice ID: {invoice.id}", client_id=invoice.client_id)
    uow.session.flush()
    uow.emit("InvoicePaidPreEmail", {"invoiceid": invoice.id}, resource_type="invoice",
             resource_id=invoice.id)
    if not noemail:
        request_email(uow, "Invoice Payment Confirmation", invoice.id)
    _credit_funds_items(uow, invoice)
    for step in PAID_STEPS:
        _run_paid_step(uow, invoice, f"{step.__module__}:{step.__qualname__}", step)
    uow.emit("InvoicePaid", {"invoiceid": invoice.id, "invoice": invoice_hook_vars(invoice)},
             resource_type="invoice", resource_id=invoice.id)


def _run_paid_step(uow: UnitOfWork, invoice: Invoice, path: str, step: Any) -> None:
    """Run one paid step in a savepoint; its failure is logged, never the payment's.

    A payment that arrived must be recorded even if, say, the provisioning panel is down:
    the step's own changes roll back to the savepoint, the failure goes to the log and the
    Activity Log for an admin to retry, and the invoice stays Paid.
    """
    try:
        with uow.session.begin_nested():
            step(uow, invoice)
    except Exception as exc:  # noqa: BLE001 - isolate every automation failure from the payment
        log.exception("paid step %s failed for invoice %s", path, invoice.id)
        message = exc.message if isinstance(exc, BillowError) else f"{type(exc).__name__}: {exc}"
        log_activity(uow, f"Invoice Paid Automation Failed - Invoice ID: {invoice.id} - {path} - {message}",
                     client_id=invoice.client_id)


def _credit_funds_items(uow: UnitOfWork, invoice: Invoice) -> None:
    """An "AddFunds" line bought account credit: add it once the invoice is paid."""
    funds = [item for item in invoice.items if item.type == "AddFunds"]
    if not funds:
        return
    client = lock_client(uow, invoice.client_id)
    for item in funds:
        adjust_credit(uow, client, item.amount, f"Add Funds Invoice #{invoice.id}", relid=invoice.id)


def invoice_hook_vars(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id, "userid": invoice.client_id, "invoicenum": invoice.invoicenum,
        "date": invoice.date, "duedate": invoice.duedate, "datepaid": invoice.datepaid,
        "subtotal": invoice.subtotal, "credit": invoice.credit, "tax": invoice.tax,
        "tax2": invoice.tax2, "total": invoice.total, "taxrate": invoice.taxrate,
        "taxrate2": invoice.taxrate2, "status": invoice.status,
        "paymentmethod": invoice.paymentmethod, "notes": invoice.notes,
    }


# --- credit on invoices -------------------------------------------------------------------

def apply_available_credit(uow: UnitOfWork, invoice: Invoice) -> Decimal:
    """Apply as much of the client's credit as the invoice needs; returns the amount."""
    client = lock_client(uow, invoice.client_id)
    amount = min(client.credit, invoice_balance(uow, invoice))
    if amount <= 0:
        return ZERO
    _apply(uow, invoice, client, amount)
    return amount


def apply_credit(
    uow: UnitOfWork, invoice_id: int, amount: Decimal | None = None, *, noemail: bool = False
) -> tuple[Invoice, Decimal, bool]:
    """``ApplyCredit``: move client credit onto an Unpaid invoice; (invoice, amount, paid)."""
    invoice = lock_invoice(uow, invoice_id)
    if invoice.status != "Unpaid":
        raise ValidationError("Invoice Not in Unpaid Status", code="invoice_not_unpaid")
    client = lock_client(uow, invoice.client_id)
    balance = invoice_balance(uow, invoice)
    amount = balance if amount is None else quantize(to_decimal(amount), places_of(invoice))
    if amount <= 0:
        raise ValidationError("Credit Amount to apply must be greater than zero",
                              code="credit_amount_not_positive")
    if amount > client.credit:
        raise ValidationError("Amount exceeds customer credit balance", code="credit_exceeds_balance")
    if amount > balance:
        raise ValidationError("Amount Exceeds Invoice Balance", code="amount_exceeds_invoice_balance")
    _apply(uow, invoice, client, amount)
    paid = settle(uow, invoice, noemail=noemail)
    return invoice, amount, paid


def _apply(uow: UnitOfWork, invoice: Invoice, client: Client, amount: Decimal) -> None:
    adjust_credit(uow, client, -amount, f"Credit Applied to Invoice #{invoice.id}", relid=invoice.id)
    invoice.credit = invoice.credit + amount
    recalculate(uow, invoice)
    log_activity(uow, f"Credit Applied - Invoice ID: {invoice.id} - Amount: {amount}",
                 client_id=invoice.client_id)


def _publish(uow: UnitOfWork, invoice: Invoice, *, send_email: bool) -> None:
    invoice.status = "Unpaid"
    variables = creation_variables(uow, invoice.id, "Unpaid")
    uow.emit("InvoiceCreation", variables, resource_type="invoice", resource_id=invoice.id)
    _announce(uow, after_creation(invoice.id, variables, email=send_email))


def set_status(uow: UnitOfWork, invoice: Invoice, status: str) -> None:
    """Change status by hand, recording the date and raising the WHMCS hook it implies."""
    status = normalise_status(status)
    previous, invoice.status = invoice.status, status
    hook = ""
    if status == "Paid":
        invoice.datepaid = invoice.datepaid or uow.now
        assign_invoice_number(uow, invoice)
    elif status == "Cancelled":
        invoice.date_cancelled = uow.now
        hook = "InvoiceCancelled"
    elif status == "Refunded":
        invoice.date_refunded = uow.now
        hook = "InvoiceRefunded"
    elif status == "Unpaid" and previous != "Draft":
        invoice.datepaid = None
        hook = "InvoiceUnpaid"
    log_activity(uow, f"Invoice Status Changed from {previous} to {status} - Invoice ID: {invoice.id}",
                 client_id=invoice.client_id)
    if hook:
        uow.emit(hook, {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)


def set_applied_credit(uow: UnitOfWork, invoice: Invoice, wanted: Decimal) -> None:
    """Make the credit applied to *invoice* *wanted*, moving the difference to or from the client."""
    if wanted < 0:
        raise ValidationError("Credit must not be negative", code="negative_credit")
    delta = wanted - invoice.credit
    if delta == 0:
        return
    client = lock_client(uow, invoice.client_id)
    if delta > 0:
        adjust_credit(uow, client, -delta, f"Credit Applied to Invoice #{invoice.id}", relid=invoice.id)
    else:
        adjust_credit(uow, client, -delta, f"Credit Removed from Invoice #{invoice.id}", relid=invoice.id)
    invoice.credit = wanted


def cancel_invoice(uow: UnitOfWork, invoice: Invoice) -> None:
    """Cancel an unpaid invoice, returning any credit it had taken to the client."""
    if invoice.credit > 0:
        set_applied_credit(uow, invoice, ZERO)
        recalculate(uow, invoice)
    set_status(uow, invoice, "Cancelled")
