"""Gateway callbacks (webhooks): verify, read, and record through the payment service.

:func:`process_callback` is the whole of ``POST /gateways/{name}/callback``. The gateway
module verifies the callback with its own scheme and reads it into
:class:`~billow.modules.gateways.base.CallbackEvent` values; it may ask the gateway
(re-reading a payment), so that runs outside any transaction. Each event is then recorded
in a savepoint of its own, through the same functions as the API:

* a payment → :func:`payments.add_payment` (as ``AddInvoicePayment``): once per gateway
  transaction id (a replay records nothing new); an amount or currency that does not
  match the invoice's balance is logged and not applied; provisioning runs after the
  payment commits (the paid step defers it);
* a refund → :func:`payments.refund_payment` (remote: the gateway already paid it out),
  once per refund id; ``InvoiceRefunded`` when nothing paid is left;
* a dispute → :func:`payments.record_chargeback`: a transaction out, invoice Collections;
* a refund or dispute of a payment not recorded yet (the callbacks arrived out of order)
  answers 409 and records nothing, so the gateway delivers it again later.

A callback that fails verification answers 400 and records nothing.

Every callback is written to the gateway log (``LogTransaction``), without signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billow.db.models import Invoice, Transaction
from billow.errors import BillowError, Conflict, ValidationError
from billow.modules.gateways import load_gateway
from billow.modules.gateways.base import (
    DISPUTE,
    FAILED,
    PAYMENT,
    REFUND,
    CallbackEvent,
    CallbackRejected,
    supports,
)
from billow.services.activity import log_activity
from billow.services.billing import gateway_log as gateway_log_service
from billow.services.billing import payments
from billow.services.billing.invoices import invoice_balance, lock_invoice
from billow.uow import UnitOfWork

#: Outcomes of one event (what the gateway log says).
RECORDED, DUPLICATE, MISMATCH, NOT_YET, LOGGED = "recorded", "duplicate", "mismatch", "not yet", "logged"


@dataclass
class CallbackOutcome:
    """What the route answers: an HTTP status and a short plain-text message."""

    status: int
    message: str
    results: list[str]


def gateway_log(uow: UnitOfWork, gateway: str, kind: str, data: Any, result: str) -> None:
    """One line of the Gateway Log (masked; fires ``LogTransaction``)."""
    payload = data if isinstance(data, Mapping) else {"data": data}
    gateway_log_service.record(uow, gateway, kind, payload, result)


def process_callback(uow: UnitOfWork, name: str, body: bytes, headers: Mapping[str, str]) -> CallbackOutcome:
    """Verify and record one callback to gateway *name* (the caller commits)."""
    gateway = load_gateway(uow, name)
    if gateway is None or not supports(gateway, "callback"):
        return CallbackOutcome(404, "Unknown gateway", [])
    rejected = unreachable = ""
    events: list[CallbackEvent] = []
    with uow.outside_transaction():
        try:
            events = gateway.callback(body, headers)  # type: ignore[attr-defined]
        except CallbackRejected as exc:
            rejected = str(exc) or "Invalid signature"
        except Exception as exc:  # noqa: BLE001 - the gateway unreachable while re-reading: retry later
            unreachable = f"{type(exc).__name__}: {exc}"
    if rejected:
        gateway_log(uow, gateway.system_name, "callback", {"error": rejected}, "Invalid Signature")
        return CallbackOutcome(400, "Invalid signature", [])
    if unreachable:
        gateway_log(uow, gateway.system_name, "callback", {"error": unreachable}, "Error")
        return CallbackOutcome(503, "Gateway unreachable, try again", [])
    results = [_record(uow, gateway.system_name, event) for event in events]
    status = 409 if NOT_YET in results else 200
    return CallbackOutcome(status, "Not yet: the payment is unknown" if status == 409 else "OK", results)


def _record(uow: UnitOfWork, gateway: str, event: CallbackEvent) -> str:
    data = {"event": event.event_id, "kind": event.kind, "invoiceid": event.invoice_id,
            "transid": event.transid, "original": event.original_transid, "amount": str(event.amount),
            "currency": event.currency, "fee": str(event.fee), "reason": event.reason}
    try:
        with uow.session.begin_nested():
            if event.kind == PAYMENT:
                result = _payment(uow, gateway, event)
            elif event.kind == REFUND:
                result = _refund(uow, gateway, event)
            elif event.kind == DISPUTE:
                result = _dispute(uow, gateway, event)
            elif event.kind == FAILED:
                if event.invoice_id:
                    log_activity(uow, f"Gateway Payment Failed - Invoice ID: {event.invoice_id} - "
                                      f"{event.reason}")
                result = LOGGED
            else:
                result = LOGGED
    except Conflict:
        result = DUPLICATE
    except BillowError as exc:
        data["error"] = exc.message
        result = MISMATCH
    gateway_log(uow, gateway, "callback", data, _LOG_RESULT.get(result, result))
    return result


_LOG_RESULT = {RECORDED: "Successful", DUPLICATE: "Duplicate Transaction", MISMATCH: "Not Applied",
               NOT_YET: "Unknown Payment", LOGGED: "Logged"}


def _payment(uow: UnitOfWork, gateway: str, event: CallbackEvent) -> str:
    if payments.transid_taken(uow, gateway, event.transid):
        return DUPLICATE
    if not event.invoice_id or uow.session.get(Invoice, event.invoice_id) is None:
        raise _mismatch("Invoice ID Not Found")
    invoice = lock_invoice(uow, event.invoice_id)
    currency = invoice.currency.code if invoice.currency is not None else ""
    if event.currency and currency and event.currency.upper() != currency.upper():
        raise _mismatch(f"Currency {event.currency} does not match the invoice's {currency}")
    balance = invoice_balance(uow, invoice)
    if event.amount != balance:
        raise _mismatch(f"Amount {event.amount} does not match the invoice balance {balance}")
    payments.add_payment(uow, invoice.id, transid=event.transid, gateway=gateway, amount=event.amount,
                         fees=event.fee)
    return RECORDED


def _original(uow: UnitOfWork, gateway: str, transid: str) -> Transaction | None:
    return uow.session.scalar(select(Transaction).where(
        Transaction.gateway == gateway, Transaction.transid == transid, Transaction.amountin > 0,
        Transaction.refundid == 0).limit(1))


def _refund(uow: UnitOfWork, gateway: str, event: CallbackEvent) -> str:
    if payments.transid_taken(uow, gateway, event.transid):
        return DUPLICATE
    payment = _original(uow, gateway, event.original_transid)
    if payment is None:
        return NOT_YET
    payments.refund_payment(uow, payment.id, Decimal(event.amount), refund_transid=event.transid,
                            remote=True)
    return RECORDED


def _dispute(uow: UnitOfWork, gateway: str, event: CallbackEvent) -> str:
    if payments.transid_taken(uow, gateway, event.transid):
        return DUPLICATE
    payment = _original(uow, gateway, event.original_transid)
    if payment is None:
        return NOT_YET
    payments.record_chargeback(uow, payment, Decimal(event.amount), event.transid, event.reason)
    return RECORDED



def _mismatch(message: str) -> ValidationError:
    """A callback whose payment does not fit the invoice: logged, not applied."""
    return ValidationError(message, code="gateway_payment_mismatch")
