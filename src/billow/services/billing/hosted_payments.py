"""Paying an invoice online: the gateway's hosted payment, created for the invoice's balance.

:func:`start_hosted_payment` builds the request in the caller's transaction, asks the
gateway with no transaction held, logs the exchange, and answers what a page needs to
send the payer there (a redirect URL, or a client secret for the gateway's own payment
element). The payment itself is recorded when the gateway's signed callback arrives
(:mod:`billow.services.billing.gateway_callbacks`).
"""

from __future__ import annotations

from billow.errors import ModuleError, ValidationError
from billow.modules.gateways import load_gateway
from billow.modules.gateways.base import HostedPayment, PaymentRequest, supports
from billow.services.billing.gateway_callbacks import gateway_log
from billow.services.billing.invoices import get_invoice, invoice_balance
from billow.uow import UnitOfWork


def start_hosted_payment(uow: UnitOfWork, invoice_id: int, *, gateway_name: str = "",
                         return_url: str = "") -> HostedPayment:
    """Create the hosted payment of unpaid invoice *invoice_id* (its own gateway unless named)."""
    invoice = get_invoice(uow, invoice_id)
    if invoice.status != "Unpaid":
        raise ValidationError("Invoice Not Found or Not Unpaid", code="invoice_not_unpaid")
    name = gateway_name or invoice.paymentmethod
    gateway = load_gateway(uow, name)
    if gateway is None or not supports(gateway, "hosted_payment"):
        raise ValidationError(f"Invalid gateway: {name}", code="gateway_not_online")
    amount = invoice_balance(uow, invoice)
    if amount <= 0:
        raise ValidationError("Invoice Amount Invalid", code="invalid_amount")
    request = PaymentRequest(
        invoice_id=invoice.id, amount=amount, currency=invoice.currency.code if invoice.currency else "",
        description=f"Invoice #{invoice.invoicenum or invoice.id}", client={"userid": invoice.client_id},
        settings=gateway.settings, return_url=return_url)
    error = ""
    with uow.outside_transaction():
        try:
            hosted: HostedPayment = gateway.hosted_payment(request)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - any SDK failure is the gateway's refusal
            error = f"{type(exc).__name__}: {exc}"
    if error:
        gateway_log(uow, gateway.system_name, "hosted payment",
                    {"invoiceid": invoice_id, "amount": str(amount), "error": error}, "Error")
        raise ModuleError("The payment could not be started at the gateway", code="gateway_unavailable")
    gateway_log(uow, gateway.system_name, "hosted payment",
                {"invoiceid": invoice_id, "amount": str(amount), "reference": hosted.reference}, "Created")
    return hosted
