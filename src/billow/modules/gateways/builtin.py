"""The manual gateways every installation has: bank transfer and mail-in payment.

Neither takes money itself: the payer follows the instructions printed on the invoice
and an admin records the payment (``AddInvoicePayment``). Their ``link`` shows those
instructions; a refund is done by hand, so they define no ``refund``.
"""

from __future__ import annotations

import html

from billow.modules.gateways.base import ConfigField, Gateway, PaymentRequest


class _Manual(Gateway):
    active_by_default = True
    instructions_key = "instructions"

    def link(self, request: PaymentRequest) -> str:
        text = self.settings.get(self.instructions_key, "")
        body = "<br>".join(html.escape(line) for line in text.splitlines()) or html.escape(self.display_name)
        return f'<div class="payment-instructions">{body}<br>Invoice #{request.invoice_id}</div>'


class BankTransfer(_Manual):
    system_name = "banktransfer"
    display_name = "Bank Transfer"
    gateway_type = "Bank"
    config = (
        ConfigField("instructions", "Bank Transfer Instructions", "textarea",
                    "Bank Name:\nPayee Name:\nSort Code:\nAccount Number:",
                    "The instructions you want displayed to customers who choose this payment method"),
    )


class MailIn(_Manual):
    system_name = "mailin"
    display_name = "Mail In Payment"
    config = (
        ConfigField("instructions", "Payment Instructions", "textarea",
                    "Please send your payment (cheque or money order) to our postal address.",
                    "The instructions you want displayed to customers who choose this payment method"),
    )
