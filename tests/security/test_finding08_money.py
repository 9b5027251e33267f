"""Finding 8: one money rule for every amount: plain decimal notation, at most the
currency's places where it is known, nothing else (no ``_``, exponent, inf or nan)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billow.api import params as api_params
from billow.errors import ValidationError

LOOSE = ["1_000", "1e3", "1e-308", "1E2", "nan", "NaN", "inf", "-Infinity", "0x10", "1.2.3", "١٠", "+-1", "."]


@pytest.mark.parametrize("text", LOOSE)
def test_parse_amount_refuses_loose_notation(text: str) -> None:
    with pytest.raises(ValidationError, match="Invalid amount"):
        api_params.parse_amount(text, "Invalid amount")


@pytest.mark.parametrize(("text", "value"), [
    ("10", "10"), ("10.00", "10.00"), ("-5.5", "-5.5"), ("+5", "5"), (".5", "0.5"), ("5.", "5"),
    ("1,000.00", "1000.00"), (" 7.25 ", "7.25"),
])
def test_parse_amount_accepts_plain_decimals(text: str, value: str) -> None:
    assert api_params.parse_amount(text, "Invalid amount") == Decimal(value)


def test_places_follow_the_currency() -> None:
    assert api_params.parse_amount("0.10", "x", 2) == Decimal("0.1")
    with pytest.raises(ValidationError):
        api_params.parse_amount("0.001", "x", 2)
    with pytest.raises(ValidationError):
        api_params.parse_amount("1.5", "x", 0)


@pytest.mark.parametrize("amount", ["1_000", "1e-308", "1e3", "nan", "0.001"])
def test_payment_refuses_loose_amounts(api: Any, invoice_id: str, amount: str) -> None:
    assert api.error("AddInvoicePayment", invoiceid=invoice_id, transid="t", gateway="banktransfer",
                     amount=amount) == "Invalid amount"
    assert api.ok("GetInvoice", invoiceid=invoice_id)["status"] == "Unpaid"


def test_every_money_parameter_uses_the_rule(api: Any, client_id: str, invoice_id: str) -> None:
    checks = [
        ("CreateInvoice", {"userid": client_id, "itemdescription1": "x", "itemamount1": "1_000"},
         "Invalid itemamount1"),
        ("UpdateInvoice", {"invoiceid": invoice_id, "newitemdescription[0]": "x", "newitemamount[0]": "1e3"},
         "Invalid newitemamount[0]"),
        ("UpdateInvoice", {"invoiceid": invoice_id, "taxrate": "1_0"}, "Invalid taxrate"),
        ("AddCredit", {"clientid": client_id, "description": "d", "amount": "1_000"},
         "Amount must be in decimal format: ### or ###.##"),
        ("AddCredit", {"clientid": client_id, "description": "d", "amount": "1.001"},
         "Amount must be in decimal format: ### or ###.##"),
        ("ApplyCredit", {"invoiceid": invoice_id, "amount": "1e1"},
         "Credit Amount to apply must be greater than zero"),
        ("AddTransaction", {"paymentmethod": "banktransfer", "userid": client_id, "amountin": "inf"},
         "Invalid amountin"),
        ("AddBillableItem", {"clientid": client_id, "description": "d", "amount": "1_0"}, "Invalid amount"),
        ("AddOrder", {"clientid": client_id, "pid[0]": "1", "priceoverride[0]": "1_0",
                      "paymentmethod": "banktransfer"}, "Invalid quantity or price override"),
        ("AddProduct", {"name": "P", "gid": "1", "pricing[1][monthly]": "1e2"}, None),
        ("UpdateClientProduct", {"serviceid": "1", "recurringamount": "1_0"}, None),
    ]
    for action, params, message in checks:
        body = api.call(action, **params)
        assert body["result"] == "error", (action, body)
        if message:
            assert body["message"] == message, (action, body)
    assert api.ok("AddInvoicePayment", invoiceid=invoice_id, transid="t1", gateway="banktransfer",
                  amount="10.00")
    assert api.ok("GetInvoice", invoiceid=invoice_id)["status"] == "Paid"
