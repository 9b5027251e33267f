"""In-process hooks: loaded from the hooks folder and from entry points, WHMCS semantics."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest

from billow import events
from billow.plugins import load_hooks
from billow.uow import UnitOfWork

HOOK_FILE = '''
import json
from pathlib import Path

from billow.events import add_hook

LOG = Path(__file__).with_name("calls.jsonl")


def _record(name, variables):
    with LOG.open("a") as fh:
        fh.write(json.dumps({"hook": name, "vars": variables}) + "\\n")


@add_hook("ClientAdd", priority=2)
def second(vars):
    _record("ClientAdd:second", vars)


@add_hook("ClientAdd", priority=1)
def first(vars):
    _record("ClientAdd:first", vars)


@add_hook("InvoicePaid", 1)
def paid(vars):
    _record("InvoicePaid", vars)


@add_hook("PreUserAdd", 1)
def refuse_example_org(vars):
    if vars["email"].endswith("@example.org"):
        return {"abortcmd": True, "message": "Sign-ups from example.org are closed"}


@add_hook("ClientEdit", 1)
def broken(vars):
    raise RuntimeError("this hook is broken")


@add_hook("ClientEdit", 2)
def after_broken(vars):
    _record("ClientEdit", vars)
'''


@pytest.fixture
def hooks_dir(data_dir: Path, db) -> Path:
    folder = data_dir / "hooks"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / "my_hooks.py").write_text(HOOK_FILE)
    assert load_hooks(folder) == ["my_hooks.py"]
    return folder


def _calls(folder: Path) -> list[dict]:
    path = folder / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_folder_hooks_run_in_priority_order_with_whmcs_variables(api, hooks_dir, add_client):
    client_id = add_client()
    calls = _calls(hooks_dir)
    assert [c["hook"] for c in calls] == ["ClientAdd:first", "ClientAdd:second"]
    variables = calls[0]["vars"]
    assert variables["client_id"] == client_id
    assert variables["email"] == "ada@example.com" and variables["firstname"] == "Ada"


def test_invoice_paid_hook_gets_the_emitted_variables(db, hooks_dir):
    with UnitOfWork(db) as uow:
        uow.emit("InvoicePaid", {"invoiceid": 42, "invoice": {"id": 42, "total": "15.95"}},
                 resource_type="invoice", resource_id=42)
        uow.commit()
    [call] = _calls(hooks_dir)
    assert call == {"hook": "InvoicePaid", "vars": {"invoiceid": 42, "invoice": {"id": 42, "total": "15.95"}}}


def test_pre_hook_aborts_the_operation_with_its_message(api, db, hooks_dir):
    message = api.error("AddUser", firstname="Eve", lastname="X", email="eve@example.org",
                        password2="a long password 123")
    assert message == "Sign-ups from example.org are closed"
    assert api.ok("GetUsers")["totalresults"] == 0
    api.ok("AddUser", firstname="Bob", lastname="Y", email="bob@example.com", password2="a long password 123")
    assert api.ok("GetUsers")["totalresults"] == 1


def test_a_failing_hook_is_logged_and_the_operation_goes_on(api, hooks_dir, add_client, caplog):
    client_id = add_client()
    with caplog.at_level(logging.ERROR, logger="billow.hooks"):
        api.ok("UpdateClient", clientid=client_id, city="Paris")
    assert "this hook is broken" in caplog.text
    assert api.ok("GetClientsDetails", clientid=client_id)["client"]["city"] == "Paris"
    assert [c["hook"] for c in _calls(hooks_dir)][-1] == "ClientEdit"


def test_raising_hook_abort_stops_a_client_deletion(api, add_client):
    client_id = add_client()

    @events.add_hook("PreDeleteClient")
    def keep(vars):
        raise events.HookAbort(f"Client {vars['userid']} has open disputes")

    assert api.error("DeleteClient", clientid=client_id) == f"Client {client_id} has open disputes"
    assert api.ok("GetClientsDetails", clientid=client_id)["client"]["id"] == client_id


def test_entry_point_hooks_are_loaded(db, tmp_path, monkeypatch):
    import importlib

    package = tmp_path / "site"
    (package / "billow_ep_hooks-1.0.dist-info").mkdir(parents=True)
    (package / "billow_ep_hooks-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: billow-ep-hooks\nVersion: 1.0\n")
    (package / "billow_ep_hooks-1.0.dist-info" / "entry_points.txt").write_text(
        "[billow.hooks]\nep_hooks = billow_ep_hooks\n")
    (package / "billow_ep_hooks.py").write_text(textwrap.dedent('''
        from billow.events import add_hook

        SEEN = []


        @add_hook("ClientClose")
        def closed(vars):
            SEEN.append(vars["userid"])
    '''))
    monkeypatch.syspath_prepend(str(package))
    importlib.invalidate_caches()
    loaded = load_hooks(tmp_path / "no-hooks-folder")
    assert "ep_hooks" in loaded
    with UnitOfWork(db) as uow:
        uow.emit("ClientClose", {"userid": 9}, resource_type="client", resource_id=9)
        uow.commit()
    import billow_ep_hooks

    assert billow_ep_hooks.SEEN == [9]


def test_validation_hooks_return_errors_the_service_can_refuse_with(db):
    @events.add_hook("ShoppingCartValidateCheckout", 1)
    def needs_terms(vars):
        return None if vars.get("accepttos") else "You must accept the terms of service"

    @events.add_hook("ShoppingCartValidateCheckout", 2)
    def blocked_country(vars):
        return ["Orders from XX are not accepted", ""] if vars.get("country") == "XX" else []

    with UnitOfWork(db) as uow:
        ok = uow.emit("ShoppingCartValidateCheckout", {"accepttos": True, "country": "GB"}, outbox=False)
        refused = uow.emit("ShoppingCartValidateCheckout", {"country": "XX"}, outbox=False)
    assert events.validation_errors(ok) == []
    assert events.validation_errors(refused) == [
        "You must accept the terms of service", "Orders from XX are not accepted"]
