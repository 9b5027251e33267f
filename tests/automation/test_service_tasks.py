"""Suspension, unsuspension, termination, cancellation, unpaid orders, usage, client status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from billow import clock
from billow.automation.runner import run_cron
from billow.automation.tasks.services import (
    AutoClientStatusSync,
    AutoSuspensions,
    AutoTerminations,
    AutoUnsuspensions,
    CancellationRequests,
    CancelUnpaidOrders,
    FixedTermTerminations,
    UpdateServerUsage,
)
from billow.db.models import Client, Invoice, ModuleQueueEntry, Order, Server, Service
from billow.modules.servers import registry
from billow.modules.servers.base import ModuleParams, ModuleResult, ServerModule, UsageRecord
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice
from billow.services.settings import set_setting
from billow.uow import UnitOfWork

from . import book

DUE = date(2027, 3, 10)


class FlakyPanel(ServerModule):
    """A panel that refuses to suspend accounts whose domain starts with "stuck"."""

    name = "flakypanel"
    display_name = "Flaky panel"
    requires_server = False

    def create_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def suspend_account(self, params: ModuleParams) -> ModuleResult:
        if str(params.get("domain", "")).startswith("stuck"):
            return ModuleResult.failed("Account is locked by the panel")
        return ModuleResult.ok()

    def unsuspend_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def terminate_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def usage_update(self, params: ModuleParams) -> list[UsageRecord]:
        return [UsageRecord("alice", 120, 1000, 3400, 10000), UsageRecord("bob", 5, 1000, 7, 10000)]


@pytest.fixture
def flaky_panel():
    registry()["flakypanel"] = FlakyPanel
    yield
    registry().pop("flakypanel", None)


def _overdue_invoice(uow, svc: Service, due: date = DUE) -> int:
    line = InvoiceLine("Hosting", svc.amount, type="Hosting", relid=svc.id, duedate=due)
    return create_invoice(uow, svc.userid, [line], date=due - timedelta(days=14), duedate=due,
                          send_email=False).id


def _status(db, service_id: int) -> str:
    with db() as session:
        return session.get(Service, service_id).status


def test_suspension_on_its_day_with_exemptions(db, uow):
    hosting = book.product(uow, "Hosting")
    free = book.product(uow, "Free", paytype="free")
    late = book.service(uow, book.client(uow, "late"), hosting, due=DUE)
    vip = book.service(uow, book.client(uow, "vip", group=book.exempt_group(uow)), hosting, due=DUE)
    override = book.service(uow, book.client(uow, "ovr"), hosting, due=DUE)
    override.overideautosuspend, override.overidesuspenduntil = True, DUE + timedelta(days=8)
    gratis = book.service(uow, book.client(uow, "free"), free, cycle="Free Account", due=DUE)
    no_invoice = book.service(uow, book.client(uow, "noinv"), hosting, due=DUE)
    for svc in (late, vip, override, gratis):
        _overdue_invoice(uow, svc)
    uow.commit()
    suspended_on: dict[int, date] = {}
    day = DUE
    while day <= DUE + timedelta(days=12):
        run_cron(db, as_of=day, tasks=[AutoSuspensions()])
        run_cron(db, as_of=day, tasks=[AutoSuspensions()], force=True)
        for svc in (late, vip, override, gratis, no_invoice):
            if _status(db, svc.id) == "Suspended":
                suspended_on.setdefault(svc.id, day)
        day += timedelta(days=1)
    # Five days overdue (AutoSuspensionDays); the override lapses after its date.
    assert suspended_on == {late.id: DUE + timedelta(days=5), override.id: DUE + timedelta(days=9)}
    with db() as session:
        assert session.get(Service, late.id).suspendreason == "Overdue on Payment"


def test_a_refusing_panel_is_recorded_and_retried(db, uow, flaky_panel):
    panel = book.product(uow, "Panel hosting", module="flakypanel")
    stuck = book.service(uow, book.client(uow, "stuck"), panel, due=DUE, domain="stuck.example")
    fine = book.service(uow, book.client(uow, "fine"), panel, due=DUE, domain="fine.example")
    for svc in (stuck, fine):
        _overdue_invoice(uow, svc)
    uow.commit()
    report = run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    result = report.result("AutoSuspensions")
    assert result.counts == {"suspended": 1}
    assert result.failures == [{"item": f"service:{stuck.id}", "reason": "Account is locked by the panel"}]
    assert _status(db, stuck.id) == "Active" and _status(db, fine.id) == "Suspended"
    with db() as session:
        queued = session.scalars(select(ModuleQueueEntry)).all()
        assert [(q.service_id, q.module_action) for q in queued] == [(stuck.id, "SuspendAccount")]
    # The panel is fixed; the next run suspends it.
    with db() as session:
        session.get(Service, stuck.id).domain = "unstuck.example"
        session.commit()
    nxt = run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoSuspensions()])
    assert nxt.result("AutoSuspensions").counts == {"suspended": 1}
    assert _status(db, stuck.id) == "Suspended"


def test_payment_unsuspends_and_the_task_catches_stragglers(db, uow):
    from billow.services.billing.payments import add_payment

    hosting = book.product(uow, "Hosting", module="")
    svc = book.service(uow, book.client(uow, "late"), hosting, due=DUE)
    invoice = _overdue_invoice(uow, svc)
    uow.commit()
    run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    assert _status(db, svc.id) == "Suspended"
    with clock.frozen(DUE + timedelta(days=7)), UnitOfWork(db) as work:
        add_payment(work, invoice, transid="PAY-1", gateway="banktransfer")
        work.commit()
    # A product without a module is not unsuspended by the paid step: the task does it.
    assert _status(db, svc.id) == "Suspended"
    report = run_cron(db, as_of=DUE + timedelta(days=7), tasks=[AutoUnsuspensions()])
    assert report.result("AutoUnsuspensions").counts == {"unsuspended": 1}
    assert _status(db, svc.id) == "Active"


def test_addons_follow_their_service(db, uow):
    from billow.db.models import ServiceAddon
    from billow.services.billing.payments import add_payment

    hosting = book.product(uow, "Hosting")
    svc = book.service(uow, book.client(uow, "addons"), hosting, due=DUE)
    extra = book.addon(uow, svc, due=DUE + timedelta(days=20))
    by_hand = book.addon(uow, svc, due=DUE + timedelta(days=20))
    by_hand.status = "Suspended"  # suspended by an admin: not the automation's to undo
    invoice = _overdue_invoice(uow, svc)
    set_setting(uow, "AutoTermination", "on")
    uow.commit()

    def addon_status(addon_id: int = extra.id) -> str:
        with db() as session:
            return session.get(ServiceAddon, addon_id).status

    run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    assert _status(db, svc.id) == "Suspended" and addon_status() == "Suspended"
    with clock.frozen(DUE + timedelta(days=6)), UnitOfWork(db) as work:
        add_payment(work, invoice, transid="PAY-ADDON", gateway="banktransfer")
        work.commit()
    run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoUnsuspensions()])
    assert _status(db, svc.id) == "Active" and addon_status() == "Active"
    assert addon_status(by_hand.id) == "Suspended"


def test_termination_when_enabled(db, uow):
    hosting = book.product(uow, "Hosting")
    svc = book.service(uow, book.client(uow, "gone"), hosting, due=DUE)
    _overdue_invoice(uow, svc)
    set_setting(uow, "AutoTermination", "on")
    uow.commit()
    run_cron(db, as_of=DUE + timedelta(days=29), tasks=[AutoTerminations()])
    assert _status(db, svc.id) == "Active"
    report = run_cron(db, as_of=DUE + timedelta(days=30), tasks=[AutoTerminations()])
    assert report.result("AutoTerminations").counts == {"terminated": 1}
    assert _status(db, svc.id) == "Terminated"


def test_termination_is_off_by_default(db, uow):
    hosting = book.product(uow, "Hosting")
    svc = book.service(uow, book.client(uow, "kept"), hosting, due=DUE)
    _overdue_invoice(uow, svc)
    uow.commit()
    report = run_cron(db, as_of=DUE + timedelta(days=60), tasks=[AutoTerminations()])
    assert report.result("AutoTerminations").status == "skipped"
    assert _status(db, svc.id) == "Active"


def test_fixed_term_termination(db, uow):
    term = book.product(uow, "Trial", autoterminatedays=30, autoterminateemail="Trial Ended")
    svc = book.service(uow, book.client(uow, "trial"), term, due=DUE, regdate=DUE)
    uow.commit()
    run_cron(db, as_of=DUE + timedelta(days=29), tasks=[FixedTermTerminations()])
    assert _status(db, svc.id) == "Active"
    run_cron(db, as_of=DUE + timedelta(days=30), tasks=[FixedTermTerminations()])
    assert _status(db, svc.id) == "Terminated"


def test_cancellation_requests_immediate_and_end_of_period(db, uow):
    from billow.services.hosting.cancellations import add_cancel_request

    hosting = book.product(uow, "Hosting")
    now = book.service(uow, book.client(uow, "now"), hosting, due=DUE)
    later = book.service(uow, book.client(uow, "later"), hosting, due=DUE)
    open_invoice = _overdue_invoice(uow, now)
    add_cancel_request(uow, now.id, "moving", "Immediate")
    add_cancel_request(uow, later.id, "done", "End of Billing Period")
    uow.commit()
    first = run_cron(db, as_of=DUE - timedelta(days=3), tasks=[CancellationRequests()])
    assert first.result("CancellationRequests").counts == {"cancelled": 1, "invoices_cancelled": 1}
    assert _status(db, now.id) == "Cancelled" and _status(db, later.id) == "Active"
    run_cron(db, as_of=DUE, tasks=[CancellationRequests()])
    assert _status(db, later.id) == "Cancelled"
    with db() as session:
        assert session.get(Invoice, open_invoice).status == "Cancelled"


def test_unpaid_orders_are_cancelled_after_the_grace_period(db, uow):
    owner = book.client(uow, "order")
    invoice = create_invoice(uow, owner.id, [InvoiceLine("Order", Decimal("5.00"))], send_email=False)
    order = Order(ordernum=1234567, userid=owner.id, invoiceid=invoice.id, status="Pending",
                  date=datetime(2027, 3, 1, 10, tzinfo=UTC))
    uow.session.add(order)
    set_setting(uow, "OrderDaysGrace", "3")
    uow.commit()
    run_cron(db, as_of=date(2027, 3, 3), tasks=[CancelUnpaidOrders()])
    with db() as session:
        assert session.get(Order, order.id).status == "Pending"
    report = run_cron(db, as_of=date(2027, 3, 5), tasks=[CancelUnpaidOrders()])
    assert report.result("CancelUnpaidOrders").counts == {"cancelled": 1}
    with db() as session:
        assert session.get(Order, order.id).status == "Cancelled"
        assert session.get(Invoice, invoice.id).status == "Cancelled"


def test_client_status_follows_active_services(db, uow):
    hosting = book.product(uow, "Hosting")
    busy = book.client(uow, "busy")
    idle = book.client(uow, "idle")
    back = book.client(uow, "back", status="Inactive")
    closed = book.client(uow, "closed", status="Closed")
    book.service(uow, busy, hosting, due=DUE)
    book.service(uow, idle, hosting, due=DUE, status="Terminated")
    book.service(uow, back, hosting, due=DUE)
    uow.commit()
    report = run_cron(db, as_of=DUE, tasks=[AutoClientStatusSync()])
    assert report.result("AutoClientStatusSync").counts == {"inactive": 1, "active": 1}
    with db() as session:
        statuses = {c.id: c.status for c in session.scalars(select(Client))}
    assert statuses == {busy.id: "Active", idle.id: "Inactive", back.id: "Active", closed.id: "Closed"}


def test_missed_days_are_caught_up_with_cron_date(db, uow):
    """The server was down for a week: ``billow cron --date`` per missed day replays them."""
    from typer.testing import CliRunner

    from billow import cli
    from billow.db.models import AutomationTaskLog

    hosting = book.product(uow, "Hosting")
    svc = book.service(uow, book.client(uow, "down"), hosting, due=DUE)
    _overdue_invoice(uow, svc)
    uow.commit()
    runner = CliRunner()
    for offset in range(0, 8):
        day = DUE + timedelta(days=offset)
        result = runner.invoke(cli.app, ["cron", "--date", day.isoformat()])
        assert result.exit_code == 0, result.output
        assert _status(db, svc.id) == ("Suspended" if offset >= 5 else "Active"), day
    with db() as session:
        logs = session.scalars(select(AutomationTaskLog).where(AutomationTaskLog.task == "AutoSuspensions")
                               .order_by(AutomationTaskLog.run_date)).all()
        suspended = [(log.run_date, log.counts) for log in logs if log.counts]
    assert suspended == [(DUE + timedelta(days=5), {"suspended": 1})]


def test_usage_update_reads_each_server_module(db, uow, flaky_panel):
    panel = book.product(uow, "Panel hosting", module="flakypanel")
    server = Server(name="panel1", type="flakypanel", hostname="panel1.example", active=True)
    uow.session.add(server)
    uow.session.flush()
    alice = book.service(uow, book.client(uow, "alice"), panel, due=DUE)
    alice.username, alice.server_id = "alice", server.id
    gone = book.service(uow, book.client(uow, "gone"), panel, due=DUE, status="Terminated")
    gone.username, gone.server_id = "bob", server.id
    uow.commit()
    report = run_cron(db, as_of=DUE, tasks=[UpdateServerUsage()])
    assert report.result("UpdateServerUsage").counts == {"servers": 1, "services": 1}
    with db() as session:
        updated = session.get(Service, alice.id)
        assert (updated.diskusage, updated.disklimit, updated.bwusage) == (120, 1000, 3400)
        assert session.get(Service, gone.id).diskusage == 0


def test_an_addon_overdue_on_its_own_invoice_is_suspended_then_restored(db, uow):
    from billow.db.models import ServiceAddon
    from billow.services.billing.payments import add_payment

    hosting = book.product(uow, "Hosting")
    svc = book.service(uow, book.client(uow, "addonly"), hosting, due=DUE + timedelta(days=20))
    extra = book.addon(uow, svc, due=DUE)
    line = InvoiceLine("Backups", extra.recurring, type="Addon", relid=extra.id, duedate=DUE)
    invoice = create_invoice(uow, svc.userid, [line], date=DUE - timedelta(days=14), duedate=DUE,
                             send_email=False).id
    uow.commit()

    def addon_status() -> str:
        with db() as session:
            return session.get(ServiceAddon, extra.id).status

    run_cron(db, as_of=DUE + timedelta(days=4), tasks=[AutoSuspensions()])
    assert addon_status() == "Active"
    report = run_cron(db, as_of=DUE + timedelta(days=5), tasks=[AutoSuspensions()])
    assert report.result("AutoSuspensions").counts == {"addons_suspended": 1}
    assert addon_status() == "Suspended" and _status(db, svc.id) == "Active"
    run_cron(db, as_of=DUE + timedelta(days=6), tasks=[AutoUnsuspensions()])
    assert addon_status() == "Suspended"  # still unpaid
    with clock.frozen(DUE + timedelta(days=7)), UnitOfWork(db) as work:
        add_payment(work, invoice, transid="PAY-ADDON-ONLY", gateway="banktransfer")
        work.commit()
    report = run_cron(db, as_of=DUE + timedelta(days=7), tasks=[AutoUnsuspensions()])
    assert report.result("AutoUnsuspensions").counts == {"addons_unsuspended": 1}
    assert addon_status() == "Active"
