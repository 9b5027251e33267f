"""Finding 7: hostile shapes get a clear WHMCS-style error at the boundary, not a crash;
names and subjects never store control characters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from tests.security.conftest import CLIENT

from billow.db.models import Client, Ticket

CRASH = "An unexpected error occurred"


def test_deeply_nested_brackets(api: Any) -> None:
    deep = "customfields[1]" + "[a]" * 5000
    body = api.call("GetClients", **{deep: "1"})
    assert body == {"result": "error",
                    "message": "Invalid parameter customfields: nested more than 16 levels deep"}
    assert api.ok("GetClients", **{"search[a][b][c]": "x"})


@pytest.mark.parametrize("amount", ["922337203685478", "1e28", "1E+30", "100000000000000", "9" * 40])
def test_amounts_beyond_the_database(api: Any, client_id: str, invoice_id: str, amount: str) -> None:
    calls = [
        ("AddInvoicePayment", {"invoiceid": invoice_id, "transid": "t", "gateway": "banktransfer",
                               "amount": amount}, "Invalid amount"),
        ("AddCredit", {"clientid": client_id, "description": "d", "amount": amount}, None),
        ("CreateInvoice", {"userid": client_id, "itemdescription1": "x", "itemamount1": amount},
         "Invalid itemamount1"),
        ("AddTransaction", {"paymentmethod": "banktransfer", "userid": client_id, "amountin": amount},
         "Invalid amountin"),
        ("AddBillableItem", {"clientid": client_id, "description": "d", "amount": amount}, "Invalid amount"),
        ("AddOrder", {"clientid": client_id, "pid[0]": "1", "priceoverride[0]": amount,
                      "paymentmethod": "banktransfer"}, None),
    ]
    for action, params, message in calls:
        body = api.call(action, **params)
        assert body["result"] == "error" and body["message"] != CRASH, (action, body)
        if message:
            assert body["message"] == message, (action, body)


def test_thirty_digit_pid(api: Any) -> None:
    assert api.ok("GetProducts", pid="1" * 30)["totalresults"] == 0


@pytest.mark.parametrize("bad", ["Ada\r\nBcc: x@example.com", "Ada\x1b[31m", "Ada\x00\x07", "Ada\u202eevil"])
def test_control_characters_in_names_and_subjects(api: Any, db: Any, bad: str) -> None:
    message = api.error("AddClient", **{**CLIENT, "firstname": bad})
    assert message == "The firstname may not contain control characters or line breaks"
    client_id = api.ok("AddClient", **CLIENT)["clientid"]
    assert api.error("UpdateClient", clientid=client_id, lastname=bad) == (
        "The lastname may not contain control characters or line breaks")
    assert api.error("OpenTicket", deptid="1", clientid=client_id, subject=f"Hi {bad}", message="m") == (
        "The subject may not contain control characters or line breaks")
    with db() as session:
        names = session.scalars(select(Client.firstname + Client.lastname)).all()
        assert names == ["AdaLovelace"]
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_multi_line_text_keeps_its_line_breaks(api: Any, client_id: str) -> None:
    assert api.ok("AddClientNote", userid=client_id, notes="line one\r\nline two")
