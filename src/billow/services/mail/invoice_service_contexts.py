"""E-mail resolvers of invoices (``invoice``, with the PDF attachment) and services (``product``).

The composer (:mod:`billow.services.mail.composing`) asks
:data:`billow.services.mail.context_registry.RESOLVERS` for the merge fields of a template
type; these two resolvers give WHMCS's ``invoice_*`` and ``service_*`` fields, resolved when
the e-mail is queued so the message shows the record as it is then (an invoice's balance
after the payment that triggered the receipt). Tickets have their resolver in
:mod:`billow.services.support.mail_fields`; clients, users and admins in
:mod:`billow.services.mail.client_contexts`.
"""

from __future__ import annotations

from typing import Any

from billow.db.models import Client, Invoice, Product, Server, Service
from billow.services.billing.invoice_pdf import render_invoice_pdf
from billow.services.billing.invoices import get_invoice, invoice_balance
from billow.services.billing.payments import list_transactions
from billow.services.formatting import format_amount, locale_for
from billow.services.hosting.module_params import service_password
from billow.services.mail.client_contexts import client_fields
from billow.services.mail.context_registry import MailContext
from billow.services.settings import get_setting
from billow.uow import UnitOfWork


def _client_merge(uow: UnitOfWork, client_id: int) -> dict[str, Any]:
    client = uow.session.get(Client, client_id) if client_id else None
    return client_fields(client) if client is not None else {}


def invoice_email_context(uow: UnitOfWork, invoice_id: int) -> MailContext | None:
    """``invoice`` templates: *relid* is the invoice; the PDF is attached by the sender."""
    invoice = uow.session.get(Invoice, invoice_id) if invoice_id else None
    if invoice is None:
        return None
    client = invoice.client
    locale = locale_for(client.language if client is not None else "")

    def money(amount: Any) -> str:
        return format_amount(amount, invoice.currency, locale)

    payments = list_transactions(uow, invoice_id=invoice.id)
    paid = sum((t.amountin - t.amountout for t in payments), start=invoice.credit * 0)
    last = max(payments, key=lambda t: (t.date, t.id), default=None)
    items = [f"{i.description} {money(i.amount)}" for i in invoice.items]
    url = get_setting(uow, "SystemURL").rstrip("/")
    merge = {
        **_client_merge(uow, invoice.client_id),
        "invoice_id": invoice.id,
        "invoice_num": invoice.invoicenum or str(invoice.id),
        "invoice_date_created": invoice.date.isoformat(),
        "invoice_date_due": invoice.duedate.isoformat(),
        "invoice_date_paid": invoice.datepaid.date().isoformat() if invoice.datepaid else "",
        "invoice_items": items,
        "invoice_html_contents": "<br>".join(items),
        "invoice_subtotal": money(invoice.subtotal),
        "invoice_credit": money(invoice.credit),
        "invoice_tax": money(invoice.tax),
        "invoice_tax_rate": f"{invoice.taxrate.normalize():f}%",
        "invoice_total": money(invoice.total),
        "invoice_amount_paid": money(paid),
        "invoice_balance": money(invoice_balance(uow, invoice)),
        "invoice_status": invoice.status,
        "invoice_payment_method": invoice.paymentmethod,
        "invoice_last_payment_amount": money(last.amountin) if last is not None else "",
        "invoice_last_payment_transid": last.transid if last is not None else "",
        "invoice_notes": invoice.notes,
        "invoice_link": f"{url}/viewinvoice.php?id={invoice.id}",
    }
    return MailContext(merge=merge, client_id=invoice.client_id)


def invoice_pdf_attachment(uow: UnitOfWork, invoice_id: int) -> tuple[str, bytes]:
    """The sender's attachment renderer: ``(Invoice-<number>.pdf, bytes)`` as WHMCS names it."""
    number = get_invoice(uow, invoice_id).invoicenum or str(invoice_id)
    return f"Invoice-{number}.pdf", render_invoice_pdf(uow, invoice_id)


def service_email_context(uow: UnitOfWork, service_id: int) -> MailContext | None:
    """``product`` templates: *relid* is the service; the welcome e-mail shows the password."""
    service = uow.session.get(Service, service_id) if service_id else None
    if service is None:
        return None
    product = uow.session.get(Product, service.packageid)
    server = uow.session.get(Server, service.server_id) if service.server_id else None
    merge = {
        **_client_merge(uow, service.userid),
        "service_id": service.id,
        "service_order_id": service.orderid,
        "service_product_name": product.name if product is not None else "",
        "service_domain": service.domain,
        "service_dedicated_ip": service.dedicatedip,
        "service_assigned_ips": service.assignedips,
        "service_username": service.username,
        "service_password": service_password(service),
        "service_reg_date": service.regdate.isoformat() if service.regdate else "",
        "service_next_due_date": service.nextduedate.isoformat() if service.nextduedate else "",
        "service_first_payment_amount": str(service.firstpaymentamount),
        "service_recurring_amount": str(service.amount),
        "service_billing_cycle": service.billingcycle,
        "service_status": service.status,
        "service_suspension_reason": service.suspendreason,
        "service_server_name": server.name if server is not None else "",
        "service_server_hostname": server.hostname if server is not None else "",
        "service_server_ip": server.ipaddress if server is not None else "",
        "service_ns1": server.nameserver1 if server is not None else "",
        "service_ns2": server.nameserver2 if server is not None else "",
    }
    return MailContext(merge=merge, client_id=service.userid)
