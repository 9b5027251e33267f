"""PDF invoices: the template's content, the CLI command and the authenticated HTTP route."""

from __future__ import annotations

import base64
from decimal import Decimal

from billing_helpers import make_client, make_currency, peek, settings, tax_rule
from sqlalchemy import select
from typer.testing import CliRunner

from billow.cli import app as cli
from billow.db.models import Client, Invoice, Transaction
from billow.services.billing import payments
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoice_pdf import render_invoice_html
from billow.services.billing.invoices import create_invoice, invoice_balance
from billow.services.formatting import format_amount


def _invoice(uow):
    settings(uow, TaxEnabled="on", TaxEUVATMode="on", TaxEUHomeCountry="DE", CompanyName="Wolke GmbH",
             InvoicePayTo="Hauptstr. 1\n10115 Berlin", TaxVATNumber="DE136695976")
    tax_rule(uow, "19", country="DE", name="MwSt")
    eur = make_currency(uow, "EUR", suffix=" EUR")
    client = make_client(uow, country="AT", tax_id="ATU13585627", companyname="Alpen AG", language="german",
                         currency=eur.id, city="Wien")
    line = InvoiceLine("Managed server <M>", Decimal("1234.5"), taxed=True)
    invoice = create_invoice(uow, client.id, [line])
    payments.add_payment(uow, invoice.id, transid="tx-77", gateway="banktransfer", amount=Decimal("1000"))
    uow.commit()
    return invoice


def test_html_shows_parties_items_taxes_payments_balance(uow):
    invoice = _invoice(uow)
    html = render_invoice_html(uow, invoice.id)
    for text in ("Wolke GmbH", "Hauptstr. 1", "VAT number: DE136695976", "Alpen AG", "ATU13585627",
                 "Managed server &lt;M&gt;", "1.234,50\xa0€", "Bank Transfer", "tx-77", "234,50\xa0€",
                 "Reverse charge", "Unpaid", f"Proforma Invoice #{invoice.id}"):
        assert text in html, text
    assert "MwSt" not in html  # reverse charged: no tax line


def test_babel_formats_per_locale_and_currency_decimals(uow):
    yen = make_currency(uow, "JPY", decimals=0)
    eur = make_currency(uow, "EUR")
    assert format_amount(Decimal("1234.5"), eur, "de_DE") == "1.234,50\xa0€"
    assert format_amount(Decimal("1234.5"), eur, "en_US") == "€1,234.50"
    assert format_amount(Decimal("1234.4"), yen, "en_US") == "¥1,234"


def test_cli_writes_pdf(uow, tmp_path):
    invoice = _invoice(uow)
    target = tmp_path / "inv.pdf"
    result = CliRunner().invoke(cli, ["invoice", "pdf", str(invoice.id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 4000
    missing = CliRunner().invoke(cli, ["invoice", "pdf", "999", "-o", str(tmp_path / "x.pdf")])
    assert missing.exit_code == 1 and "Invoice ID Not Found" in missing.output


def test_http_route_needs_credentials(api, uow):
    invoice = _invoice(uow)
    url = f"/admin/invoices/{invoice.id}.pdf"
    good = "Basic " + base64.b64encode(f"{api.identifier}:{api.secret}".encode()).decode()
    bad = "Basic " + base64.b64encode(f"{api.identifier}:wrong".encode()).decode()
    response = api.client.get(url, headers={"Authorization": good})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert api.client.get(url).status_code == 401
    refused = api.client.get(url, headers={"Authorization": bad})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert api.client.get("/admin/invoices/999.pdf", headers={"Authorization": good}).status_code == 404


def test_cli_refund(uow, db):
    invoice = _invoice(uow)
    payment_id = uow.session.scalar(select(Transaction.id).where(Transaction.invoice_id == invoice.id))
    client_id = invoice.client_id
    uow.session.close()
    result = CliRunner().invoke(cli, ["invoice", "refund", str(payment_id), "--amount", "400", "--to-credit"])
    assert result.exit_code == 0, result.output
    credit, balance = peek(db, lambda u: (u.session.get(Client, client_id).credit,
                                          invoice_balance(u, u.session.get(Invoice, invoice.id))))
    assert credit == Decimal("400.00") and balance == Decimal("634.50")
    too_much = CliRunner().invoke(cli, ["invoice", "refund", str(payment_id), "--amount", "9999"])
    assert too_much.exit_code == 1 and "not exceed" in too_much.output
