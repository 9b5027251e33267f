"""No network call while a transaction or the SQLite writer lock is held (issue 11, point 6).

Against the real server (uvicorn) on SQLite: while ModuleCreate waits 10 s on a hanging
WHM, other calls that write (AddClient, AddInvoicePayment) and read (GetClients) answer at
once; and a payment whose provisioning fails is committed before the module is called,
so it stays recorded with the failure in the module queue.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billow.db.models import Currency, Invoice, ModuleQueueEntry, Product, Service, Transaction
from billow.services.catalog import products as catalog
from billow.services.clients.accounts import ClientInput, add_client
from billow.services.hosting import servers
from billow.uow import UnitOfWork

HANG = 10.0
QUICK = 1.0


def _server(uow: UnitOfWork, module: str, url: str, **kw: Any) -> None:
    host, _, port = url.split("//", 1)[1].partition(":")
    servers.add_server(uow, servers.ServerInput(name=f"{module} box", type=module, hostname=host,
                                                port=int(port), secure=False, **kw))


def _arrange(db: Any, whm: Any, fabric: Any) -> dict[str, int]:
    with UnitOfWork(db) as uow:
        currency = uow.session.scalar(select(Currency).where(Currency.is_default.is_(True)))
        if currency is None:
            currency = Currency(code="USD", prefix="$", suffix=" USD", is_default=True, decimals=2)
            uow.session.add(currency)
            uow.session.flush()
        group = catalog.add_group(uow, "Hosting")

        def product(name: str, ptype: str, module: str, autosetup: str, option: str) -> int:
            return catalog.add_product(uow, catalog.ProductInput(
                name=name, gid=group.id, type=ptype, module=module, autosetup=autosetup,
                module_settings={"configoption1": option},
                pricing={currency.id: {"monthly": "10.00"}})).id

        ids = {
            "hosting": product("Starter", "hostingaccount", "cpanel", "on", "starter_pkg"),
            "vps": product("VPS", "server", "infrafabric", "payment", "small-1"),
            "manual": product("Support", "other", "none", "payment", ""),
        }
        _server(uow, "cpanel", whm.url, username="root", accesshash=whm.token, maxaccounts=50)
        _server(uow, "infrafabric", fabric.url, username=fabric.key, password=fabric.secret)
        client = add_client(uow, ClientInput(values={"firstname": "Net", "lastname": "Call",
                                                     "email": "net@example.com", "country": "US"}),
                            skip_validation=True)
        uow.session.flush()
        ids["client"] = client.id
        uow.commit()
    return ids


def test_a_hanging_panel_stalls_only_its_own_request(db, api, live_server, whm, fabric):
    identifier, secret = api.identifier, api.secret
    ids = _arrange(db, whm, fabric)

    def call(http: httpx.Client, action: str, **params: Any) -> dict[str, Any]:
        data = {"identifier": identifier, "secret": secret, "action": action, **params}
        return http.post("/includes/api.php", data=data).json()

    with httpx.Client(base_url=live_server, timeout=30) as http:
        def order(pid: int, domain: str) -> dict[str, Any]:
            placed = call(http, "AddOrder", clientid=ids["client"], paymentmethod="mailin", pid=pid,
                          domain=domain, billingcycle="monthly")
            assert placed["result"] == "success", placed
            return placed

        hosting, vps, manual = (order(ids["hosting"], "hang.example.com"),
                                order(ids["vps"], "vm.example.com"), order(ids["manual"], ""))

        whm.delay = HANG
        fabric.down = True  # the VPS's provisioning, triggered by its payment, fails
        answers: dict[str, Any] = {}

        def create() -> None:
            with httpx.Client(base_url=live_server, timeout=HANG + 20) as own:
                started = time.monotonic()
                answers["create"] = call(own, "ModuleCreate", serviceid=hosting["serviceids"])
                answers["create_seconds"] = time.monotonic() - started

        hanging = threading.Thread(target=create, daemon=True)
        hanging.start()
        deadline = time.monotonic() + 5
        while not whm.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert whm.requests, "the module call never reached the panel"

        def timed(action: str, **params: Any) -> dict[str, Any]:
            started = time.monotonic()
            body = call(http, action, **params)
            elapsed = time.monotonic() - started
            assert body["result"] == "success", (action, body)
            assert elapsed < QUICK, f"{action} took {elapsed:.2f}s while a module call hung"
            return body

        timed("AddClient", firstname="Ada", lastname="Quick", email="ada@example.com", address1="1 Way",
              city="Town", state="TX", postcode="75001", country="US", phonenumber="5550100",
              password2="Secret!123", skipvalidation=1)
        timed("AddInvoicePayment", invoiceid=manual["invoiceid"], transid="quick-1", gateway="mailin")
        assert int(timed("GetClients")["totalresults"]) == 2
        # A payment whose provisioning fails: answered as WHMCS does, and recorded.
        assert timed("AddInvoicePayment", invoiceid=vps["invoiceid"], transid="vps-1",
                     gateway="mailin") == {"result": "success"}
        assert hanging.is_alive(), "the hanging call should still be waiting on the panel"

        hanging.join(HANG + 20)
    assert answers["create"] == {"result": "success"} and answers["create_seconds"] >= HANG - 0.5
    with db() as s:
        assert s.get(Service, int(hosting["serviceids"])).status == "Active"
        assert s.get(Service, int(manual["serviceids"])).status == "Active"
        invoice = s.get(Invoice, int(vps["invoiceid"]))
        assert invoice.status == "Paid"
        assert s.scalar(select(Transaction).where(Transaction.transid == "vps-1")).invoice_id == invoice.id
        assert s.get(Service, int(vps["serviceids"])).status == "Pending"
        [entry] = s.scalars(select(ModuleQueueEntry).where(ModuleQueueEntry.completed.is_(False)))
        assert (entry.service_type, entry.service_id, entry.module_action) == (
            "service", int(vps["serviceids"]), "CreateAccount")
        assert entry.last_attempt_error == "maintenance"  # the panel's own message


def test_no_module_call_inside_a_savepoint(db):
    """A network call must not commit its caller's savepoint away: it is refused."""
    with (UnitOfWork(db) as uow, uow.session.begin_nested(),
          pytest.raises(RuntimeError, match="savepoint"), uow.outside_transaction()):
        pass


def _while_called(whm: Any, function: str, probe: Any) -> dict[str, Any]:
    """Run ``probe()`` inside the panel's handling of *function*; keep what it returns."""
    seen: dict[str, Any] = {}
    original = getattr(whm, f"fn_{function}")

    def wrapped(args: dict[str, str]) -> Any:
        started = time.monotonic()
        seen.update(probe())
        seen["probe_seconds"] = time.monotonic() - started
        return original(args)

    setattr(whm, f"fn_{function}", wrapped)
    return seen


def test_payment_commits_before_the_provisioning_it_triggers(db, api, whm, fabric):
    ids = _arrange(db, whm, fabric)
    with UnitOfWork(db) as uow:
        uow.session.get(Product, ids["hosting"]).autosetup = "payment"
        uow.commit()
    placed = api.ok("AddOrder", clientid=ids["client"], paymentmethod="mailin", pid=ids["hosting"],
                    domain="paid.example.com", billingcycle="monthly")

    def probe() -> dict[str, Any]:
        # Another connection reads the committed payment and writes, while the panel works.
        with db() as s:
            status = s.get(Invoice, int(placed["invoiceid"])).status
            s.get(Service, int(placed["serviceids"])).notes = "written during the call"
            s.commit()
        return {"invoice": status}

    seen = _while_called(whm, "createacct", probe)
    assert api.ok("AddInvoicePayment", invoiceid=placed["invoiceid"], transid="p-1",
                  gateway="mailin") == {"result": "success"}
    assert seen["invoice"] == "Paid" and seen["probe_seconds"] < QUICK
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.status, service.notes) == ("Active", "written during the call")


def test_a_unit_of_work_lets_go_of_the_service_while_the_panel_works(db, api, whm, fabric):
    """The path of the CLI and the cron tasks: the service row is not locked during the call."""
    from billow.services.hosting import provisioning

    ids = _arrange(db, whm, fabric)
    placed = api.ok("AddOrder", clientid=ids["client"], paymentmethod="mailin", pid=ids["hosting"],
                    domain="cron.example.com", billingcycle="monthly")
    api.ok("ModuleCreate", serviceid=placed["serviceids"])

    def probe() -> dict[str, Any]:
        with db() as s:
            s.get(Service, int(placed["serviceids"])).notes = "edited meanwhile"
            s.commit()
        return {}

    seen = _while_called(whm, "suspendacct", probe)
    with UnitOfWork(db) as uow:
        assert provisioning.suspend(uow, int(placed["serviceids"]), "Overdue on Payment").success
        uow.commit()
    assert seen["probe_seconds"] < QUICK
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.status, service.notes) == ("Suspended", "edited meanwhile")
