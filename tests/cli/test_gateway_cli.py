"""``billow gateway``: activation with encrypted settings, masking, and the Gateway Log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text
from typer.testing import CliRunner

from billow.cli import app as cli
from billow.db.models import GatewaySetting

runner = CliRunner()
SECRET = "sk_test_verysecret123"


def billow(*args: str, code: int = 0) -> Any:
    result = runner.invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result


def test_activate_show_settings_deactivate_and_list(db: Any, api: Any) -> None:
    out = billow("gateway", "activate", "testcard", "--setting", f"secret_key={SECRET}",
                 "--setting", "fee_percent=2", "--test-mode").output
    assert "active, test mode" in out and SECRET not in out and "secret_key = ********" in out
    shown = json.loads(billow("gateway", "show", "testcard", "--json").stdout)
    assert shown["settings"] == {"fee_percent": "2", "secret_key": "********"}
    assert shown["active"] and shown["test_mode"] and "store_remote" in shown["hooks"]
    with db() as session:
        row = session.scalar(select(GatewaySetting).where(GatewaySetting.gateway == "testcard"))
        assert SECRET not in json.dumps(row.settings) and row.settings["secret_key"].startswith("enc:")
        dump = " ".join(str(r) for r in session.execute(text("SELECT * FROM gateway_settings")))
        assert SECRET not in dump
    methods = api.ok("GetPaymentMethods")["paymentmethods"]["paymentmethod"]
    assert {"module": "testcard", "displayname": "Test Card (sandbox)"} in methods
    # settings changes keep the rest; the module reads them decrypted
    billow("gateway", "settings", "testcard", "--setting", "fee_percent=3")
    from billow.modules.gateways import load_gateway
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        gateway = load_gateway(uow, "testcard")
        assert gateway is not None and gateway.test_mode
        assert gateway.settings == {"fee_percent": "3", "secret_key": SECRET}
    listed = json.loads(billow("gateway", "list", "--json").stdout)
    assert {g["name"] for g in listed} >= {"banktransfer", "mailin", "testcard"}
    assert SECRET not in billow("gateway", "list").output
    assert "testcard deactivated" in billow("gateway", "deactivate", "testcard").output
    methods = api.ok("GetPaymentMethods")["paymentmethods"]["paymentmethod"]
    assert "testcard" not in {m["module"] for m in methods}


def test_errors_are_one_line(db: Any) -> None:
    assert "Gateway not found: nope" in billow("gateway", "show", "nope", code=1).output
    assert "Unknown setting for testcard: colour" in billow(
        "gateway", "activate", "testcard", "--setting", "colour=red", code=1).output
    assert "key=value" in billow("gateway", "activate", "testcard", "--setting", "novalue", code=1).output


def test_gateway_log_lists_masked_entries(db: Any, api: Any) -> None:
    billow("gateway", "activate", "testcard", "--setting", f"secret_key={SECRET}")
    client = api.ok("AddClient", firstname="Ann", lastname="Lee", email="ann@example.com", address1="1 St",
                    city="Town", state="CA", postcode="90001", country="US", phonenumber="5555550100",
                    skipvalidation=1)["clientid"]
    api.ok("AddPayMethod", clientid=client, type="RemoteCreditCard", gateway_module_name="testcard",
           card_number="4242424242424242", card_expiry="1230")
    entries = json.loads(billow("gateway", "log", "--gateway", "testcard", "--json").stdout)
    assert [e["kind"] for e in entries] == ["store_remote"] and entries[0]["result"] == "Success"
    assert entries[0]["data"]["card_number"] == "************4242"
    assert entries[0]["data"]["token"] == "********"
    text_out = billow("gateway", "log").output
    assert "4242424242424242" not in text_out and SECRET not in text_out
    assert json.loads(billow("gateway", "log", "--gateway", "banktransfer", "--json").stdout) == []
