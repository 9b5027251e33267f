"""A merchant gateway for test installations: captures stored "cards" without moving money.

Like a payment provider's sandbox, it answers by the token: a token starting with
``decline`` is declined, one starting with ``error`` fails as an unreachable gateway
would, any other is charged. Transaction ids are derived from the invoice and token so
that a repeated capture of the same invoice is recognisable. Inactive until an admin
activates it.
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
)


class TestCard(Gateway):
    system_name = "testcard"
    display_name = "Test Card (sandbox)"
    config = (ConfigField("fee_percent", "Fee percentage reported per capture", "text", "0"),)

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


def _percent(text: str) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal(0)
