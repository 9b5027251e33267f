"""Product addons with their own provisioning module, against the local InfraFabric server.

A "Backup VM" addon (module ``infrafabric``, its own plan) rides on a VPS (also
``infrafabric``): accepting the order creates both instances; the daily run stops, starts
and deletes the addon's instance on the same days as its service's, after it; a refused
addon call is queued, reported, and retried by the next run or ``billow modulequeue
retry``. A "Support" addon without a module only changes status, as before.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from billow import clock
from billow.automation.runner import run_cron
from billow.automation.tasks.services import (
    AutoSuspensions,
    AutoTerminations,
    AutoUnsuspensions,
    CancellationRequests,
)
from billow.db.models import InvoiceItem, ModuleLog, ModuleQueueEntry, OutboxEvent, Service, ServiceAddon
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice
from billow.services.billing.payments import add_payment
from billow.services.catalog import addons as catalog_addons
from billow.services.catalog import products
from billow.services.hosting import servers
from billow.services.hosting.cancellations import add_cancel_request
from billow.services.orders import placing, status_changes
from billow.services.orders.requests import AddonOrder, OrderItem, OrderRequest
from billow.services.settings import set_setting
from billow.uow import UnitOfWork
from protocol_servers import FakeFabric

from . import book

DUE = date(2027, 3, 10)


class Shop:
    """The VPS product, the two addons and the fabric server, ids only (sessions close)."""

    def __init__(self, uow: UnitOfWork, fabric: FakeFabric, *, autoactivate: str = "on") -> None:
        currency = book.currency(uow)
        group = products.add_group(uow, "Cloud")
        self.vps = products.add_product(uow, products.ProductInput(
            name="VPS", gid=group.id, type="server", module="infrafabric", autosetup="on",
            module_settings={"configoption1": "small-1"}, pricing={currency.id: {"monthly": "20.00"}})).id
        self.backup = catalog_addons.add_addon(
            uow, "Backup VM", packages=[self.vps], pricing={currency.id: {"monthly": "5.00"}},
            module="infrafabric", module_settings={"configoption1": "backup-1", "configoption2": "eu-west"},
            autoactivate=autoactivate).id
        self.support = catalog_addons.add_addon(uow, "Support", packages=[self.vps],
                                         pricing={currency.id: {"monthly": "1.00"}}).id
        host, port = fabric.url.split("//")[1].split(":")
        servers.add_server(uow, servers.ServerInput(
            name="fabric", type="infrafabric", hostname=host, port=int(port), secure=False,
            username=fabric.key, password=fabric.secret, active=True))


@pytest.fixture
def shop(uow, fabric):
    made = Shop(uow, fabric)
    uow.commit()
    return made


def _order(db, shop: Shop, label: str, addons: tuple[int, ...] | None = None) -> tuple[int, dict[int, int]]:
    """Order a VPS with addons and accept it; return the service id and addon row ids by addon."""
    with UnitOfWork(db) as work:
        owner = book.client(work, label)
        placed = placing.add_order(work, OrderRequest(
            client_id=owner.id, paymentmethod="mailin", noinvoice=True, noemail=True,
            items=[OrderItem(pid=shop.vps, billingcycle="monthly", domain=f"{label}.example",
                                    addons=[(a, 1) for a in (addons or (shop.backup, shop.support))])]))
        work.commit()
    with UnitOfWork(db) as work:
        status_changes.accept_order(work, placed.order.id)
        work.commit()
    with db() as session:
        rows = session.scalars(select(ServiceAddon).where(ServiceAddon.id.in_(placed.addon_ids))).all()
        return placed.service_ids[0], {r.addonid: r.id for r in rows}


def _bill_service(db, service_id: int, due: date) -> int:
    """Move the service's due date to *due* and give it an unpaid invoice due then."""
    with UnitOfWork(db) as work:
        service = work.session.get(Service, service_id)
        service.nextduedate = service.nextinvoicedate = due
        for addon in work.session.scalars(select(ServiceAddon).where(ServiceAddon.service_id == service_id)):
            addon.nextduedate = addon.nextinvoicedate = due + timedelta(days=20)
        line = InvoiceLine("VPS", service.amount, type="Hosting", relid=service.id, duedate=due)
        invoice = create_invoice(work, service.userid, [line], date=due - timedelta(days=14), duedate=due,
                                 send_email=False).id
        work.commit()
        return invoice


def _pay(db, invoice_id: int, day: date) -> None:
    with clock.frozen(day), UnitOfWork(db) as work:
        add_payment(work, invoice_id, transid=f"PAY-{invoice_id}-{day}", gateway="mailin")
        work.commit()


def _status(db, model: Any, row_id: int) -> str:
    with db() as session:
        return session.get(model, row_id).status


def _instance(db, addon_row: int) -> str:
    with db() as session:
        return session.get(ServiceAddon, addon_row).module_data["instance_id"]


def _calls(fabric: FakeFabric, since: int = 0) -> list[tuple[str, str, str]]:
    """(method, path, state) of the requests the platform received after the first *since*."""
    found = []
    for request in fabric.requests[since:]:
        body = json.loads(request["body"]) if request["body"] else {}
        found.append((request["method"], request["path"], body.get("state", body.get("plan", ""))))
    return found


def _events(db, resource_id: int) -> list[tuple[str, dict[str, Any]]]:
    with db() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.resource_type == "addon",
                                                         OutboxEvent.resource_id == resource_id)
                               .order_by(OutboxEvent.id))
        return [(e.name, e.payload) for e in rows]


def test_an_addon_module_follows_its_service_day_by_day(db, shop, fabric):
    service_id, rows = _order(db, shop, "alpha")
    backup, support = rows[shop.backup], rows[shop.support]
    # Accepting the order created the VPS, then the addon's own instance with its own plan.
    assert _calls(fabric) == [("POST", "/v1/instances", "small-1"), ("POST", "/v1/instances", "backup-1")]
    created = fabric.instances[_instance(db, backup)]
    assert created["name"] == "alpha.example" and created["plan"] == "backup-1"
    assert _status(db, ServiceAddon, backup) == "Active" and _status(db, ServiceAddon, support) == "Active"
    with db() as session:
        server_id = session.get(Service, service_id).server_id
        assert server_id and session.get(ServiceAddon, backup).server_id == server_id  # the parent's box

    invoice = _bill_service(db, service_id, DUE)
    seen = len(fabric.requests)
    suspended_on: dict[str, date] = {}
    for offset in range(0, 7):
        day = DUE + timedelta(days=offset)
        run_cron(db, as_of=day, tasks=[AutoSuspensions()])
        for label, model, row_id in (("service", Service, service_id), ("backup", ServiceAddon, backup),
                                     ("support", ServiceAddon, support)):
            if _status(db, model, row_id) == "Suspended":
                suspended_on.setdefault(label, day)
    five = DUE + timedelta(days=5)
    assert suspended_on == {"service": five, "backup": five, "support": five}
    vps_path, backup_path = (f"/v1/instances/{i}/power" for i in ("i-0001", _instance(db, backup)))
    assert _calls(fabric, seen) == [("PUT", vps_path, "stopped"), ("PUT", backup_path, "stopped")]

    # Paid: the payment starts the VPS; the next (frequent) run starts the addon after it.
    seen = len(fabric.requests)
    _pay(db, invoice, DUE + timedelta(days=6))
    assert _calls(fabric, seen) == [("PUT", vps_path, "running")]
    assert _status(db, ServiceAddon, backup) == "Suspended"
    report = run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoUnsuspensions()])
    assert report.result("AutoUnsuspensions").counts == {"addons_unsuspended": 2}
    assert _calls(fabric, seen) == [("PUT", vps_path, "running"), ("PUT", backup_path, "running")]
    assert _status(db, ServiceAddon, backup) == "Active" and _status(db, ServiceAddon, support) == "Active"

    # Unpaid again and termination on: both instances are deleted on day 30, service first.
    with db() as session:
        due2 = session.get(Service, service_id).nextduedate
    _bill_service(db, service_id, due2)
    with UnitOfWork(db) as work:
        set_setting(work, "AutoTermination", "on")
        work.commit()
    seen = len(fabric.requests)
    run_cron(db, as_of=due2 + timedelta(days=29), tasks=[AutoTerminations()])
    assert _calls(fabric, seen) == []
    report = run_cron(db, as_of=due2 + timedelta(days=30), tasks=[AutoTerminations()])
    assert report.result("AutoTerminations").counts == {"terminated": 1, "addons_terminated": 1}
    assert _calls(fabric, seen) == [("DELETE", "/v1/instances/i-0001", ""),
                                    ("DELETE", backup_path.removesuffix("/power"), "")]
    assert fabric.instances == {}
    with db() as session:
        ended = session.get(ServiceAddon, backup)
        assert (ended.status, ended.termination_date, ended.module_data) == (
            "Terminated", due2 + timedelta(days=30), {})
        assert session.get(ServiceAddon, support).status == "Terminated"

    names = [name for name, _ in _events(db, backup)]
    for expected in (["PreModuleCreate", "AfterModuleCreate", "AddonActivation"],
                     ["PreModuleSuspend", "AfterModuleSuspend", "AddonSuspended"],
                     ["PreModuleUnsuspend", "AfterModuleUnsuspend", "AddonUnsuspended"],
                     ["PreModuleTerminate", "AfterModuleTerminate", "AddonTerminated"]):
        at = names.index(expected[0])
        assert names[at:at + 3] == expected, names
    after = dict(_events(db, backup))["AfterModuleSuspend"]["params"]
    assert (after["addonId"], after["serviceid"], after["configoption1"]) == (backup, service_id, "backup-1")
    assert after["serverpassword"] == "********" and after["suspendreason"] == "Overdue on Payment"
    # The addon without a module never reached the platform, but its hooks fired.
    assert [n for n, _ in _events(db, support)
            if not n.startswith(("PreModule", "AfterModule"))] == [
        "AddonAdd", "AddonActivation", "AddonSuspended", "AddonUnsuspended", "AddonTerminated"]
    assert not [n for n, _ in _events(db, support) if "Module" in n]
    with db() as session:
        logged = session.scalars(select(ModuleLog).where(ModuleLog.addon_id == backup)
                                 .order_by(ModuleLog.id)).all()
    assert [row.action for row in logged] == [
        "POST /v1/instances", f"PUT {backup_path}", f"PUT {backup_path}",
        f"DELETE {backup_path.removesuffix('/power')}"]
    assert all(row.service_id == service_id for row in logged)
    assert not any(fabric.secret in row.request + row.response for row in logged)


def test_a_refused_addon_call_is_queued_and_retried(db, shop, fabric):
    """Two addons' instances vanish for a day: both services are still suspended, the addons
    fail without stopping the task; one comes back through the CLI, the other next run."""
    services, backups = [], []
    for label in ("one", "two", "three"):
        service_id, rows = _order(db, shop, label, (shop.backup,))
        services.append(service_id)
        backups.append(rows[shop.backup])
        _bill_service(db, service_id, DUE)
    lost = {row: fabric.instances.pop(_instance(db, row)) for row in backups[:2]}
    report = run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    result = report.result("AutoSuspensions")
    assert result.counts == {"suspended": 3, "addons_suspended": 1}
    assert result.failures == [
        {"item": f"addon:{row}", "reason": f"Instance {_instance(db, row)} not found"} for row in backups[:2]]
    assert [_status(db, ServiceAddon, row) for row in backups] == ["Active", "Active", "Suspended"]
    assert [_status(db, Service, s) for s in services] == ["Suspended"] * 3
    with db() as session:
        queued = session.scalars(select(ModuleQueueEntry).order_by(ModuleQueueEntry.id)).all()
        expected = [("addon", r, "infrafabric", "SuspendAccount", False) for r in backups[:2]]
        assert [(q.service_type, q.service_id, q.module_name, q.module_action, q.completed)
                for q in queued] == expected
        assert queued[0].arguments == {"reason": "Overdue on Payment"}
        entry = queued[0].id
    for instance in lost.values():
        fabric.instances[instance["id"]] = instance

    # An admin retries the first from the command line; the next run takes the second.
    from billow import cli

    retried = CliRunner().invoke(cli.app, ["modulequeue", "retry", str(entry)])
    assert retried.exit_code == 0, retried.output
    assert _status(db, ServiceAddon, backups[0]) == "Suspended"
    assert fabric.instances[_instance(db, backups[0])]["status"] == "stopped"
    nxt = run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoSuspensions()])
    assert nxt.result("AutoSuspensions").counts == {"addons_suspended": 1}
    assert nxt.result("AutoSuspensions").failures == []
    assert [_status(db, ServiceAddon, row) for row in backups] == ["Suspended"] * 3
    with db() as session:
        assert all(q.completed for q in session.scalars(select(ModuleQueueEntry)))
    # Both were suspended for non-payment, whichever way the retry came: payment restores them.
    with db() as session:
        invoices = [session.scalar(select(InvoiceItem.invoice_id).where(
            InvoiceItem.relid == s, InvoiceItem.type == "Hosting")) for s in services[:2]]
    for invoice in invoices:
        _pay(db, invoice, DUE + timedelta(days=7))
    run_cron(db, as_of=DUE + timedelta(days=7), tasks=[AutoUnsuspensions()])
    assert [_status(db, ServiceAddon, row) for row in backups] == ["Active", "Active", "Suspended"]


def test_an_addon_overdue_on_its_own_invoice_is_stopped_then_started(db, shop, fabric):
    service_id, rows = _order(db, shop, "own", (shop.backup,))
    backup = rows[shop.backup]
    with UnitOfWork(db) as work:
        work.session.get(Service, service_id).nextduedate = DUE + timedelta(days=20)
        addon = work.session.get(ServiceAddon, backup)
        addon.nextduedate = addon.nextinvoicedate = DUE
        line = InvoiceLine("Backup VM", addon.recurring, type="Addon", relid=addon.id, duedate=DUE)
        invoice = create_invoice(work, addon.userid, [line], date=DUE - timedelta(days=14), duedate=DUE,
                                 send_email=False).id
        work.commit()
    path = f"/v1/instances/{_instance(db, backup)}/power"
    seen = len(fabric.requests)
    run_cron(db, as_of=DUE + timedelta(days=4), tasks=[AutoSuspensions()])
    assert _calls(fabric, seen) == []
    report = run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    assert report.result("AutoSuspensions").counts == {"addons_suspended": 1}
    assert _calls(fabric, seen) == [("PUT", path, "stopped")]
    assert _status(db, ServiceAddon, backup) == "Suspended" and _status(db, Service, service_id) == "Active"
    run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoUnsuspensions()])
    assert _status(db, ServiceAddon, backup) == "Suspended"  # still unpaid
    _pay(db, invoice, DUE + timedelta(days=7))
    run_cron(db, as_of=DUE + timedelta(days=7), tasks=[AutoUnsuspensions()])
    assert _calls(fabric, seen) == [("PUT", path, "stopped"), ("PUT", path, "running")]
    assert _status(db, ServiceAddon, backup) == "Active"


def test_a_cancellation_request_terminates_the_addon_module(db, shop, fabric):
    service_id, rows = _order(db, shop, "leaving")
    backup, support = rows[shop.backup], rows[shop.support]
    _bill_service(db, service_id, DUE)
    with UnitOfWork(db) as work:
        add_cancel_request(work, service_id, "moving on", "End of Billing Period")
        work.commit()
    seen = len(fabric.requests)
    run_cron(db, as_of=DUE - timedelta(days=1), tasks=[CancellationRequests()])
    assert _calls(fabric, seen) == [] and _status(db, ServiceAddon, backup) == "Active"
    report = run_cron(db, as_of=DUE, tasks=[CancellationRequests()])
    assert report.result("CancellationRequests").counts == {
        "cancelled": 1, "invoices_cancelled": 1, "addons_cancelled": 1}
    assert [c[:2] for c in _calls(fabric, seen)] == [("DELETE", "/v1/instances/i-0001"),
                                                     ("DELETE", "/v1/instances/i-0002")]
    assert _status(db, Service, service_id) == "Cancelled"
    assert _status(db, ServiceAddon, backup) == "Cancelled"
    assert [n for n, _ in _events(db, backup)][-3:] == ["PreModuleTerminate", "AfterModuleTerminate",
                                                       "AddonCancelled"]
    # The addon without a module followed its service by status (Terminated with it, as before).
    assert _status(db, ServiceAddon, support) == "Terminated"


def test_update_client_addon_runs_the_module(api, db, shop, fabric):
    service_id, rows = _order(db, shop, "edit", (shop.backup,))
    backup = rows[shop.backup]
    instance = _instance(db, backup)
    assert api.ok("UpdateClientAddon", id=backup, status="Suspended", notes="paused")["id"] == str(backup)
    assert fabric.instances[instance]["status"] == "stopped"
    saved = fabric.instances.pop(instance)
    error = api.error("UpdateClientAddon", id=backup, status="Active", notes="resumed")
    assert error == f"Instance {instance} not found"
    with db() as session:
        row = session.get(ServiceAddon, backup)
        assert (row.status, row.notes) == ("Suspended", "resumed")  # the other edits are kept
    queue = api.ok("GetModuleQueue", serviceType="addon")
    assert [(q["serviceId"], q["moduleAction"], q["lastAttemptError"]) for q in queue["queue"]] == [
        (str(backup), "UnsuspendAccount", f"Instance {instance} not found")]
    fabric.instances[instance] = saved
    api.ok("UpdateClientAddon", id=backup, status="Active")
    assert fabric.instances[instance]["status"] == "running"
    assert api.ok("GetModuleQueue", serviceType="addon")["queue"] == []
    api.ok("UpdateClientAddon", id=backup, status="Cancelled")
    assert instance not in fabric.instances and _status(db, ServiceAddon, backup) == "Cancelled"
    assert [n for n, _ in _events(db, backup) if n.startswith("Addon")][-3:] == [
        "AddonEdit", "AddonCancelled", "AddonEdit"]


def test_auto_activation_on_payment_creates_the_addon(db, uow, fabric):
    shop = Shop(uow, fabric, autoactivate="payment")
    uow.commit()
    service_id, _ = _order(db, shop, "later", ())
    with UnitOfWork(db) as work:
        owner = work.session.get(Service, service_id).userid
        placed = placing.add_order(work, OrderRequest(
            client_id=owner, paymentmethod="mailin", noemail=True,
            addon_items=[AddonOrder(addon_id=shop.backup, service_id=service_id)]))
        work.commit()
    [row] = placed.addon_ids
    with UnitOfWork(db) as work:
        status_changes.accept_order(work, placed.order.id)  # "on payment": accepting does not set it up
        work.commit()
    assert _status(db, ServiceAddon, row) == "Pending" and len(fabric.instances) == 1
    _pay(db, placed.invoice_id, date.today())
    assert _status(db, ServiceAddon, row) == "Active"
    assert fabric.instances[_instance(db, row)]["plan"] == "backup-1"
    assert [n for n, _ in _events(db, row)][-3:] == [
        "PreModuleCreate", "AfterModuleCreate", "AddonActivation"]


def test_an_ended_service_addon_is_tried_once_per_run(db, shop, fabric):
    """Three tasks sweep the addons of ended services; a refusing addon is asked once a run."""
    from billow.automation.tasks.services import FixedTermTerminations

    service_id, rows = _order(db, shop, "ended", (shop.backup,))
    backup = rows[shop.backup]
    _bill_service(db, service_id, DUE)
    with UnitOfWork(db) as work:
        set_setting(work, "AutoTermination", "on")
        work.session.get(ServiceAddon, backup).server_id = 9999  # a server that is gone
        work.commit()
    tasks = [AutoTerminations(), FixedTermTerminations(), CancellationRequests()]
    report = run_cron(db, as_of=DUE + timedelta(days=30), tasks=tasks)
    assert report.result("AutoTerminations").counts == {"terminated": 1}
    [failure] = report.result("AutoTerminations").failures
    assert failure["item"] == f"addon:{backup}" and failure["reason"]
    assert report.result("FixedTermTerminations").failures == []
    assert report.result("CancellationRequests").failures == []
    with db() as session:
        [queued] = session.scalars(select(ModuleQueueEntry)).all()
        assert (queued.module_action, queued.num_retries, queued.completed) == ("TerminateAccount", 0, False)
        session.get(ServiceAddon, backup).server_id = session.get(Service, service_id).server_id
        session.commit()
    assert _status(db, ServiceAddon, backup) == "Active" and _instance(db, backup) in fabric.instances
    nxt = run_cron(db, as_of=DUE + timedelta(days=31), tasks=tasks)
    assert nxt.result("AutoTerminations").counts == {"addons_terminated": 1}
    assert _status(db, ServiceAddon, backup) == "Terminated" and len(fabric.instances) == 0
    with db() as session:
        assert session.scalars(select(ModuleQueueEntry)).one().completed
