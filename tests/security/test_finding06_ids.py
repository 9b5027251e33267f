"""Finding 6: ids past any column's range are "not found", never an overflow or a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from billow.api.params import Params, parse_php_pairs

HUGE = "9" * 30


def test_invoice_pdf_route_with_a_huge_id(api: Any) -> None:
    token = base64.b64encode(f"{api.identifier}:{api.secret}".encode()).decode()
    for text in (HUGE, "2147483648", "-1", "1e3", "\u0661"):
        response = api.client.get(f"/admin/invoices/{text}.pdf", headers={"Authorization": f"Basic {token}"})
        assert (response.status_code, response.text) == (404, "Invoice ID Not Found"), text


@pytest.mark.parametrize(("action", "params", "message"), [
    ("GetInvoice", {"invoiceid": HUGE}, "Invoice ID Not Found"),
    ("GetClientsDetails", {"clientid": HUGE}, "Client Not Found"),
    ("GetProducts", {"pid": HUGE}, None),
    ("GetProducts", {"pid": f"1,{HUGE}"}, None),
    ("GetClients", {"limitstart": HUGE, "limitnum": HUGE}, None),
    ("AddOrder", {"clientid": "1", "pid[0]": HUGE, "paymentmethod": "x"}, None),
    ("UpdateInvoice", {"invoiceid": HUGE, "deletelineids[]": HUGE}, "Invoice ID Not Found"),
    ("GenInvoices", {"serviceids[]": HUGE}, None),
])
def test_actions_with_huge_ids(api: Any, action: str, params: dict[str, str], message: str | None) -> None:
    body = api.call(action, **params)
    assert body.get("message") != "An unexpected error occurred", body
    if message:
        assert body == {"result": "error", "message": message}


def test_params_bound_every_integer() -> None:
    params = Params(parse_php_pairs([("a", HUGE), ("b", "-" + HUGE), ("c", "9" * 5000), ("d", "1_000")]))
    assert params.int("a") == 2**31 - 1 and params.int("b") == -(2**31)
    for key in ("c", "d"):
        with pytest.raises(Exception, match=f"Invalid {key}"):
            params.int(key)
