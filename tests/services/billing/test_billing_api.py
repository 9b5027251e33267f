"""Every billing action through the real ASGI app: WHMCS shapes, outcomes and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billing_helpers import email_templates, make_client, peek
from sqlalchemy import select
from whmcs_examples import EXAMPLES, assert_shape

from billow.db.models import Client, CreditLog, Invoice, Transaction


@pytest.fixture
def cid(uow):
    client = make_client(uow)
    uow.commit()
    return client.id


def _invoice(api, cid, *amounts, **extra):
    params = {"userid": cid}
    for n, amount in enumerate(amounts, start=1):
        params[f"itemdescription{n}"] = f"Line {n}"
        params[f"itemamount{n}"] = amount
        params[f"itemtaxed{n}"] = "0"
    params.update(extra)
    return int(api.ok("CreateInvoice", **params)["invoiceid"])


def _credit(db, cid):
    return peek(db, lambda u: u.session.get(Client, cid).credit)


def test_create_invoice_shape_and_lines(api, uow, cid):
    body = api.ok("CreateInvoice", userid=cid, itemdescription1="Web hosting", itemamount1="10.00",
                  itemtaxed1="1", itemdescription2="Setup", itemamount2="5.5", date="2026-01-02",
                  duedate="2026-01-09", paymentmethod="mailin", notes="hello")
    assert_shape(body, EXAMPLES["CreateInvoice"])
    assert body["status"] == "Unpaid"
    got = api.ok("GetInvoice", invoiceid=body["invoiceid"])
    assert_shape(got, EXAMPLES["GetInvoice"])
    assert [(i["description"], i["amount"], i["taxed"]) for i in got["items"]["item"]] == [
        ("Web hosting", "10.00", 1), ("Setup", "5.50", 0)]
    assert (got["date"], got["duedate"], got["total"], got["balance"], got["transactions"]) == (
        "2026-01-02", "2026-01-09", "15.50", "15.50", "")
    assert got["paymentmethod"] == "mailin" and got["notes"] == "hello" and got["ccgateway"] is False


def test_create_invoice_errors_and_draft(api, cid):
    assert api.error("CreateInvoice", userid=999) == "Client ID Not Found"
    assert api.error("CreateInvoice", userid=cid, draft="1", sendinvoice="1") == (
        "Cannot create and send a draft invoice in a single API request. Please create and send separately.")
    assert api.ok("CreateInvoice", userid=cid, draft="true")["status"] == "Draft"
    assert api.error("CreateInvoice", userid=cid, status="Bogus") == "Invalid status Bogus"


def test_create_invoice_sendinvoice_and_autoapplycredit(api, uow, cid, db):
    api.ok("AddCredit", clientid=cid, description="gift", amount="4")
    inv = _invoice(api, cid, "10", sendinvoice="1", autoapplycredit="1")
    got = api.ok("GetInvoice", invoiceid=inv)
    assert (got["credit"], got["total"], got["balance"]) == ("4.00", "6.00", "6.00")
    assert email_templates(db) == ["Invoice Created"]


def test_update_invoice_items_status_publish(api, uow, cid):
    inv = _invoice(api, cid, "10", "20", draft="1")
    items = api.ok("GetInvoice", invoiceid=inv)["items"]["item"]
    body = api.ok("UpdateInvoice", invoiceid=inv, **{
        f"itemdescription[{items[0]['id']}]": "Changed", f"itemamount[{items[0]['id']}]": "12.00",
        f"itemtaxed[{items[0]['id']}]": "0", "deletelineids[]": str(items[1]["id"]),
        "newitemdescription[0]": "New", "newitemamount[0]": "3", "newitemtaxed[0]": "0",
        "notes": "edited", "publishandsendemail": "1",
    })
    assert_shape(body, EXAMPLES["UpdateInvoice"])
    got = api.ok("GetInvoice", invoiceid=inv)
    assert [(i["description"], i["amount"]) for i in got["items"]["item"]] == [
        ("Changed", "12.00"), ("New", "3.00")]
    assert (got["status"], got["total"], got["notes"]) == ("Unpaid", "15.00", "edited")
    assert api.error("UpdateInvoice", invoiceid=inv, publish="1") == (
        "Invoice must be in Draft status to be published")
    assert api.error("UpdateInvoice", invoiceid=999) == "Invoice ID Not Found"
    assert api.error("UpdateInvoice", invoiceid=inv, status="Nope") == "Invalid status Nope"
    assert api.error("UpdateInvoice", invoiceid=inv, **{"itemdescription[1]": "x"}) == (
        "Missing Variables: itemdescription, itemamount and itemtaxed are required for each item "
        "being changed")
    api.ok("UpdateInvoice", invoiceid=inv, status="Cancelled")
    assert api.ok("GetInvoice", invoiceid=inv)["status"] == "Cancelled"


def test_update_invoice_removing_lines_to_zero_marks_paid(api, cid):
    inv = _invoice(api, cid, "10", "5")
    api.ok("AddInvoicePayment", invoiceid=inv, transid="p1", gateway="mailin", amount="10", date="2026-01-01")
    line = api.ok("GetInvoice", invoiceid=inv)["items"]["item"][1]["id"]
    api.ok("UpdateInvoice", invoiceid=inv, **{"deletelineids[0]": str(line)})
    got = api.ok("GetInvoice", invoiceid=inv)
    assert got["status"] == "Paid" and got["balance"] == "0.00"


def test_get_invoices_filters_paging_and_shape(api, cid, uow):
    other = make_client(uow)
    uow.commit()
    ids = [_invoice(api, cid, str(n)) for n in (5, 7, 9)]
    _invoice(api, other.id, "1")
    api.ok("AddInvoicePayment", invoiceid=ids[1], transid="t", gateway="mailin", date="2026-01-01 10:00:00")
    body = api.ok("GetInvoices", userid=cid, limitstart=1, limitnum=1, orderby="total", order="desc")
    assert_shape(body, EXAMPLES["GetInvoices"])
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (3, 1, 1)
    assert body["invoices"]["invoice"][0]["total"] == "7.00"
    assert api.ok("GetInvoices", status="Paid")["totalresults"] == 1
    assert api.ok("GetInvoices", status="unpaid")["totalresults"] == 3
    empty = api.ok("GetInvoices", userid=cid, limitstart=10)
    assert empty["numreturned"] == 0 and empty["invoices"] == {"invoice": []}


def test_get_invoices_overdue(api, cid):
    _invoice(api, cid, "1", duedate="2000-01-01")
    _invoice(api, cid, "1", duedate="2999-01-01")
    assert api.ok("GetInvoices", status="Overdue")["totalresults"] == 1


def test_add_invoice_payment_partial_full_over(api, uow, cid, db):
    inv = _invoice(api, cid, "100")
    body = api.ok("AddInvoicePayment", invoiceid=inv, transid="a1", gateway="banktransfer", amount="40",
                  date="2026-02-01 09:00:00", fees="1.5")
    assert_shape(body, EXAMPLES["AddInvoicePayment"])
    got = api.ok("GetInvoice", invoiceid=inv)
    assert (got["status"], got["balance"]) == ("Unpaid", "60.00")
    assert_shape(got, {**EXAMPLES["GetInvoice"], "transactions": EXAMPLES["GetTransactions"]["transactions"]})
    api.ok("AddInvoicePayment", invoiceid=inv, transid="a2", gateway="banktransfer", amount="75",
           date="2026-02-02")
    got = api.ok("GetInvoice", invoiceid=inv)
    assert got["status"] == "Paid" and got["balance"] == "-15.00" and got["invoicenum"] == "1"
    assert _credit(db, cid) == Decimal("15.00")
    log = peek(db, lambda u: [(c.description, c.amount, c.relid) for c in u.session.scalars(
        select(CreditLog).where(CreditLog.client_id == cid))])
    assert log == [
        (f"Invoice #{inv} Overpayment", Decimal("15.00"), inv)]
    assert email_templates(db) == ["Invoice Payment Confirmation"]


def test_add_invoice_payment_full_balance_noemail_and_errors(api, uow, cid, db):
    inv = _invoice(api, cid, "20")
    api.ok("AddInvoicePayment", invoiceid=inv, transid="x1", gateway="mailin", date="2026-02-01", noemail="1")
    assert api.ok("GetInvoice", invoiceid=inv)["status"] == "Paid"
    assert email_templates(db) == []
    assert api.error("AddInvoicePayment", invoiceid=999, transid="z", gateway="mailin") == (
        "Invoice ID Not Found")
    second = _invoice(api, cid, "20")
    assert api.error("AddInvoicePayment", invoiceid=second, transid="x1", gateway="mailin",
                     date="2026-02-01") == "Transaction ID must be Unique"
    api.ok("AddInvoicePayment", invoiceid=second, transid="x1", gateway="banktransfer", amount="1",
           date="2026-02-01")
    assert api.error("AddInvoicePayment", invoiceid=second, transid="x9", gateway="mailin",
                     date="yesterday") == "Invalid Date Format - Expected: 'YYYY-MM-DD HH:mm:ss'"
    cancelled = _invoice(api, cid, "5", status="Cancelled")
    assert api.error("AddInvoicePayment", invoiceid=cancelled, transid="c", gateway="mailin") == (
        "It is not possible to add a payment to an invoice that is Cancelled")
    draft = _invoice(api, cid, "5", draft="1")
    assert api.error("AddInvoicePayment", invoiceid=draft, transid="d", gateway="mailin") == (
        "It is not possible to add a payment to an invoice that is a Draft")
    assert peek(db, lambda u: u.session.scalar(
        select(Transaction).where(Transaction.transid == "x9"))) is None


def test_transactions_add_update_get(api, uow, cid, db):
    inv = _invoice(api, cid, "30")
    body = api.ok("AddTransaction", paymentmethod="mailin", userid=cid, invoiceid=inv, transid="m1",
                  amountin="10", description="Cheque", date="01/02/2026")
    assert_shape(body, EXAMPLES["AddTransaction"])
    listed = api.ok("GetTransactions", invoiceid=inv)
    assert_shape(listed, EXAMPLES["GetTransactions"])
    row = listed["transactions"]["transaction"][0]
    assert (row["amountin"], row["transid"], row["date"][:10], row["userid"]) == (
        "10.00", "m1", "2026-02-01", str(cid))
    assert api.error("AddTransaction", paymentmethod="mailin", userid=cid, transid="m1") == (
        "Transaction ID must be Unique")
    api.ok("AddTransaction", paymentmethod="mailin", userid=cid, transid="m1", allowduplicatetransid="1",
           amountin="1", credit="1")
    assert _credit(db, cid) == Decimal("1.00")
    assert api.error("AddTransaction", userid=cid) == "Payment Method is required"
    assert api.error("AddTransaction", paymentmethod="mailin", userid=999) == "Client ID Not Found"
    assert api.error("AddTransaction", paymentmethod="mailin", invoiceid=999) == "Invoice ID Not Found"
    other = make_client(uow)
    uow.commit()
    assert api.error("AddTransaction", paymentmethod="mailin", userid=other.id, invoiceid=inv) == (
        "User ID does not own the given Invoice ID")
    assert api.error("AddTransaction", paymentmethod="mailin", amountin="3") == (
        "A Currency ID is required for non-customer related transactions")
    assert api.error("AddTransaction", paymentmethod="mailin", currencyid=99) == "Currency ID Not Found"
    tid = int(row["id"])
    updated = api.ok("UpdateTransaction", transactionid=tid, description="Cheque 42", fees="0.50")
    assert_shape(updated, EXAMPLES["UpdateTransaction"])
    assert updated["transactionid"] == tid
    again = api.ok("GetTransactions", transid="m1")["transactions"]["transaction"]
    assert [(t["description"], t["fees"]) for t in again][:1] == [("Cheque 42", "0.50")]
    assert api.error("UpdateTransaction", transactionid=999) == "Transaction ID Not Found"
    assert api.ok("GetTransactions", clientid=cid)["totalresults"] == 2


def test_payment_methods(api):
    body = api.ok("GetPaymentMethods")
    assert_shape(body, EXAMPLES["GetPaymentMethods"])
    assert body["paymentmethods"]["paymentmethod"] == [
        {"module": "banktransfer", "displayname": "Bank Transfer"},
        {"module": "mailin", "displayname": "Mail In Payment"}]


def test_credit_actions(api, uow, cid, db):
    body = api.ok("AddCredit", clientid=cid, description="Goodwill", amount="25.50", date="2026-03-01")
    assert_shape(body, EXAMPLES["AddCredit"])
    assert body["newbalance"] == "25.50"
    removed = api.ok("AddCredit", clientid=cid, description="Fix", amount="5", type="remove")
    assert removed["newbalance"] == "20.50"
    assert api.error("AddCredit", clientid=cid, description="x", amount="50", type="remove") == (
        "Amount exceeds customer credit balance")
    assert api.error("AddCredit", clientid=cid, amount="1", type="other") == "Type can only be add or remove"
    assert api.error("AddCredit", clientid=999, amount="1") == "Client ID Not Found"
    assert api.error("AddCredit", clientid=cid) == "No Amount Provided"
    assert api.error("AddCredit", clientid=cid, amount="1,5x") == (
        "Amount must be in decimal format: ### or ###.##")
    assert api.error("AddCredit", clientid=cid, amount="1", date="03/01/2026") == "Date Format is not Valid"
    assert api.error("AddCredit", clientid=cid, amount="1", adminid=999) == "Admin ID Not Found"
    inv = _invoice(api, cid, "30")
    applied = api.ok("ApplyCredit", invoiceid=inv, amount="10")
    assert_shape(applied, EXAMPLES["ApplyCredit"])
    assert (applied["amount"], applied["invoicepaid"]) == ("10.00", "false")
    assert api.error("ApplyCredit", invoiceid=inv, amount="15") == "Amount exceeds customer credit balance"
    assert api.error("ApplyCredit", invoiceid=inv, amount="0") == (
        "Credit Amount to apply must be greater than zero")
    api.ok("AddCredit", clientid=cid, description="More", amount="100")
    assert api.error("ApplyCredit", invoiceid=inv, amount="25") == "Amount Exceeds Invoice Balance"
    done = api.ok("ApplyCredit", invoiceid=inv, amount="20", noemail="1")
    assert done["invoicepaid"] == "true"
    assert api.error("ApplyCredit", invoiceid=inv, amount="1") == "Invoice Not in Unpaid Status"
    assert api.error("ApplyCredit", invoiceid=999) == "Invoice ID Not Found"
    credits = api.ok("GetCredits", clientid=cid)
    assert_shape(credits, EXAMPLES["GetCredits"])
    rows = credits["credits"]["credit"]
    assert [r["amount"] for r in rows] == ["25.50", "-5.00", "-10.00", "100.00", "-20.00"]
    assert rows[2]["description"] == f"Credit Applied to Invoice #{inv}" and rows[2]["relid"] == str(inv)
    assert api.error("GetCredits", clientid=999) == "Client ID Not Found"
    assert _credit(db, cid) == Decimal("90.50")


def test_billable_items_and_gen_invoices(api, uow, cid, db):
    body = api.ok("AddBillableItem", clientid=cid, description="Consulting", amount="150", unit="hours",
                  quantity="3", invoiceaction="nextcron")
    assert_shape(body, EXAMPLES["AddBillableItem"])
    assert api.error("AddBillableItem", clientid=999, description="x", amount="1", unit="hours") == (
        "Client ID not Found")
    assert api.error("AddBillableItem", clientid=cid, amount="1", unit="hours") == (
        "You must provide a description")
    assert api.error("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                     invoiceaction="later") == "Invalid Invoice Action"
    assert api.error("AddBillableItem", clientid=cid, description="x", amount="1", unit="days") == (
        "Invalid Unit, please specify either 'hours' or 'quantity'")
    assert api.error("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                     invoiceaction="recur", recur="1", duedate="2026-01-01") == (
        "Recurring must have a unit, cycle and limit")
    assert api.error("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                     invoiceaction="duedate") == "Due date is required"
    assert api.error("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                     invoiceaction="duedate", duedate="01/02/2026") == (
        "Invalid Date Format - Expected: 'YYYY-mm-dd'")
    assert api.error("GenInvoices", clientid=999) == "Client ID Not Found"
    assert api.ok("GenInvoices", serviceids="5")["numcreated"] == "0"
    gen = api.ok("GenInvoices", noemails="1")
    assert_shape(gen, EXAMPLES["GenInvoices"])
    assert gen["numcreated"] == "1"
    got = api.ok("GetInvoice", invoiceid=gen["latestinvoiceid"])
    assert got["items"]["item"][0]["description"] == "Consulting (3 Hours)"
    assert got["items"]["item"][0]["type"] == "Item"
    assert api.ok("GenInvoices")["numcreated"] == "0"
    total = peek(db, lambda u: u.session.get(Invoice, gen["latestinvoiceid"]).total)
    assert total == Decimal("150")


def test_client_stats_through_get_clients_details(api, cid):
    inv = _invoice(api, cid, "12.50")
    api.ok("AddInvoicePayment", invoiceid=inv, transid="s1", gateway="mailin", amount="2.50",
           date="2026-01-01")
    api.ok("AddCredit", clientid=cid, description="x", amount="3")
    stats = api.ok("GetClientsDetails", clientid=cid, stats="true")["stats"]
    assert stats["numunpaidinvoices"] == 1 and stats["dueinvoicesbalance"] == "$10.00 USD"
    assert stats["creditbalance"] == "$3.00 USD" and stats["incredit"] is True
    assert stats["income"] == "$2.50 USD"


def test_xml_response_nests_invoices(api, cid):
    _invoice(api, cid, "9.99")
    response = api.raw("GetInvoices", responsetype="xml")
    assert response.headers["content-type"].startswith("text/xml")
    text = response.text.replace("\n", "")
    assert "<invoices><invoice>" in text and "<total>9.99</total>" in text
    assert "<result>success</result>" in text


def test_payment_through_the_real_server(live_server, api, cid):
    import httpx

    def call(http, action, **params):
        data = {"identifier": api.identifier, "secret": api.secret, "action": action, **params}
        return http.post("/includes/api.php", data=data).json()

    with httpx.Client(base_url=live_server, timeout=30) as http:
        created = call(http, "CreateInvoice", userid=cid, itemdescription1="Plan", itemamount1="20")
        paid = call(http, "AddInvoicePayment", invoiceid=created["invoiceid"], transid="live-1",
                    gateway="mailin", date="2026-01-01 12:00:00")
        got = call(http, "getinvoice", invoiceid=created["invoiceid"])
    assert paid == {"result": "success"}
    assert (got["status"], got["balance"]) == ("Paid", "0.00")
    assert got["transactions"]["transaction"][0]["transid"] == "live-1"
