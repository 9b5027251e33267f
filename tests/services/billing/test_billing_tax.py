"""Taxes: rules by place, EU VAT (reverse charge, OSS), compound, inclusive, rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billing_helpers import make_client, make_currency, settings, tax_rule

from billow.services.billing import tax
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice

D = Decimal


@pytest.fixture
def eu(uow):
    """A German seller in EU VAT mode with German, French and Austrian rates."""
    settings(uow, TaxEnabled="on", TaxEUVATMode="on", TaxEUHomeCountry="DE")
    tax_rule(uow, "19", country="DE")
    tax_rule(uow, "20", country="FR")
    tax_rule(uow, "20", country="AT")
    return uow


def _rates(uow, **client):
    return tax.rates_for_client(uow, make_client(uow, **client))


def test_domestic_consumer_pays_home_rate(eu):
    assert _rates(eu, country="DE").rate1 == D("19")


def test_eu_consumer_in_another_state_seller_rate_or_oss(eu):
    assert _rates(eu, country="FR").rate1 == D("19")
    settings(eu, TaxEUOSS="on")
    assert _rates(eu, country="FR").rate1 == D("20")


def test_eu_business_with_valid_vat_number_is_reverse_charged(eu):
    rates = _rates(eu, country="NL", tax_id="NL004495445B01", companyname="Acme BV")
    assert rates.reverse_charge and rates.rate1 == 0 and rates.rate2 == 0
    client = make_client(eu, country="AT", tax_id="ATU13585627")
    invoice = create_invoice(eu, client.id, [InvoiceLine("Service", D("100"), taxed=True)])
    assert invoice.tax == 0 and invoice.total == D("100.00") and invoice.tax_note == "reverse_charge"


def test_eu_business_with_invalid_vat_number_pays_vat(eu):
    assert not tax.check_vat_number("DE136695978").valid
    rates = _rates(eu, country="FR", tax_id="FR00000000000")
    assert not rates.reverse_charge and rates.rate1 == D("19")


def test_domestic_business_still_pays_vat(eu):
    assert tax.check_vat_number("DE 136 695 976") == tax.VatCheck(True, "DE", "DE136695976")
    assert _rates(eu, country="DE", tax_id="DE136695976").rate1 == D("19")


def test_non_eu_client_pays_no_vat(eu):
    rates = _rates(eu, country="US", state="NY")
    assert rates.rate1 == 0 and not rates.reverse_charge


def test_exempt_client_and_tax_disabled(uow):
    tax_rule(uow, "10")
    assert _rates(uow, country="US").rate1 == 0
    settings(uow, TaxEnabled="on")
    assert _rates(uow, country="US").rate1 == D("10")
    assert _rates(uow, country="US", taxexempt=True).rate1 == 0


def test_rules_by_state_then_country_then_any(uow):
    settings(uow, TaxEnabled="on")
    tax_rule(uow, "1")
    tax_rule(uow, "5", country="US")
    tax_rule(uow, "8.875", country="US", state="NY")
    assert _rates(uow, country="US", state="NY").rate1 == D("8.875")
    assert _rates(uow, country="US", state="CA").rate1 == D("5")
    assert _rates(uow, country="GB").rate1 == D("1")


def test_compound_level_two(uow):
    lines = [(D("100"), True)]
    simple = tax.compute(lines, D("10"), D("5"), tax.TaxMode())
    compound = tax.compute(lines, D("10"), D("5"), tax.TaxMode(compound=True))
    assert (simple.tax1, simple.tax2, simple.total) == (D("10.00"), D("5.00"), D("115.00"))
    assert (compound.tax1, compound.tax2, compound.total) == (D("10.00"), D("5.50"), D("115.50"))


def test_inclusive_pricing(uow):
    settings(uow, TaxEnabled="on", TaxType="Inclusive")
    tax_rule(uow, "19", country="DE")
    client = make_client(uow, country="DE")
    invoice = create_invoice(uow, client.id, [InvoiceLine("Plan", D("119"), taxed=True),
                                              InvoiceLine("Untaxed", D("10"))])
    assert (invoice.subtotal, invoice.tax, invoice.total) == (D("110.00"), D("19.00"), D("129.00"))
    both = tax.compute([(D("115.50"), True)], D("10"), D("5"), tax.TaxMode(inclusive=True, compound=True))
    assert (both.subtotal, both.tax1, both.tax2) == (D("100.00"), D("10.00"), D("5.50"))


def test_rounding_per_line_or_total():
    lines = [(D("0.05"), True)] * 3
    assert tax.compute(lines, D("10"), D("0"), tax.TaxMode(per_line=True)).tax1 == D("0.03")
    assert tax.compute(lines, D("10"), D("0"), tax.TaxMode()).tax1 == D("0.02")


def test_amounts_quantised_to_currency_decimals(uow):
    yen = make_currency(uow, "JPY", decimals=0, prefix="¥")
    settings(uow, TaxEnabled="on")
    tax_rule(uow, "10", country="JP")
    client = make_client(uow, country="JP", currency=yen.id)
    invoice = create_invoice(uow, client.id, [InvoiceLine("Plan", D("1234.6"), taxed=True)])
    assert (invoice.subtotal, invoice.tax, invoice.total) == (D("1235"), D("124"), D("1359"))
