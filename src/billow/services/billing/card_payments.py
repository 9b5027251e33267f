"""Automatic captures from stored pay methods, and card expiry notices.

A capture is three steps so no transaction is open while the gateway is asked (and a
crash can never charge twice): :func:`prepare_capture` (in the caller's transaction, which
also records the attempt) → the gateway's ``capture`` (no transaction) →
:func:`record_captured` or :func:`record_declined` (a new transaction). The daily run
(``ProcessCreditCardPayments``) drives them and owns the once-a-day claim.

Retry rules (WHMCS): invoices are attempted from ``CCProcessDaysBefore`` days before their
due date; a failed capture is retried daily, or with ``CCAttemptOnlyOnce`` never again, or
with ``CCRetryEveryWeekFor`` N weekly for N weeks. Clients with ``disableautocc`` are
skipped.

:func:`capture_now` is ``CapturePayment``: the same three steps for one invoice at once,
against the client's default pay method, with no retry rule. Every gateway call is
written to the Gateway Log (:func:`log_capture`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, select

from billow.db.models import Client, Invoice, PayMethod
from billow.errors import Conflict, ModuleError, ModuleFailed, NotFound
from billow.events import request_email
from billow.modules.gateways import load_gateway
from billow.modules.gateways.base import ERROR, GatewayResult, PaymentRequest, supports
from billow.security import decrypt
from billow.services.activity import log_activity
from billow.services.billing import gateway_log
from billow.services.billing.invoices import invoice_balance, lock_invoice
from billow.services.billing.payments import add_payment
from billow.services.settings import setting_int, setting_on
from billow.uow import UnitOfWork


@dataclass
class PreparedCapture:
    """What the gateway is asked, with the gateway itself (None: nothing can be captured)."""

    invoice_id: int
    client_id: int
    gateway_name: str
    gateway: object | None
    request: PaymentRequest | None


def invoices_to_capture(uow: UnitOfWork, today: date, after: int, limit: int) -> Sequence[int]:
    """Unpaid invoices (ids above *after*) within the capture horizon of a client with a pay method."""
    horizon = today + timedelta(days=setting_int(uow, "CCProcessDaysBefore"))
    stored = exists().where(PayMethod.client_id == Invoice.client_id, PayMethod.deleted_at.is_(None))
    return list(uow.session.scalars(
        select(Invoice.id).join(Client, Client.id == Invoice.client_id)
        .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate <= horizon,
               Invoice.total > 0, Client.disableautocc.is_(False), stored)
        .order_by(Invoice.id).limit(limit)))


def may_attempt(uow: UnitOfWork, invoice: Invoice, today: date, attempts: int) -> bool:
    """Whether the retry rules allow another capture of *invoice* today (*attempts* made so far)."""
    last = invoice.last_capture_attempt
    if last is None:
        return True
    weeks = setting_int(uow, "CCRetryEveryWeekFor")
    last_day = today if last.date() > today else last.date()
    if weeks > 0:
        return (today - last_day).days >= 7 and attempts <= weeks
    return not setting_on(uow, "CCAttemptOnlyOnce")


def prepare_capture(uow: UnitOfWork, invoice: Invoice, now: datetime) -> PreparedCapture:
    """Record the attempt on *invoice* (locked by the caller) and build the gateway request."""
    amount = invoice_balance(uow, invoice)
    method = uow.session.scalar(
        select(PayMethod)
        .where(PayMethod.client_id == invoice.client_id, PayMethod.deleted_at.is_(None))
        .order_by(PayMethod.order_preference, PayMethod.id))
    gateway = load_gateway(uow, method.gateway) if method is not None else None
    invoice.last_capture_attempt = now
    request = None
    if amount > 0 and method is not None and gateway is not None and supports(gateway, "capture"):
        request = PaymentRequest(
            invoice_id=invoice.id, amount=amount, currency=invoice.currency.code,
            description=f"Invoice #{invoice.id}", client={"userid": invoice.client_id},
            settings=gateway.settings, transid=decrypt(method.token_enc) if method.token_enc else "",
            gatewayid=str(method.id))
    return PreparedCapture(invoice.id, invoice.client_id, method.gateway if method is not None else "",
                           gateway, request)


def lock_for_capture(uow: UnitOfWork, invoice_id: int) -> Invoice | None:
    """The invoice, locked, if it is still unpaid; None otherwise."""
    invoice = lock_invoice(uow, invoice_id)
    return invoice if invoice.status == "Unpaid" else None


def record_captured(uow: UnitOfWork, prepared: PreparedCapture, transid: str, fee: Decimal) -> bool:
    """Record a successful capture; False when that transaction was already recorded."""
    assert prepared.request is not None
    try:
        add_payment(uow, prepared.invoice_id, transid=transid, gateway=prepared.gateway_name,
                    amount=prepared.request.amount, fees=fee)
    except Conflict:
        return False
    return True


def record_declined(uow: UnitOfWork, prepared: PreparedCapture, reason: str) -> None:
    """Log a refused capture and tell the client ("Credit Card Payment Failed")."""
    log_activity(uow, f"Automatic Capture Failed - Invoice ID: {prepared.invoice_id} - {reason}",
                 client_id=prepared.client_id)
    request_email(uow, "Credit Card Payment Failed", prepared.invoice_id)


def call_gateway(prepared: PreparedCapture) -> GatewayResult:
    """Ask the gateway to capture (the caller holds no transaction); a crash is an error result."""
    assert prepared.request is not None and prepared.gateway is not None
    try:
        return prepared.gateway.capture(prepared.request)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - a broken gateway is a failed attempt, not a crash
        return GatewayResult(ERROR, reason=f"{type(exc).__name__}: {exc}")


def log_capture(uow: UnitOfWork, prepared: PreparedCapture, result: GatewayResult) -> None:
    """Write one capture exchange to the Gateway Log (the token and secrets masked)."""
    assert prepared.request is not None
    gateway_log.record(uow, prepared.gateway_name, "capture", {
        "invoiceid": prepared.invoice_id, "amount": str(prepared.request.amount),
        "currency": prepared.request.currency, "token": prepared.request.transid, "status": result.status,
        "transid": result.transid, "fee": str(result.fee), "reason": result.reason, "rawdata": result.rawdata,
    }, "Success" if result.ok else result.status.title())


def capture_now(uow: UnitOfWork, invoice_id: int) -> None:
    """Charge unpaid *invoice_id* against its client's default pay method (``CapturePayment``).

    Raises WHMCS's "Invoice Not Found or Not Unpaid" or "Payment Attempt Failed"; a decline
    is recorded (activity log, "Credit Card Payment Failed" e-mail) before the refusal.
    """
    if not invoice_id or uow.session.get(Invoice, invoice_id) is None:
        raise NotFound("Invoice Not Found or Not Unpaid", code="invoice_not_unpaid")
    invoice = lock_for_capture(uow, invoice_id)
    if invoice is None:
        raise NotFound("Invoice Not Found or Not Unpaid", code="invoice_not_unpaid")
    prepared = prepare_capture(uow, invoice, uow.now)
    if prepared.request is None:
        raise ModuleError("Payment Attempt Failed", code="payment_attempt_failed")
    with uow.outside_transaction():
        result = call_gateway(prepared)
    log_capture(uow, prepared, result)
    if result.ok:
        record_captured(uow, prepared, result.transid, result.fee)
        return
    record_declined(uow, prepared, result.reason or result.status)
    raise ModuleFailed("Payment Attempt Failed", code="payment_attempt_failed")


def cards_expiring(uow: UnitOfWork, today: date, after: int, limit: int) -> Sequence[int]:
    """On day ``CCDaySendExpiryNotices``, the stored cards (ids above *after*) expiring this month."""
    if today.day != setting_int(uow, "CCDaySendExpiryNotices"):
        return []
    expiring = today.strftime("%m/%y")
    return list(uow.session.scalars(
        select(PayMethod.id).join(Client, Client.id == PayMethod.client_id)
        .where(PayMethod.id > after, PayMethod.deleted_at.is_(None), PayMethod.card_expiry == expiring,
               Client.status != "Closed")
        .order_by(PayMethod.id).limit(limit)))


def send_expiry_notice(uow: UnitOfWork, method: PayMethod) -> None:
    request_email(uow, "Credit Card Expiring Soon", method.client_id, paymethodid=method.id,
                  cardlastfour=method.card_last_four, expirydate=method.card_expiry)
