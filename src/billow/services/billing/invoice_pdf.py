"""PDF invoices: a Jinja2 template rendered to PDF by WeasyPrint, one invoice at a time.

Rendered on demand (CLI ``billow invoice pdf``, the admin HTTP route), never in bulk: a
PDF is a view of the ledger at the moment it is asked for, so it always shows the
current payments and balance.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from billow.db.models import Invoice
from billow.modules.gateways import display_name, load_gateway
from billow.services.billing import tax
from billow.services.billing.invoices import get_invoice, invoice_balance
from billow.services.billing.payments import list_transactions
from billow.services.clients.validation import country_name
from billow.services.formatting import format_amount, format_day, locale_for
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive "
    "2006/112/EC)."
)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("billow", "templates"), autoescape=select_autoescape(["html"]))


def invoice_context(uow: UnitOfWork, invoice: Invoice) -> dict[str, Any]:
    """Everything the template shows, already formatted for the client's locale."""
    client, currency = invoice.client, invoice.currency
    locale = locale_for(client.language if client is not None else "")

    def money(amount: Any) -> str:
        return format_amount(amount, currency, locale)

    def gateway_name(system_name: str) -> str:
        gateway = load_gateway(uow, system_name)
        return display_name(uow, gateway) if gateway is not None else system_name

    country, state = (client.country, client.state) if client is not None else ("", "")
    label1 = tax.rule_rate(uow, 1, country, state)[1] or "Tax"
    label2 = tax.rule_rate(uow, 2, country, state)[1] or "Tax 2"
    payments = [
        {"date": format_day(t.date.date(), locale), "gateway": gateway_name(t.gateway), "transid": t.transid,
         "amount": money(t.amountin - t.amountout), "refund": t.amountout > 0}
        for t in list_transactions(uow, invoice_id=invoice.id)
    ]
    return {
        "seller": {
            "name": get_setting(uow, "CompanyName"),
            "address": [line for line in get_setting(uow, "InvoicePayTo").splitlines() if line.strip()],
            "vat": get_setting(uow, "TaxVATNumber"),
            "email": get_setting(uow, "Email"),
        },
        "client": {
            "name": client.fullname if client else "", "company": client.companyname if client else "",
            "address": [v for v in (client.address1, client.address2,
                                    " ".join(x for x in (client.city, client.state, client.postcode) if x),
                                    country_name(client.country)) if v] if client else [],
            "tax_id": client.tax_id if client else "",
        },
        "number": invoice.invoicenum or str(invoice.id),
        "proforma": not invoice.invoicenum,
        "id": invoice.id,
        "status": invoice.status,
        "date": format_day(invoice.date, locale),
        "duedate": format_day(invoice.duedate, locale),
        "datepaid": format_day(invoice.datepaid.date(), locale) if invoice.datepaid else "",
        "paymentmethod": gateway_name(invoice.paymentmethod) if invoice.paymentmethod else "",
        "items": [{"description": i.description, "amount": money(i.amount), "taxed": i.taxed}
                  for i in invoice.items],
        "subtotal": money(invoice.subtotal),
        "taxes": [
            {"label": f"{label} ({rate.normalize():f}%)", "amount": money(amount)}
            for label, rate, amount in ((label1, invoice.taxrate, invoice.tax),
                                        (label2, invoice.taxrate2, invoice.tax2))
            if rate > 0 or amount != 0
        ],
        "credit": money(invoice.credit) if invoice.credit else "",
        "total": money(invoice.total),
        "payments": payments,
        "balance": money(invoice_balance(uow, invoice)),
        "notes": invoice.notes,
        "reverse_charge": REVERSE_CHARGE_NOTE if invoice.tax_note == "reverse_charge" else "",
        "currency": currency.code if currency else "",
    }


def render_invoice_html(uow: UnitOfWork, invoice_id: int) -> str:
    invoice = get_invoice(uow, invoice_id)
    return _environment().get_template("billing/invoice.html").render(**invoice_context(uow, invoice))


def render_invoice_pdf(uow: UnitOfWork, invoice_id: int) -> bytes:
    """The invoice as PDF bytes (raises ``NotFound("Invoice ID Not Found")``)."""
    from weasyprint import HTML

    html = render_invoice_html(uow, invoice_id)
    return HTML(string=html).write_pdf()
