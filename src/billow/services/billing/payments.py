"""Payments, refunds and the transaction ledger.

A payment is a :class:`Transaction` with money in against an invoice; a refund is one
with money out pointing (``refundid``) at the payment it returns. The invoice row is
locked before its balance is read, so concurrent payments see each other: the second of
two payments that together overpay records only the excess as credit, once. A gateway
transaction id is unique per gateway: checked under that lock and enforced by a unique
key in the database, so the same callback delivered twice records one payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from billow.db.models import Client, Currency, Invoice, Transaction
from billow.errors import Conflict, ModuleError, NotFound, ValidationError
from billow.events import request_email
from billow.modules.gateways import load_gateway
from billow.modules.gateways.base import PaymentRequest, supports
from billow.money import ZERO, fmt, quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.billing import gateway_log
from billow.services.billing.credit import adjust_credit, lock_client
from billow.services.billing.invoices import (
    invoice_balance,
    lock_invoice,
    payments_of,
    places_of,
    settle,
)
from billow.uow import UnitOfWork

DUPLICATE = "Transaction ID must be Unique"


def _unique_key(gateway: str, transid: str) -> str:
    return f"{gateway}:{transid}"[:310]


def transid_taken(uow: UnitOfWork, gateway: str, transid: str) -> bool:
    """WHMCS ``isUniqueTransactionID`` reversed: is *transid* already used on *gateway*?"""
    return uow.session.scalar(
        select(Transaction.id).where(Transaction.gateway == gateway, Transaction.transid == transid).limit(1)
    ) is not None


def _record(uow: UnitOfWork, txn: Transaction) -> Transaction:
    """Insert *txn*; a concurrent twin with the same unique key becomes WHMCS's refusal."""
    try:
        with uow.session.begin_nested():
            uow.session.add(txn)
            uow.session.flush()
    except IntegrityError:
        raise Conflict(DUPLICATE, code="duplicate_transaction_id") from None
    log_activity(uow, f"Added Transaction - Transaction ID: {txn.id}", client_id=txn.client_id)
    uow.emit("AddTransaction", transaction_hook_vars(txn), resource_type="transaction", resource_id=txn.id)
    return txn


def transaction_hook_vars(txn: Transaction) -> dict[str, Any]:
    return {
        "id": txn.id, "userid": txn.client_id, "currency": txn.currency_id, "gateway": txn.gateway,
        "date": txn.date, "description": txn.description, "amountin": txn.amountin,
        "fees": txn.fees, "amountout": txn.amountout, "rate": txn.rate, "transid": txn.transid,
        # hooks.json spells the key "invocieid" (WHMCS docs); send both spellings.
        "invoiceid": txn.invoice_id, "invocieid": txn.invoice_id, "refundid": txn.refundid,
    }


def add_payment(
    uow: UnitOfWork,
    invoice_id: int,
    *,
    transid: str,
    gateway: str,
    amount: Decimal | None = None,
    fees: Decimal = ZERO,
    when: datetime | None = None,
    noemail: bool = False,
    description: str = "Invoice Payment",
) -> Transaction:
    """``AddInvoicePayment``: record a payment; the excess over the balance becomes credit.

    *amount* None (or zero) pays the whole balance. The invoice becomes Paid exactly
    when its balance reaches zero, running the paid automation (see ``invoices.settle``).
    """
    invoice = lock_invoice(uow, invoice_id)
    if invoice.status == "Cancelled":
        raise ValidationError("It is not possible to add a payment to an invoice that is Cancelled",
                              code="invoice_cancelled")
    if invoice.status == "Draft":
        raise ValidationError("It is not possible to add a payment to an invoice that is a Draft",
                              code="invoice_is_draft")
    gateway = (gateway or "").strip()
    transid = (transid or "").strip()
    # A gateway retrying its callback must hear "duplicate", whatever else changed since.
    if transid and transid_taken(uow, gateway, transid):
        raise Conflict(DUPLICATE, code="duplicate_transaction_id")
    places = places_of(invoice)
    balance = invoice_balance(uow, invoice)
    amount = quantize(to_decimal(amount), places) if amount is not None else ZERO
    if amount == 0:
        amount = balance
        if amount <= 0:
            raise ValidationError("Invoice Amount Invalid", code="invalid_amount")
    if amount < 0:
        raise ValidationError("Invoice Amount Invalid", code="invalid_amount")
    txn = Transaction(
        client_id=invoice.client_id,
        currency_id=0,
        gateway=gateway,
        date=when or uow.now,
        description=description,
        amountin=amount,
        fees=quantize(to_decimal(fees), places),
        amountout=ZERO,
        rate=invoice.currency.rate if invoice.currency is not None else Decimal("1"),
        transid=transid,
        invoice_id=invoice.id,
        refundid=0,
        unique_key=_unique_key(gateway, transid) if transid else None,
    )
    _record(uow, txn)
    log_activity(uow, f"Added Invoice Payment - Invoice ID: {invoice.id}", client_id=invoice.client_id)
    uow.emit("AddInvoicePayment", {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)
    excess = amount - max(balance, ZERO)
    if excess > 0:
        client = lock_client(uow, invoice.client_id)
        adjust_credit(uow, client, excess, f"Invoice #{invoice.id} Overpayment", relid=invoice.id)
        log_activity(uow, f"Invoice Overpayment Credited - Invoice ID: {invoice.id} - Amount: {excess}",
                     client_id=invoice.client_id)
    settle(uow, invoice, noemail=noemail, when=txn.date)
    return txn


def get_transaction(uow: UnitOfWork, transaction_id: int) -> Transaction:
    txn = uow.session.get(Transaction, transaction_id) if transaction_id else None
    if txn is None:
        raise NotFound("Transaction ID Not Found", code="transaction_not_found")
    return txn


def refund_payment(
    uow: UnitOfWork,
    transaction_id: int,
    amount: Decimal | None = None,
    *,
    to_credit: bool = False,
    through_gateway: bool = False,
    refund_transid: str = "",
    reverse: bool = False,
    send_email: bool = True,
    remote: bool = False,
) -> Transaction:
    """Refund all or part of payment *transaction_id*, as WHMCS's ``refundInvoicePayment``.

    *to_credit* puts the money on the client's credit balance instead of paying it out;
    *through_gateway* asks the gateway module to send it back (else it is recorded as a
    manual refund, ``ManualRefund`` hook). When everything paid on the invoice has been
    refunded the invoice becomes Refunded; with *reverse*, a partly refunded Paid invoice
    returns to Unpaid (its payment no longer covers it). *remote* records a refund the
    gateway already made (reported by its callback, *refund_transid* its id, unique per
    gateway like a payment's).
    """
    payment = get_transaction(uow, transaction_id)
    if payment.amountin <= 0 or payment.refundid:
        raise ValidationError("Only a payment can be refunded", code="not_a_payment")
    invoice = lock_invoice(uow, payment.invoice_id) if payment.invoice_id else None
    client_id = payment.client_id or (invoice.client_id if invoice is not None else 0)
    places = places_of(invoice) if invoice is not None else 2
    refunded, reversed_fees = uow.session.execute(
        select(func.sum(Transaction.amountout), func.sum(Transaction.fees))
        .where(Transaction.refundid == payment.id)
    ).one()
    refundable = payment.amountin - (refunded or ZERO)
    amount = refundable if amount is None else quantize(to_decimal(amount), places)
    if amount <= 0 or amount > refundable:
        raise ValidationError("Refund amount must be greater than zero and not exceed the payment",
                              code="invalid_refund_amount")
    fees = max(payment.fees + (reversed_fees or ZERO), ZERO)
    if to_credit:
        refund = Transaction(
            client_id=client_id, currency_id=0, gateway="", date=uow.now,
            description=f"Refund of Transaction ID {payment.transid} to Credit Balance",
            amountin=ZERO, fees=-fees, amountout=amount, rate=payment.rate, transid="",
            invoice_id=payment.invoice_id, refundid=payment.id,
        )
        _record(uow, refund)
        client = lock_client(uow, client_id)
        adjust_credit(uow, client, amount, f"Credit from Refund of Invoice ID {payment.invoice_id}",
                      relid=payment.invoice_id)
        log_activity(uow, f"Refunded Invoice Payment to Credit Balance - Invoice ID: {payment.invoice_id}",
                     client_id=client_id)
    else:
        transid = refund_transid
        if through_gateway:
            result = _gateway_refund(uow, payment, amount, invoice)
            # The call ran outside the transaction: take the invoice's lock again before
            # recording. The money has left at the gateway, so it is recorded whatever
            # happened meanwhile; the ledger must match the gateway.
            payment = get_transaction(uow, transaction_id)
            invoice = lock_invoice(uow, payment.invoice_id) if payment.invoice_id else None
            transid = result.transid or transid
            if result.fee:
                fees = result.fee
        elif not remote:
            uow.emit("ManualRefund", {"transid": payment.id, "amount": amount},
                     resource_type="transaction", resource_id=payment.id)
        if remote and transid and transid_taken(uow, payment.gateway, transid):
            raise Conflict(DUPLICATE, code="duplicate_transaction_id")
        refund = Transaction(
            client_id=client_id, currency_id=0, gateway=payment.gateway, date=uow.now,
            description=f"Refund of Transaction ID {payment.transid}", amountin=ZERO, fees=-fees,
            amountout=amount, rate=payment.rate, transid=transid, invoice_id=payment.invoice_id,
            refundid=payment.id,
            unique_key=_unique_key(payment.gateway, transid) if remote and transid else None,
        )
        _record(uow, refund)
        log_activity(uow, f"Refunded Invoice Payment - Invoice ID: {payment.invoice_id} - "
                          f"Transaction ID: {payment.id}", client_id=client_id)
    if invoice is not None:
        _after_refund(uow, invoice, reverse=reverse)
        if send_email:
            request_email(uow, "Invoice Refund Confirmation", invoice.id,
                          invoice_refund_type="credit" if to_credit else "gateway",
                          invoice_refund_amount=fmt(amount))
    return refund


def record_chargeback(uow: UnitOfWork, payment: Transaction, amount: Decimal, transid: str,
                      reason: str = "") -> Transaction:
    """A dispute (chargeback) the gateway reports on *payment*: the money is out, recorded
    as a transaction out with the dispute's id, and the invoice goes to Collections."""
    invoice = lock_invoice(uow, payment.invoice_id) if payment.invoice_id else None
    if transid_taken(uow, payment.gateway, transid):
        raise Conflict(DUPLICATE, code="duplicate_transaction_id")
    places = places_of(invoice) if invoice is not None else 2
    txn = Transaction(
        client_id=payment.client_id, currency_id=0, gateway=payment.gateway, date=uow.now,
        description=f"Chargeback of Transaction ID {payment.transid}" + (f" ({reason})" if reason else ""),
        amountin=ZERO, fees=ZERO, amountout=min(quantize(to_decimal(amount), places), payment.amountin),
        rate=payment.rate, transid=transid, invoice_id=payment.invoice_id, refundid=payment.id,
        unique_key=_unique_key(payment.gateway, transid),
    )
    _record(uow, txn)
    log_activity(uow, f"Chargeback Recorded - Invoice ID: {payment.invoice_id} - "
                      f"Transaction ID: {payment.id}", client_id=payment.client_id)
    if invoice is not None and invoice.status in ("Paid", "Unpaid", "Payment Pending"):
        invoice.status = "Collections"
    return txn


def _gateway_refund(uow: UnitOfWork, payment: Transaction, amount: Decimal, invoice: Invoice | None) -> Any:
    gateway = load_gateway(uow, payment.gateway)
    if gateway is None or not supports(gateway, "refund"):
        raise ModuleError(f"Refunds are not supported by the {payment.gateway or 'manual'} gateway",
                          code="refund_not_supported")
    currency = invoice.currency.code if invoice is not None and invoice.currency is not None else ""
    request = PaymentRequest(
        invoice_id=payment.invoice_id, amount=amount, currency=currency, transid=payment.transid,
        settings=gateway.settings,
    )
    name, payment_id = payment.gateway, payment.id
    # No transaction or writer lock is held while the gateway answers (what was checked so
    # far is committed first; nothing has been written yet).
    with uow.outside_transaction():
        result = gateway.refund(request)  # type: ignore[attr-defined]
    gateway_log.record(uow, name, "refund", {"transaction": payment_id, "amount": str(amount),
                                             "response": str(result.rawdata)},
                       f"Refund {result.status.capitalize()}")
    if not result.ok:
        raise ModuleError(f"Refund Failed: {result.reason or result.status}", code="refund_failed")
    return result


def _after_refund(uow: UnitOfWork, invoice: Invoice, *, reverse: bool) -> None:
    money_in, money_out = payments_of(uow, invoice.id)
    if money_in - money_out <= 0 and invoice.status in ("Paid", "Unpaid", "Payment Pending", "Collections"):
        invoice.status = "Refunded"
        invoice.date_refunded = uow.now
        uow.emit("InvoiceRefunded", {"invoiceid": invoice.id}, resource_type="invoice",
                 resource_id=invoice.id)
    elif reverse and invoice.status == "Paid" and invoice_balance(uow, invoice) > 0:
        invoice.status = "Unpaid"
        invoice.datepaid = None
        uow.emit("InvoiceUnpaid", {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)


@dataclass
class TransactionInput:
    """``AddTransaction`` / ``UpdateTransaction`` fields (None: not given)."""

    paymentmethod: str | None = None
    client_id: int | None = None
    invoice_id: int | None = None
    transid: str | None = None
    when: datetime | None = None
    currency_id: int | None = None
    description: str | None = None
    amountin: Decimal | None = None
    fees: Decimal | None = None
    amountout: Decimal | None = None
    rate: Decimal | None = None
    refundid: int | None = None


def add_transaction(
    uow: UnitOfWork, data: TransactionInput, *, credit: bool = False, allow_duplicate: bool = False
) -> Transaction:
    """``AddTransaction``: record money in or out by hand, optionally onto credit."""
    invoice: Invoice | None = None
    client_id = data.client_id or 0
    if data.invoice_id:
        invoice = lock_invoice(uow, data.invoice_id)
        client_id = client_id or invoice.client_id
    client: Client | None = None
    if client_id:
        client = uow.session.get(Client, client_id)
        if client is None:
            raise NotFound("Client ID Not Found", code="client_not_found")
    if client is not None and invoice is not None and invoice.client_id != client.id:
        raise ValidationError("User ID does not own the given Invoice ID", code="invoice_not_owned")
    currency_id = data.currency_id or 0
    if currency_id:
        if uow.session.get(Currency, currency_id) is None:
            raise NotFound("Currency ID Not Found", code="currency_not_found")
        if client is not None and currency_id != client.currency_id:
            raise ValidationError("Currency ID does not match Client currency", code="currency_mismatch")
    elif client is None and invoice is None:
        raise ValidationError("A Currency ID is required for non-customer related transactions",
                              code="currency_required")
    gateway = (data.paymentmethod or "").strip()
    if not gateway:
        raise ValidationError("Payment Method is required", code="payment_method_required")
    transid = (data.transid or "").strip()
    if transid and not allow_duplicate and transid_taken(uow, gateway, transid):
        raise Conflict(DUPLICATE, code="duplicate_transaction_id")
    currency = client.currency if client is not None else uow.session.get(Currency, currency_id)
    places = currency.decimals if currency is not None else 2
    rate = data.rate if data.rate is not None else (currency.rate if currency is not None else Decimal("1"))
    txn = Transaction(
        client_id=client.id if client is not None else 0,
        currency_id=0 if client is not None else currency_id,
        gateway=gateway, date=data.when or uow.now, description=data.description or "",
        amountin=quantize(to_decimal(data.amountin), places),
        fees=quantize(to_decimal(data.fees), places),
        amountout=quantize(to_decimal(data.amountout), places),
        rate=quantize(to_decimal(rate), 5), transid=transid,
        invoice_id=invoice.id if invoice is not None else 0, refundid=data.refundid or 0,
        unique_key=_unique_key(gateway, transid) if transid and not allow_duplicate else None,
    )
    _record(uow, txn)
    if client is not None and credit and invoice is None and txn.amountin > 0:
        description = txn.description + (f" (Trans ID: {transid})" if transid else "")
        adjust_credit(uow, lock_client(uow, client.id), txn.amountin, description)
    if invoice is not None:
        settle(uow, invoice, when=txn.date)
    return txn


def update_transaction(uow: UnitOfWork, transaction_id: int, data: TransactionInput,
                       *, credit: bool = False) -> Transaction:
    """``UpdateTransaction``: change the given fields of a transaction."""
    txn = get_transaction(uow, transaction_id)
    if data.client_id is not None and data.client_id and uow.session.get(Client, data.client_id) is None:
        raise NotFound("Client ID Not Found", code="client_not_found")
    if data.invoice_id:
        invoice = lock_invoice(uow, data.invoice_id)
        owner = data.client_id or txn.client_id
        if owner and invoice.client_id != owner:
            raise ValidationError("User ID does not own the given Invoice ID", code="invoice_not_owned")
    if data.currency_id and uow.session.get(Currency, data.currency_id) is None:
        raise NotFound("Currency ID Not Found", code="currency_not_found")
    gateway = (data.paymentmethod if data.paymentmethod is not None else txn.gateway).strip()
    transid = (data.transid if data.transid is not None else txn.transid).strip()
    if (gateway, transid) != (txn.gateway, txn.transid) and transid:
        clash = uow.session.scalar(select(Transaction.id).where(
            Transaction.gateway == gateway, Transaction.transid == transid, Transaction.id != txn.id,
        ).limit(1))
        if clash is not None:
            raise Conflict(DUPLICATE, code="duplicate_transaction_id")
    txn.gateway, txn.transid = gateway, transid
    if txn.unique_key is not None:
        txn.unique_key = _unique_key(gateway, transid) if transid else None
    for name in ("client_id", "invoice_id", "currency_id", "refundid"):
        value = getattr(data, name)
        if value is not None:
            setattr(txn, name, value)
    for name in ("amountin", "fees", "amountout"):
        value = getattr(data, name)
        if value is not None:
            setattr(txn, name, quantize(to_decimal(value), 2))
    if data.rate is not None:
        txn.rate = quantize(to_decimal(data.rate), 5)
    if data.description is not None:
        txn.description = data.description
    if data.when is not None:
        txn.date = data.when
    try:
        with uow.session.begin_nested():
            uow.session.flush()
    except IntegrityError:
        raise Conflict(DUPLICATE, code="duplicate_transaction_id") from None
    if credit and txn.client_id and not txn.invoice_id and txn.amountin > 0:
        adjust_credit(uow, lock_client(uow, txn.client_id), txn.amountin, txn.description)
    log_activity(uow, f"Modified Transaction - Transaction ID: {txn.id}", client_id=txn.client_id)
    return txn


def list_transactions(
    uow: UnitOfWork, *, invoice_id: int = 0, client_id: int = 0, transid: str = ""
) -> list[Transaction]:
    """``GetTransactions``: every transaction matching all the given filters, oldest first."""
    query = select(Transaction)
    if invoice_id:
        query = query.where(Transaction.invoice_id == invoice_id)
    if client_id:
        query = query.where(Transaction.client_id == client_id)
    if transid:
        query = query.where(Transaction.transid == transid)
    return list(uow.session.scalars(query.order_by(Transaction.id)))
