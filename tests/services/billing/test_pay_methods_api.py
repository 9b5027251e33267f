"""Pay methods and CapturePayment over the API, with the built-in testcard gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from tests.whmcs_shapes import assert_whmcs_shape, documented_errors

from billow.db.models import GatewayLog, Invoice, Transaction
from billow.services.billing import gateway_settings
from billow.uow import UnitOfWork

CARD = "4242424242424242"
BANK_ACCOUNT = "000123456789"
ROUTING = "110000000"


@pytest.fixture
def testcard(db: Any) -> None:
    with UnitOfWork(db) as uow:
        gateway_settings.activate(uow, "testcard", {"fee_percent": "0"}, test_mode=True)
        uow.commit()


def _card(api: Any, client: Any, number: str = CARD, **extra: Any) -> dict[str, Any]:
    return api.call("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                    gateway_module_name="testcard", card_number=number, card_expiry="1230",
                    description="Visa", **extra)


def _unpaid(api: Any, client: Any, amount: str = "25.00") -> int:
    body = api.ok("CreateInvoice", userid=client.id, itemdescription1="Hosting", itemamount1=amount,
                  status="Unpaid")
    return int(body["invoiceid"])


def test_remote_card_is_tokenised_and_listed_with_whmcs_shape(api, client, testcard):
    added = _card(api, client)
    assert added["result"] == "success", added
    assert_whmcs_shape("AddPayMethod", added)
    listed = api.ok("GetPayMethods", clientid=client.id)
    assert_whmcs_shape("GetPayMethods", listed)
    [method] = listed["paymethods"]
    assert method["type"] == "RemoteCreditCard" and method["gateway_name"] == "testcard"
    assert method["card_last_four"] == "4242" and method["card_type"] == "Visa"
    assert method["expiry_date"] == "12/30" and method["remote_token"].startswith("tok_")
    assert method["id"] == int(added["paymethodid"])


def test_local_cards_are_refused_and_checks_answer_whmcs_messages(api, client, testcard):
    assert api.error("AddPayMethod", clientid=client.id, type="CreditCard", card_number=CARD,
                     card_expiry="1230") == "No Local Credit Card Payment Gateways Enabled"
    # no type is a local CreditCard in WHMCS
    assert api.error("AddPayMethod", clientid=client.id, card_number=CARD, card_expiry="1230") == \
        "No Local Credit Card Payment Gateways Enabled"
    assert api.error("AddPayMethod") == "Client ID Is Required"
    assert api.error("AddPayMethod", clientid=999) == "Invalid Client ID"
    assert api.error("AddPayMethod", clientid=client.id, type="Cash").startswith("Invalid Pay Method Type")
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard", card_number=CARD) == \
        "Gateway is Required for RemoteCreditCard type"
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                     gateway_module_name="testcard", card_expiry="1230").startswith("Card Number is required")
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                     gateway_module_name="testcard", card_number=CARD).startswith("Expiry Date is required")
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                     gateway_module_name="testcard", card_number=CARD, card_expiry="1399") == \
        "Expiry Date is invalid"
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                     gateway_module_name="nope", card_number=CARD, card_expiry="1230") == \
        "Invalid Gateway Module Name. Must be one of: testcard"
    assert api.error("AddPayMethod", clientid=client.id, type="RemoteCreditCard",
                     gateway_module_name="banktransfer", card_number=CARD, card_expiry="1230") == \
        "Unsupported Gateway Type for Storage"
    assert _card(api, client, "4000000000000002")["message"] == \
        "Error Creating Remote Token: Your card was declined."
    for message in ("No Local Credit Card Payment Gateways Enabled", "Unsupported Gateway Type for Storage"):
        assert message in documented_errors("AddPayMethod")
    assert api.ok("GetPayMethods", clientid=client.id)["paymethods"] == []


def test_bank_account_is_encrypted_and_shown_masked(api, client, db):
    assert api.error("AddPayMethod", clientid=client.id, type="BankAccount", bank_account=BANK_ACCOUNT) == \
        "Routing number is required"
    assert api.error("AddPayMethod", clientid=client.id, type="BankAccount", bank_code=ROUTING) == \
        "Account number is required"
    added = api.ok("AddPayMethod", clientid=client.id, type="BankAccount", bank_name="First Bank",
                   bank_account_type="Checking", bank_code=ROUTING, bank_account=BANK_ACCOUNT)
    [method] = api.ok("GetPayMethods", clientid=client.id, type="BankAccount")["paymethods"]
    assert method["id"] == int(added["paymethodid"]) and method["bank_name"] == "First Bank"
    assert method["bank_account"] == "********6789" and method["remote_token"] == ""
    assert api.ok("GetPayMethods", clientid=client.id, type="CreditCard")["paymethods"] == []
    assert api.error("GetPayMethods", clientid=client.id, type="Cash") == \
        "Invalid Pay Method Type. Should be 'BankAccount' or 'CreditCard'"
    assert api.error("GetPayMethods", clientid=999) == "Client Not Found"
    assert api.error("GetPayMethods") == "Client ID Is Required"
    api.ok("UpdatePayMethod", clientid=client.id, paymethodid=added["paymethodid"], bank_account="99887766")
    [method] = api.ok("GetPayMethods", clientid=client.id)["paymethods"]
    assert method["bank_account"] == "****7766"


def test_update_and_delete_pay_methods(api, client, testcard):
    first = _card(api, client)["paymethodid"]
    second = _card(api, client, "5555555555554444")["paymethodid"]
    ids = [m["id"] for m in api.ok("GetPayMethods", clientid=client.id)["paymethods"]]
    assert ids == [int(first), int(second)]
    assert api.error("UpdatePayMethod", clientid=client.id, paymethodid=second) == \
        "No Details Provided for Update"
    assert api.error("UpdatePayMethod", paymethodid=second) == "Client ID is Required"
    assert api.error("UpdatePayMethod", clientid=client.id) == "Pay Method ID is Required"
    assert api.error("UpdatePayMethod", clientid=client.id, paymethodid=999, card_expiry="0131") == \
        "Invalid Pay Method ID"
    assert api.error("UpdatePayMethod", clientid=client.id + 1, paymethodid=second, card_expiry="0131") == \
        "Pay Method does not belong to passed Client ID"
    assert api.error("UpdatePayMethod", clientid=client.id, paymethodid=second, card_expiry="13/31") == \
        "Expiry Date is invalid"
    updated = api.ok("UpdatePayMethod", clientid=client.id, paymethodid=second, card_expiry="0131",
                     set_as_default=1)
    assert_whmcs_shape("UpdatePayMethod", updated)
    methods = api.ok("GetPayMethods", clientid=client.id)["paymethods"]
    assert [m["id"] for m in methods] == [int(second), int(first)]
    assert methods[0]["expiry_date"] == "01/31" and methods[0]["card_type"] == "MasterCard"
    api.ok("UpdatePayMethod", clientid=client.id, paymethodid=second, card_number="4111111111111111",
           card_expiry="0232")
    [changed] = api.ok("GetPayMethods", clientid=client.id, paymethodid=second)["paymethods"]
    assert changed["card_last_four"] == "1111"
    assert api.error("DeletePayMethod", paymethodid=first) == "Client ID is Required"
    assert api.error("DeletePayMethod", clientid=client.id) == "Pay Method ID is Required"
    assert api.error("DeletePayMethod", clientid=client.id, paymethodid=999) == "Invalid Pay Method ID"
    deleted = api.ok("DeletePayMethod", clientid=client.id, paymethodid=first)
    assert_whmcs_shape("DeletePayMethod", deleted)
    assert [m["id"] for m in api.ok("GetPayMethods", clientid=client.id)["paymethods"]] == [int(second)]
    assert api.error("DeletePayMethod", clientid=client.id, paymethodid=first) == "Invalid Pay Method ID"


def test_capture_payment_charges_the_default_pay_method(api, client, testcard, db):
    invoice_id = _unpaid(api, client)
    assert api.error("CapturePayment", invoiceid=invoice_id) == "Payment Attempt Failed"  # no pay method
    _card(api, client)
    body = api.ok("CapturePayment", invoiceid=invoice_id, cvv="123")
    assert_whmcs_shape("CapturePayment", body)
    with UnitOfWork(db) as uow:
        invoice = uow.session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.status == "Paid"
        [payment] = uow.session.scalars(select(Transaction).where(Transaction.invoice_id == invoice_id))
        assert payment.gateway == "testcard" and payment.transid.startswith("test_")
        logs = list(uow.session.scalars(select(GatewayLog).where(GatewayLog.kind == "capture")))
        assert [entry.result for entry in logs] == ["Success"]
    assert api.error("CapturePayment", invoiceid=invoice_id) == "Invoice Not Found or Not Unpaid"
    assert api.error("CapturePayment", invoiceid=99999) == "Invoice Not Found or Not Unpaid"


def test_a_declined_capture_answers_payment_attempt_failed_and_is_recorded(api, client, testcard, db):
    invoice_id = _unpaid(api, client)
    _card(api, client, "4000000000000341")  # stored, but every capture is declined
    assert api.error("CapturePayment", invoiceid=invoice_id) == "Payment Attempt Failed"
    with UnitOfWork(db) as uow:
        invoice = uow.session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.status == "Unpaid" and invoice.last_capture_attempt is not None
        [entry] = uow.session.scalars(select(GatewayLog).where(GatewayLog.kind == "capture"))
        assert entry.result == "Declined" and "decline_" not in entry.data
    assert "Payment Attempt Failed" in documented_errors("CapturePayment")


def test_no_card_number_or_bank_account_is_stored_or_answered(api, client, testcard, db, database_url):
    _card(api, client)
    api.ok("AddPayMethod", clientid=client.id, type="BankAccount", bank_name="First Bank",
           bank_code=ROUTING, bank_account=BANK_ACCOUNT)
    _card(api, client, "4000000000000002")  # refused: logged, never stored
    invoice_id = _unpaid(api, client)
    api.ok("CapturePayment", invoiceid=invoice_id, cvv="987")
    answers = [api.call("GetPayMethods", clientid=client.id), api.call("GetInvoice", invoiceid=invoice_id)]
    secrets = (CARD, "4000000000000002", BANK_ACCOUNT, ROUTING, "987\"")
    for answer in answers:
        assert not any(s in str(answer) for s in secrets)
    with UnitOfWork(db) as uow:
        tables = [r[0] for r in uow.session.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            if uow.session.bind.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'table'"))]
        dump = []
        for table in tables:
            dump += [str(tuple(row)) for row in uow.session.execute(text(f'SELECT * FROM "{table}"'))]
    everything = "\n".join(dump)
    assert dump and "4242" in everything  # the last four are kept, and the dump did read the rows
    for secret in secrets[:4]:
        assert secret not in everything
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        if path.exists():
            raw = path.read_bytes()
            for secret in secrets[:4]:
                assert secret.encode() not in raw


def test_gateway_log_masks_secrets_and_numbers(db):
    from billow.services.billing import gateway_log

    with UnitOfWork(db) as uow:
        gateway_settings.activate(uow, "testcard", {"fee_percent": "1"})
        gateway_log.record(uow, "testcard", "callback", {
            "secret_key": "sk_test_abcdef", "card": {"number": CARD, "cvc": "123"},
            "body": f"paid with {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} ok", "amount": "10.00",
        }, "Success")
        [entry] = gateway_log.entries(uow, gateway="testcard")
        data = entry.data
    assert CARD not in data and "4242 4242" not in data and "sk_test_abcdef" not in data
    assert "123" not in data and "4242" in data and "10.00" in data
