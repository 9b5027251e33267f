"""A year of daily runs over a mixed book: everything happens on its day, exactly once.

The book: a good payer (monthly hosting with a monthly addon, an annual and a biennial
service, a free and a one-time service), a late payer who pays ten days after each due
date, a client who never pays, and a client in a suspension-exempt group who never pays.
Every day the clients pay what their habit says, then the whole automation runs (every
seventh day it is forced to run twice). The test then checks every invoice, reminder,
late fee, suspension, unsuspension and termination against the calendar.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from billow import clock
from billow.automation.runner import run_cron
from billow.db.models import Client, Invoice, InvoiceItem, OutboxEvent, Service
from billow.services.billing.payments import add_payment
from billow.services.catalog.cycles import add_months
from billow.services.settings import set_setting
from billow.uow import UnitOfWork

from . import book

START, END = date(2027, 1, 1), date(2027, 12, 31)


def _monthly(first: date, until: date) -> list[date]:
    out, n = [], 0
    while (d := add_months(first, n)) <= until:
        out.append(d)
        n += 1
    return out


@pytest.mark.slow
def test_a_year_of_daily_runs(db, uow):
    set_setting(uow, "AutoTermination", "on")
    # The test reads the year's events back from the outbox, undelivered (no SMTP here).
    set_setting(uow, "CronDeliverOutbox", "")
    hosting = book.product(uow, "Hosting")
    free = book.product(uow, "Free", paytype="free")
    good, late, never = book.client(uow, "good"), book.client(uow, "late"), book.client(uow, "never")
    vip = book.client(uow, "vip", group=book.exempt_group(uow))
    g_month = book.service(uow, good, hosting, due=date(2027, 1, 15))
    g_addon = book.addon(uow, g_month, due=date(2027, 1, 15))
    g_year = book.service(uow, good, hosting, cycle="Annually", amount="100.00", due=date(2027, 2, 1))
    g_two = book.service(uow, good, hosting, cycle="Biennially", amount="180.00", due=date(2027, 6, 1))
    g_free = book.service(uow, good, free, cycle="Free Account", amount="0.00", due=date(2027, 1, 10))
    g_once = book.service(uow, good, hosting, cycle="One Time", amount="50.00", due=date(2027, 1, 10))
    l_month = book.service(uow, late, hosting, due=date(2027, 1, 20))
    n_month = book.service(uow, never, hosting, due=date(2027, 1, 25))
    v_month = book.service(uow, vip, hosting, due=date(2027, 1, 25))
    uow.commit()
    watched = [g_month, g_year, g_two, g_free, g_once, l_month, n_month, v_month]

    transitions: list[tuple[date, int, str]] = []
    last = {s.id: "Active" for s in watched}
    day = START
    while day <= END:
        with clock.frozen(day), UnitOfWork(db) as work:
            for invoice in work.session.scalars(select(Invoice).where(Invoice.status == "Unpaid")):
                pays = (invoice.client_id == good.id and day >= invoice.date + timedelta(days=2)) or \
                       (invoice.client_id == late.id and day >= invoice.duedate + timedelta(days=10))
                if pays:
                    add_payment(work, invoice.id, transid=f"PAY-{invoice.id}", gateway="banktransfer")
            work.commit()
        report = run_cron(db, as_of=day)
        assert report.ran and all(t.status != "failed" for t in report.tasks), report
        assert all(t.failed == 0 for t in report.tasks), [t.failures for t in report.tasks]
        if day.toordinal() % 7 == 0:
            run_cron(db, as_of=day, force=True)
        with db() as session:
            for service_id, status in session.execute(select(Service.id, Service.status)):
                if last.get(service_id) != status:
                    transitions.append((day, service_id, status))
                    last[service_id] = status
        day += timedelta(days=1)

    with db() as session:
        lines = session.execute(select(InvoiceItem.type, InvoiceItem.relid, InvoiceItem.duedate, Invoice.date)
                                .join(Invoice, Invoice.id == InvoiceItem.invoice_id)).all()
        outbox = session.scalars(select(OutboxEvent).where(
            OutboxEvent.name.in_(("EmailRequested", "AddInvoiceLateFee")))).all()
        invoice_client = dict(session.execute(select(Invoice.id, Invoice.client_id)).all())
        statuses = dict(session.execute(select(Client.id, Client.status)).all())

    # Invoices: one line per service and due date, created CreateInvoiceDaysBefore (14) days ahead.
    billed: dict[tuple[str, int], list[date]] = defaultdict(list)
    for kind, relid, due, created in lines:
        if kind in ("Hosting", "Addon"):
            assert created == due - timedelta(days=14), (kind, relid, due, created)
            billed[(kind, relid)].append(due)
    monthly_year = _monthly(date(2027, 1, 15), END + timedelta(days=14))
    assert sorted(billed[("Hosting", g_month.id)]) == monthly_year
    assert sorted(billed[("Addon", g_addon.id)]) == monthly_year
    assert billed[("Hosting", g_year.id)] == [date(2027, 2, 1)]
    assert billed[("Hosting", g_two.id)] == [date(2027, 6, 1)]
    assert ("Hosting", g_free.id) not in billed and ("Hosting", g_once.id) not in billed
    late_dues = _monthly(date(2027, 1, 20), END + timedelta(days=14))
    assert sorted(billed[("Hosting", l_month.id)]) == late_dues
    # Without continuous generation, non-payers get no second invoice.
    assert billed[("Hosting", n_month.id)] == [date(2027, 1, 25)]
    assert billed[("Hosting", v_month.id)] == [date(2027, 1, 25)]

    # Suspensions, unsuspensions and terminations, each on its day, once.
    expected = []
    for due in late_dues:
        if due + timedelta(days=5) <= END:
            expected.append((due + timedelta(days=5), l_month.id, "Suspended"))
        if due + timedelta(days=10) <= END:
            expected.append((due + timedelta(days=10), l_month.id, "Active"))
    expected += [(date(2027, 1, 30), n_month.id, "Suspended"), (date(2027, 2, 24), n_month.id, "Terminated")]
    assert sorted(transitions) == sorted(expected)

    # Reminders and notices: the late payer gets each once a month, the good payer none.
    emails = Counter((e.payload["template"], invoice_client.get(e.payload["relid"]))
                     for e in outbox if e.name == "EmailRequested" and e.payload["relid"] in invoice_client)
    months = len(late_dues)
    assert emails[("Invoice Payment Reminder", late.id)] == months
    assert emails[("First Invoice Overdue Notice", late.id)] == months
    assert emails[("Second Invoice Overdue Notice", late.id)] == sum(
        1 for d in late_dues if d + timedelta(days=5) <= END)
    assert emails[("First Invoice Overdue Notice", good.id)] == 0
    assert emails[("Invoice Payment Reminder", vip.id)] == 1
    assert emails[("Second Invoice Overdue Notice", never.id)] == 1
    # Late fees: one per late invoice of the late payer, one each for the two non-payers.
    fees = Counter(invoice_client[e.payload["invoiceid"]] for e in outbox if e.name == "AddInvoiceLateFee")
    late_count = sum(1 for d in late_dues if d + timedelta(days=5) <= END)
    assert fees == {late.id: late_count, never.id: 1, vip.id: 1}
    with db() as session:
        fee_lines = session.scalars(select(InvoiceItem.amount).where(InvoiceItem.type == "LateFee")).all()
        assert set(fee_lines) == {Decimal("1.00")}
    # The client with nothing left is Inactive; the exempt one still has its service.
    assert statuses[never.id] == "Inactive" and statuses[vip.id] == "Active" and statuses[good.id] == "Active"
