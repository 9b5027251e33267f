"""Stripe, through the official ``stripe`` SDK: Checkout for hosted payments, off-session
PaymentIntents for captures of stored cards, refunds, and signed webhooks.

Amounts go to Stripe in the currency's minor unit. Every charge carries an idempotency key
derived from the invoice, the amount, the card and the day of the attempt, so a capture retried after
a network failure (the answer lost, the charge perhaps made) is answered with the first
charge instead of making a second one. The gateway transaction id Billow records is the
PaymentIntent id (``pi_...``) on every path (capture, Checkout, webhook), so the same
payment reported twice is recorded once.

``api_base`` overrides Stripe's API address (a local test server); empty means Stripe's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe

from billow import clock
from billow.modules.gateways.base import (
    DECLINED,
    DISPUTE,
    ERROR,
    FAILED,
    IGNORED,
    PAYMENT,
    PENDING,
    REFUND,
    SUCCESS,
    CallbackEvent,
    CallbackRejected,
    ConfigField,
    Gateway,
    GatewayResult,
    HostedPayment,
    PaymentRequest,
)

#: Currencies Stripe counts in whole units (no minor unit).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                          "vnd", "vuv", "xaf", "xof", "xpf"})
#: Seconds a webhook signature stays valid (Stripe's own default).
TOLERANCE = 300


def to_minor(amount: Decimal, currency: str) -> int:
    factor = 1 if currency.lower() in ZERO_DECIMAL else 100
    return int((Decimal(amount) * factor).to_integral_value())


def from_minor(amount: int | None, currency: str) -> Decimal:
    if currency.lower() in ZERO_DECIMAL:
        return Decimal(int(amount or 0))
    return (Decimal(int(amount or 0)) / 100).quantize(Decimal("0.01"))


def capture_key(request: PaymentRequest) -> str:
    """The idempotency key of a capture: one charge per invoice, amount, card and day."""
    card = hashlib.sha256((request.transid or request.gatewayid).encode()).hexdigest()[:12]
    return f"billow-capture-{request.invoice_id}-{request.amount}-{card}-{clock.today().isoformat()}"


class Stripe(Gateway):
    system_name = "stripe"
    display_name = "Credit Card (Stripe)"
    config = (
        ConfigField("secret_key", "Secret Key", "password", description="sk_live_... or sk_test_..."),
        ConfigField("publishable_key", "Publishable Key", "text", description="pk_live_... or pk_test_..."),
        ConfigField("webhook_secret", "Webhook Signing Secret", "password", description="whsec_..."),
        ConfigField("api_base", "API base URL", "text", description="Leave empty for Stripe's own"),
    )

    def _client(self) -> stripe.StripeClient:
        base = (self.settings.get("api_base") or "").rstrip("/")
        return stripe.StripeClient(
            self.settings.get("secret_key", ""),
            base_addresses={"api": base} if base else None,
            max_network_retries=0,
        )

    # -- hosted payment ---------------------------------------------------------------

    def hosted_payment(self, request: PaymentRequest) -> HostedPayment:
        """A Checkout Session for the invoice's balance; the payer is sent to its URL."""
        currency = request.currency.lower()
        meta = {"invoice_id": str(request.invoice_id)}
        session = self._client().v1.checkout.sessions.create(params={
            "mode": "payment",
            "client_reference_id": str(request.invoice_id),
            "success_url": request.return_url or request.system_url or "https://example.invalid/",
            "cancel_url": request.return_url or request.system_url or "https://example.invalid/",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": currency, "unit_amount": to_minor(request.amount, currency),
                "product_data": {"name": request.description or f"Invoice #{request.invoice_id}"}}}],
            "metadata": meta,
            "payment_intent_data": {"metadata": meta},
        })
        return HostedPayment(reference=session.id, redirect_url=session.url or "",
                             publishable_key=self.settings.get("publishable_key", ""))

    # -- capture ----------------------------------------------------------------------

    def capture(self, request: PaymentRequest) -> GatewayResult:
        """Charge the stored card (``pm_...`` or ``cus_...:pm_...``) off session."""
        token = request.transid or request.gatewayid
        if not token:
            return GatewayResult(ERROR, reason="No stored card token")
        customer, _, method = token.rpartition(":")
        currency = request.currency.lower()
        params: dict[str, Any] = {
            "amount": to_minor(request.amount, currency), "currency": currency,
            "payment_method": method, "confirm": True, "off_session": True,
            "description": request.description or f"Invoice #{request.invoice_id}",
            "metadata": {"invoice_id": str(request.invoice_id)},
            "expand": ["latest_charge.balance_transaction"],
        }
        if customer:
            params["customer"] = customer
        try:
            intent = self._client().v1.payment_intents.create(
                params=params, options={"idempotency_key": capture_key(request)})  # type: ignore[arg-type]
        except stripe.CardError as exc:
            error = (exc.json_body or {}).get("error") or {} if isinstance(exc.json_body, dict) else {}
            intent_id = str((error.get("payment_intent") or {}).get("id") or "")
            if exc.code == "authentication_required":
                return GatewayResult(PENDING, transid=intent_id, reason="requires_action",
                                     rawdata=_safe(exc.json_body))
            return GatewayResult(DECLINED, transid=intent_id, reason=exc.user_message or str(exc.code),
                                 rawdata=_safe(exc.json_body))
        except stripe.APIConnectionError as exc:
            return GatewayResult(ERROR, reason=f"Network error: {exc.user_message or exc}")
        except stripe.StripeError as exc:
            return GatewayResult(ERROR, reason=exc.user_message or str(exc), rawdata=_safe(exc.json_body))
        return _intent_result(_plain(intent))

    # -- refund -----------------------------------------------------------------------

    def refund(self, request: PaymentRequest) -> GatewayResult:
        """Refund all or part of PaymentIntent *request.transid*."""
        try:
            refund = self._client().v1.refunds.create(params={
                "payment_intent": request.transid,
                "amount": to_minor(request.amount, request.currency or "usd"),
                "metadata": {"invoice_id": str(request.invoice_id)},
            })
        except stripe.StripeError as exc:
            return GatewayResult(ERROR, reason=exc.user_message or str(exc), rawdata=_safe(exc.json_body))
        if refund.status in ("failed", "canceled"):
            return GatewayResult(DECLINED, transid=refund.id, reason=refund.status)
        return GatewayResult(SUCCESS, transid=refund.id, rawdata={"id": refund.id, "status": refund.status})

    # -- webhooks ---------------------------------------------------------------------

    def callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        """Verify a webhook's ``Stripe-Signature`` and read the event; payments are
        re-read from Stripe (their fee is there, and the body alone is not trusted)."""
        signature = _header(headers, "stripe-signature")
        try:
            event = stripe.Webhook.construct_event(body, signature, self.settings.get("webhook_secret", ""),
                                                   tolerance=TOLERANCE)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise CallbackRejected(str(exc) or "Invalid signature") from None
        kind, obj = event.type, _plain(event.data.object)
        if kind == "payment_intent.succeeded":
            return [self._payment(event.id, str(obj.get("id") or ""))]
        if kind == "checkout.session.completed":
            if obj.get("payment_status") != "paid" or not obj.get("payment_intent"):
                return [CallbackEvent(IGNORED, event_id=event.id, reason="checkout session not paid")]
            return [self._payment(event.id, str(obj.get("payment_intent")))]
        if kind == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            return [CallbackEvent(FAILED, event_id=event.id, invoice_id=_invoice_id(obj),
                                  transid=str(obj.get("id") or ""),
                                  reason=str(error.get("message") or error.get("code") or "failed"))]
        if kind == "payment_intent.requires_action":
            return [CallbackEvent(FAILED, event_id=event.id, invoice_id=_invoice_id(obj),
                                  transid=str(obj.get("id") or ""), reason="requires_action")]
        if kind in ("refund.created", "refund.updated"):
            if obj.get("status") not in ("succeeded", "pending"):
                return [CallbackEvent(IGNORED, event_id=event.id, reason=f"refund {obj.get('status')}")]
            return [_refund_event(event.id, obj)]
        if kind == "charge.refunded":
            refunds = (obj.get("refunds") or {}).get("data") or []
            return [_refund_event(event.id, r) for r in refunds
                    if r.get("status") in ("succeeded", "pending")]
        if kind == "charge.dispute.created":
            currency = str(obj.get("currency") or "")
            return [CallbackEvent(DISPUTE, event_id=event.id, transid=str(obj.get("id") or ""),
                                  original_transid=str(obj.get("payment_intent") or ""),
                                  amount=from_minor(obj.get("amount"), currency), currency=currency.upper(),
                                  reason=str(obj.get("reason") or ""))]
        return [CallbackEvent(IGNORED, event_id=event.id, reason=kind)]

    def _payment(self, event_id: str, intent_id: str) -> CallbackEvent:
        intent = _plain(self._client().v1.payment_intents.retrieve(
            intent_id, params={"expand": ["latest_charge.balance_transaction"]}))
        if intent.get("status") != "succeeded":
            return CallbackEvent(IGNORED, event_id=event_id, transid=intent_id,
                                 reason=f"intent {intent.get('status')}")
        currency = str(intent.get("currency") or "")
        return CallbackEvent(PAYMENT, event_id=event_id, invoice_id=_invoice_id(intent), transid=intent_id,
                             amount=from_minor(intent.get("amount_received"), currency),
                             currency=currency.upper(), fee=_fee(intent))


def _intent_result(intent: dict[str, Any]) -> GatewayResult:
    intent_id, status = str(intent.get("id") or ""), str(intent.get("status") or "")
    raw = {"id": intent_id, "status": status}
    if status == "succeeded":
        return GatewayResult(SUCCESS, transid=intent_id, fee=_fee(intent), rawdata=raw)
    if status in ("requires_action", "requires_confirmation", "processing"):
        return GatewayResult(PENDING, transid=intent_id, reason=status, rawdata=raw)
    return GatewayResult(DECLINED, transid=intent_id, reason=status, rawdata=raw)


def _plain(obj: Any) -> Any:
    """A StripeObject as plain dicts and lists (a StripeObject is not a dict)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _refund_event(event_id: str, refund: Any) -> CallbackEvent:
    currency = str(refund.get("currency") or "")
    return CallbackEvent(REFUND, event_id=event_id, transid=str(refund.get("id") or ""),
                         original_transid=str(refund.get("payment_intent") or ""),
                         amount=from_minor(refund.get("amount"), currency), currency=currency.upper())


def _invoice_id(obj: Any) -> int:
    meta = obj.get("metadata") or {}
    try:
        return int(meta.get("invoice_id") or 0)
    except (TypeError, ValueError):
        return 0


def _fee(intent: Any) -> Decimal:
    charge = intent.get("latest_charge")
    if not charge or isinstance(charge, str):
        return Decimal("0")
    balance = charge.get("balance_transaction")
    if not balance or isinstance(balance, str):
        return Decimal("0")
    return from_minor(balance.get("fee"), str(balance.get("currency") or intent.get("currency") or ""))


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _safe(body: Any) -> str:
    """An error body for the gateway log, without anything that could identify a card."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error") or {}
    return json.dumps({k: error.get(k) for k in ("type", "code", "decline_code", "message") if k in error})

