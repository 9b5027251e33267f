"""A merchant gateway for test installations: captures stored "cards" without moving money.

Like a payment provider's sandbox, it answers by the token: a token starting with
``decline`` is declined, one starting with ``error`` fails as an unreachable gateway
would, any other is charged. Transaction ids are derived from the invoice and token so
that a repeated capture of the same invoice is recognisable. Inactive until an admin
activates it.

It stores cards too (``store_remote``), as a tokenising gateway does, with the card
numbers of the providers' test suites: ``4000000000000002`` is refused, ``4000000000000341``
is stored but its token declines every capture, a number failing the Luhn check is
refused as invalid; any other gives a ``tok_`` token.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

from billow.modules.gateways.base import (
    DECLINED,
    ERROR,
    SUCCESS,
    ConfigField,
    Gateway,
    GatewayResult,
    PaymentRequest,
    StoreRequest,
)

REFUSED_CARD = "4000000000000002"
DECLINING_CARD = "4000000000000341"


class TestCard(Gateway):
    system_name = "testcard"
    display_name = "Test Card (sandbox)"
    config = (
        ConfigField("fee_percent", "Fee percentage reported per capture", "text", "0"),
        ConfigField("secret_key", "Sandbox secret key (kept encrypted, shown masked; checked by nothing)",
                    "password", ""),
    )

    def capture(self, request: PaymentRequest) -> GatewayResult:
        token = request.transid or request.gatewayid
        if not token:
            return GatewayResult(ERROR, reason="No stored card token")
        if token.startswith("decline"):
            return GatewayResult(DECLINED, reason="Card declined (test token)")
        if token.startswith("error"):
            return GatewayResult(ERROR, reason="Gateway unreachable (test token)")
        digest = hashlib.sha256(f"{request.invoice_id}:{token}:{request.amount}".encode()).hexdigest()[:16]
        percent = _percent(self.settings.get("fee_percent", "0"))
        fee = (request.amount * percent / 100).quantize(request.amount)
        return GatewayResult(SUCCESS, transid=f"test_{digest}", fee=fee, rawdata={"token": token[-4:]})

    def store_remote(self, request: StoreRequest) -> GatewayResult:
        number = "".join(ch for ch in request.card_number if ch.isdigit())
        if not number:
            if request.token:  # an update of the expiry date only
                return GatewayResult(SUCCESS, transid=request.token, card_expiry=request.card_expiry)
            return GatewayResult(ERROR, reason="No card number")
        if not luhn_ok(number):
            return GatewayResult(DECLINED, reason="Your card number is incorrect.")
        if number == REFUSED_CARD:
            return GatewayResult(DECLINED, reason="Your card was declined.")
        digest = hashlib.sha256(f"{number}:{request.card_expiry}".encode()).hexdigest()[:16]
        token = f"decline_{digest}" if number == DECLINING_CARD else f"tok_{digest}"
        return GatewayResult(SUCCESS, transid=token, card_type=card_brand(number),
                             card_last_four=number[-4:], card_expiry=request.card_expiry)

    def remove_remote(self, request: StoreRequest) -> GatewayResult:
        if request.token.startswith("error"):
            return GatewayResult(ERROR, reason="Gateway unreachable (test token)")
        return GatewayResult(SUCCESS, transid=request.token)


def luhn_ok(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return len(number) >= 12 and total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"34", "37"}:
        return "American Express"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "MasterCard"
    if number.startswith("6011") or number.startswith("65"):
        return "Discover"
    return "Card"


def _percent(text: str) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal(0)
