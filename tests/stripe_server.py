"""A local server speaking the part of Stripe's REST API the Stripe gateway module uses.

Written from Stripe's public API reference: form-encoded requests with bracketed keys,
``Authorization: Bearer <secret key>``, JSON answers, errors as ``{"error": {...}}`` with
HTTP 402 for card errors, and ``Idempotency-Key`` honoured (a repeated key answers the
first response again, without doing the work twice). Test cards are Stripe's test
PaymentMethods: ``pm_card_visa`` succeeds, ``pm_card_chargeDeclined`` is declined,
``pm_card_authenticationRequired`` needs 3-D Secure (an off-session charge fails with
``authentication_required``).

Webhooks are built here and signed with Stripe's scheme (``Stripe-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``); the test
delivers them. ``drop_next`` makes the next request do its work and then drop the
connection without answering (a network failure after the charge was made).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from protocol_servers import _Base

SECRET_KEY = "sk_test_billow_fake"
WEBHOOK_SECRET = "whsec_billow_fake"

SUCCEEDS, DECLINED, NEEDS_3DS = "pm_card_visa", "pm_card_chargeDeclined", "pm_card_authenticationRequired"


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header of *body*."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class FakeStripe(_Base):
    def __init__(self, secret_key: str = SECRET_KEY) -> None:
        self.secret_key = secret_key
        self.ids = itertools.count(1)
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, tuple[int, Any]] = {}
        self.drop_next = False
        super().__init__()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):06d}"

    # -- the HTTP API -----------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        if lower.get("authorization") != f"Bearer {self.secret_key}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        parts = urlsplit(path)
        form = dict(parse_qsl(body.decode() if method == "POST" else parts.query, keep_blank_values=True))
        key = lower.get("idempotency-key", "")
        if method == "POST" and key and key in self.idempotent:
            status, payload = self.idempotent[key]
        else:
            status, payload = self._route(method, parts.path, form)
            if method == "POST" and key:
                self.idempotent[key] = (status, payload)
        if self.drop_next:
            self.drop_next = False
            return 0, None
        return status, payload

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
        segments = path.strip("/").split("/")
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create_session(form)
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(form)
        if method == "GET" and segments[:2] == ["v1", "payment_intents"] and len(segments) == 3:
            intent = self.intents.get(segments[2])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": f"No such payment_intent: '{segments[2]}'"}}
            return 200, self._expanded(intent, form)
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(form)
        return 404, {"error": {"type": "invalid_request_error",
                               "message": f"Unrecognized request URL ({path})"}}

    def _create_session(self, form: dict[str, str]) -> dict[str, Any]:
        amount = int(form["line_items[0][price_data][unit_amount]"])
        currency = form["line_items[0][price_data][currency]"]
        meta = {"invoice_id": form.get("payment_intent_data[metadata][invoice_id]", "")}
        intent = self._new_intent(amount, currency, meta)
        sid = self._id("cs_test")
        self.sessions[sid] = {
            "id": sid, "object": "checkout.session", "mode": "payment", "status": "open",
            "payment_status": "unpaid", "amount_total": amount, "currency": currency,
            "client_reference_id": form.get("client_reference_id"), "payment_intent": intent["id"],
            "metadata": {"invoice_id": form.get("metadata[invoice_id]", "")},
            "success_url": form.get("success_url"), "url": f"{self.url}/c/pay/{sid}",
        }
        return self.sessions[sid]

    def _new_intent(self, amount: int, currency: str, metadata: dict[str, str]) -> dict[str, Any]:
        pid = self._id("pi")
        self.intents[pid] = {
            "id": pid, "object": "payment_intent", "amount": amount, "amount_received": 0,
            "currency": currency, "status": "requires_payment_method", "metadata": metadata,
            "latest_charge": None, "last_payment_error": None, "client_secret": f"{pid}_secret_x",
        }
        return self.intents[pid]

    def _create_intent(self, form: dict[str, str]) -> tuple[int, Any]:
        meta = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        intent = self._new_intent(int(form["amount"]), form["currency"], meta)
        if form.get("confirm") == "true":
            error = self._confirm(intent, form.get("payment_method", ""),
                                  off_session=form.get("off_session") == "true")
            if error is not None:
                return 402, {"error": {**error, "payment_intent": dict(intent)}}
        expand = {"expand[0]": form.get("expand[0]", "")}
        return 200, self._expanded(intent, expand)

    def _confirm(self, intent: dict[str, Any], method: str, *, off_session: bool) -> dict[str, Any] | None:
        if method == DECLINED:
            error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                     "message": "Your card was declined."}
            intent.update(status="requires_payment_method", last_payment_error=error)
            return error
        if method == NEEDS_3DS:
            error = {"type": "card_error", "code": "authentication_required",
                     "decline_code": "authentication_required",
                     "message": "Your card was declined. This transaction requires authentication."}
            intent.update(status="requires_action" if not off_session else "requires_payment_method",
                          last_payment_error=error)
            if off_session:
                return error
            return None
        self._charge(intent)
        return None

    def _charge(self, intent: dict[str, Any]) -> None:
        cid = self._id("ch")
        fee = round(intent["amount"] * 0.029) + 30
        self.charges[cid] = {
            "id": cid, "object": "charge", "amount": intent["amount"], "currency": intent["currency"],
            "payment_intent": intent["id"], "amount_refunded": 0, "refunded": False,
            "balance_transaction": {"id": self._id("txn"), "object": "balance_transaction", "fee": fee,
                                    "currency": intent["currency"]},
        }
        intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=cid,
                      last_payment_error=None)

    def _expanded(self, intent: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        answer = dict(intent)
        if "latest_charge.balance_transaction" in form.values() and intent["latest_charge"]:
            answer["latest_charge"] = dict(self.charges[intent["latest_charge"]])
        return answer

    def _create_refund(self, form: dict[str, str]) -> tuple[int, Any]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or not intent["latest_charge"]:
            return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                   "message": "No such payment_intent"}}
        charge = self.charges[intent["latest_charge"]]
        amount = int(form.get("amount") or charge["amount"] - charge["amount_refunded"])
        if amount > charge["amount"] - charge["amount_refunded"]:
            return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                   "message": "Refund amount is greater than unrefunded amount on charge"}}
        return 200, self.refund(intent["id"], amount)

    # -- what happens at Stripe outside the API: the payer, the dashboard, the bank --------

    @property
    def charge_count(self) -> int:
        return len(self.charges)

    def refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        charge = self.charges[self.intents[intent_id]["latest_charge"]]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        rid = self._id("re")
        self.refunds[rid] = {"id": rid, "object": "refund", "amount": amount, "currency": charge["currency"],
                             "payment_intent": intent_id, "charge": charge["id"], "status": "succeeded"}
        return self.refunds[rid]

    def pay_session(self, session_id: str, card: str = SUCCEEDS) -> list[bytes]:
        """The payer completes Checkout with *card*: the webhooks Stripe would send."""
        session = self.sessions[session_id]
        intent = self.intents[session["payment_intent"]]
        error = self._confirm(intent, card, off_session=False)
        if error is not None:
            return [self.event("payment_intent.payment_failed", intent)]
        if intent["status"] != "succeeded":
            return [self.event("payment_intent.requires_action", intent)]
        session.update(status="complete", payment_status="paid")
        return [self.event("checkout.session.completed", session),
                self.event("payment_intent.succeeded", intent)]

    def authenticate(self, intent_id: str) -> list[bytes]:
        """The payer completes 3-D Secure on an intent that required it."""
        intent = self.intents[intent_id]
        self._charge(intent)
        return [self.event("payment_intent.succeeded", intent)]

    def dispute(self, intent_id: str, reason: str = "fraudulent") -> bytes:
        intent = self.intents[intent_id]
        charge = self.charges[intent["latest_charge"]]
        return self.event("charge.dispute.created", {
            "id": self._id("dp"), "object": "dispute", "amount": charge["amount"],
            "currency": charge["currency"], "charge": charge["id"], "payment_intent": intent_id,
            "reason": reason, "status": "needs_response"})

    def event(self, kind: str, obj: dict[str, Any]) -> bytes:
        return json.dumps({"id": self._id("evt"), "object": "event", "type": kind,
                           "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
                           "data": {"object": dict(obj)}}).encode()


@pytest.fixture
def stripe_server() -> Iterator[FakeStripe]:
    server = FakeStripe()
    yield server
    server.close()
