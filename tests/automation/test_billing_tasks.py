"""The billing tasks against the real billing engine: each thing happens on its day, once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from billow.automation.runner import run_cron
from billow.automation.tasks.billing import (
    AddLateFees,
    CreateInvoices,
    CreditCardExpiryNotices,
    InvoiceReminders,
    ProcessCreditCardPayments,
)
from billow.db.models import (
    AutomationMark,
    BillableItem,
    Currency,
    Invoice,
    InvoiceItem,
    OutboxEvent,
    PayMethod,
    Transaction,
)
from billow.modules.gateways import configure_gateway
from billow.security import encrypt
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice
from billow.services.clients.accounts import ClientInput, add_client
from billow.services.settings import set_setting
from billow.uow import UnitOfWork

DUE = date(2027, 3, 10)


def _client(uow: UnitOfWork, n: int, **values) -> int:
    if uow.session.scalar(select(Currency)) is None:
        uow.session.add(Currency(code="USD", prefix="$", is_default=True))
        uow.session.flush()
    data = {"firstname": "Bill", "lastname": f"Payer{n}", "email": f"payer{n}@example.com", "country": "US"}
    client = add_client(uow, ClientInput(values=data), skip_validation=True)
    for key, value in values.items():
        setattr(client, key, value)
    uow.session.flush()
    return client.id


def _invoice(uow: UnitOfWork, client_id: int, amount: str = "100.00", due: date = DUE) -> int:
    invoice = create_invoice(uow, client_id, [InvoiceLine("Hosting", Decimal(amount))],
                             date=due - timedelta(days=14), duedate=due, send_email=False)
    return invoice.id


def _emails(db, template: str) -> list[int]:
    with db() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "EmailRequested"))
        return sorted(r.payload["relid"] for r in rows if r.payload["template"] == template)


def _days(start: date, end: date):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def test_reminders_and_overdue_notices_go_out_on_their_day_once(db, uow):
    late = _client(uow, 1)
    exempt = _client(uow, 2, overideduenotices=True)
    set_setting(uow, "SendThirdOverdueInvoiceReminder", "12")
    first = _invoice(uow, late)
    quiet = _invoice(uow, exempt)
    uow.commit()
    sent: dict[date, list[str]] = {}
    for day in _days(DUE - timedelta(days=10), DUE + timedelta(days=20)):
        report = run_cron(db, as_of=day, tasks=[InvoiceReminders()])
        counts = report.result("InvoiceReminders").counts
        if counts:
            sent[day] = sorted(counts)
        run_cron(db, as_of=day, tasks=[InvoiceReminders()], force=True)  # a forced re-run adds nothing
    assert sent == {
        DUE - timedelta(days=7): ["reminder"],
        DUE + timedelta(days=1): ["firstoverdue"],
        DUE + timedelta(days=5): ["secondoverdue"],
        DUE + timedelta(days=12): ["thirdoverdue"],
    }
    for template in ("Invoice Payment Reminder", "First Invoice Overdue Notice",
                     "Second Invoice Overdue Notice", "Third Invoice Overdue Notice"):
        assert _emails(db, template) == [first]
    assert quiet not in _emails(db, "First Invoice Overdue Notice")


def test_a_missed_day_is_caught_up_with_the_latest_stage_only(db, uow):
    client = _client(uow, 1)
    invoice = _invoice(uow, client)
    uow.commit()
    # No run between the due date and six days after: only the second notice goes out.
    run_cron(db, as_of=DUE + timedelta(days=6), tasks=[InvoiceReminders()])
    assert _emails(db, "Second Invoice Overdue Notice") == [invoice]
    assert _emails(db, "First Invoice Overdue Notice") == []


def test_paid_invoices_get_no_reminder(db, uow):
    from billow.services.billing.payments import add_payment

    client = _client(uow, 1)
    invoice = _invoice(uow, client)
    add_payment(uow, invoice, transid="T1", gateway="banktransfer")
    uow.commit()
    run_cron(db, as_of=DUE + timedelta(days=1), tasks=[InvoiceReminders()])
    assert _emails(db, "First Invoice Overdue Notice") == []


@pytest.mark.parametrize(("fee_type", "amount", "minimum", "expected"), [
    ("Percentage", "10", "0", Decimal("10.00")),
    ("Percentage", "1", "5.00", Decimal("5.00")),
    ("Fixed Amount", "7.50", "0", Decimal("7.50")),
])
def test_late_fee_is_added_once_on_its_day(db, uow, fee_type, amount, minimum, expected):
    payer = _client(uow, 1)
    exempt = _client(uow, 2, latefeeoveride=True)
    for key, value in {"LateFeeType": fee_type, "InvoiceLateFeeAmount": amount,
                       "LateFeeMinimum": minimum, "AddLateFeeDays": "5"}.items():
        set_setting(uow, key, value)
    invoice = _invoice(uow, payer)
    spared = _invoice(uow, exempt)
    uow.commit()
    added_on = []
    for day in _days(DUE, DUE + timedelta(days=8)):
        if run_cron(db, as_of=day, tasks=[AddLateFees()]).result("AddLateFees").counts.get("latefees"):
            added_on.append(day)
        run_cron(db, as_of=day, tasks=[AddLateFees()], force=True)
    assert added_on == [DUE + timedelta(days=5)]
    with db() as session:
        fees = session.scalars(select(InvoiceItem).where(InvoiceItem.type == "LateFee")).all()
        assert [(f.invoice_id, f.amount) for f in fees] == [(invoice, expected)]
        assert session.get(Invoice, invoice).total == Decimal("100.00") + expected
        assert session.get(Invoice, spared).total == Decimal("100.00")
        hooks = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "AddInvoiceLateFee")).all()
        assert [h.payload for h in hooks] == [{"invoiceid": invoice}]


def test_create_invoices_uses_the_generation_service_and_never_invoices_twice(db, uow):
    client = _client(uow, 1)
    uow.session.add(BillableItem(client_id=client, description="Backup space", amount=Decimal("4.00"),
                                 invoiceaction="recur", recur=1, recurcycle="Months", recurfor=3,
                                 duedate=DUE))
    uow.commit()
    created = []
    for day in _days(DUE - timedelta(days=20), DUE + timedelta(days=70)):
        report = run_cron(db, as_of=day, tasks=[CreateInvoices()])
        if report.result("CreateInvoices").counts.get("invoices"):
            created.append(day)
        run_cron(db, as_of=day, tasks=[CreateInvoices()], force=True)
    # 14 days (CreateInvoiceDaysBefore) before each of the three monthly due dates.
    assert created == [DUE - timedelta(days=14), date(2027, 3, 27), date(2027, 4, 26)]
    with db() as session:
        invoices = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        assert [i.duedate for i in invoices] == [DUE, date(2027, 4, 10), date(2027, 5, 10)]
        keys = session.scalars(select(AutomationMark.key).where(AutomationMark.task == "CreateInvoices"))
        assert len(keys.all()) == 3


def _card(uow: UnitOfWork, client: int, token: str) -> None:
    uow.session.add(PayMethod(client_id=client, gateway="testcard", token_enc=encrypt(token),
                              card_last_four="4242", card_expiry="12/30"))


def test_capture_charges_stored_cards_and_records_declines(db, uow):
    configure_gateway(uow, "testcard", active=True)
    good = _client(uow, 1)
    bad = _client(uow, 2)
    nocard = _client(uow, 3)
    _card(uow, good, "tok_visa")
    _card(uow, bad, "decline_insufficient_funds")
    paid = _invoice(uow, good)
    declined = _invoice(uow, bad)
    _invoice(uow, nocard)
    uow.commit()
    report = run_cron(db, as_of=DUE, tasks=[ProcessCreditCardPayments()])
    result = report.result("ProcessCreditCardPayments")
    assert result.counts == {"captured": 1, "declined": 1}
    assert result.failures == [{"item": f"ProcessCreditCardPayments:{declined}",
                                "reason": "testcard: Card declined (test token)"}]
    # The same day again: no second attempt on the declined card.
    again = run_cron(db, as_of=DUE, tasks=[ProcessCreditCardPayments()], force=True)
    assert again.result("ProcessCreditCardPayments").counts == {}
    # Next day: retried (daily retries are the default).
    nxt = run_cron(db, as_of=DUE + timedelta(days=1), tasks=[ProcessCreditCardPayments()])
    assert nxt.result("ProcessCreditCardPayments").counts == {"declined": 1}
    with db() as session:
        assert session.get(Invoice, paid).status == "Paid"
        assert session.get(Invoice, declined).status == "Unpaid"
        txns = session.scalars(select(Transaction)).all()
        assert [(t.invoice_id, t.gateway, t.amountin) for t in txns] == [
            (paid, "testcard", Decimal("100.00"))]
    assert _emails(db, "Credit Card Payment Failed") == [declined, declined]


def test_capture_attempt_only_once(db, uow):
    configure_gateway(uow, "testcard", active=True)
    bad = _client(uow, 2)
    _card(uow, bad, "decline_card")
    set_setting(uow, "CCAttemptOnlyOnce", "on")
    _invoice(uow, bad)
    uow.commit()
    assert run_cron(db, as_of=DUE, tasks=[ProcessCreditCardPayments()]).result(
        "ProcessCreditCardPayments").counts == {"declined": 1}
    for offset in (1, 2, 8):
        report = run_cron(db, as_of=DUE + timedelta(days=offset), tasks=[ProcessCreditCardPayments()])
        assert report.result("ProcessCreditCardPayments").counts == {}


def test_page_planning_agrees_with_the_due_items(db, uow):
    from billow.services.billing.generation import collect_due_items, due_client_ids

    from . import book

    hosting = book.product(uow, "Hosting")
    for n, (cycle, status, due) in enumerate([
            ("Monthly", "Active", DUE), ("Annually", "Active", DUE + timedelta(days=40)),
            ("Monthly", "Suspended", DUE - timedelta(days=3)), ("Monthly", "Terminated", DUE),
            ("Free Account", "Active", DUE), ("One Time", "Active", DUE), ("Quarterly", "Active", None)]):
        owner = book.client(uow, f"plan{n}")
        svc = book.service(uow, owner, hosting, cycle=cycle, status=status, due=due)
        if n == 1:
            book.addon(uow, svc, due=DUE + timedelta(days=3))
    set_setting(uow, "CreateInvoiceDaysBeforeAnnually", "45")
    uow.commit()
    for offset in (-30, -14, -10, 0, 5):
        with UnitOfWork(db) as work:
            day = DUE + timedelta(days=offset)
            expected = {item.client_id for item in collect_due_items(work, day, None, None)}
            assert due_client_ids(work, day) == expected, day


def test_generation_hooks_fire_once_per_run(db, uow):
    for n in (1, 2, 3):
        client = _client(uow, n)
        uow.session.add(BillableItem(client_id=client, description="Setup work", amount=Decimal("30.00"),
                                     invoiceaction="nextcron"))
    uow.commit()
    report = run_cron(db, as_of=DUE, tasks=[CreateInvoices()])
    assert report.result("CreateInvoices").counts == {"invoices": 3, "items": 3}
    with db() as session:
        names = session.scalars(select(OutboxEvent.name).where(OutboxEvent.name.like("%InvoicingGenerate%")))
        assert sorted(names) == ["AfterInvoicingGenerateInvoiceItems", "PreInvoicingGenerateInvoiceItems"]


def test_the_database_refuses_a_second_invoice_for_the_same_period(db, uow):
    """Even if a source forgets that it invoiced something, the period key stops a duplicate."""
    from sqlalchemy import func, update

    client = _client(uow, 1)
    other = _client(uow, 2)
    for owner in (client, other):
        uow.session.add(BillableItem(client_id=owner, description="Backup space", amount=Decimal("4.00"),
                                     invoiceaction="recur", recur=1, recurcycle="Months", recurfor=3,
                                     duedate=DUE))
    uow.commit()
    first = run_cron(db, as_of=DUE, tasks=[CreateInvoices()])
    assert first.result("CreateInvoices").counts == {"invoices": 2, "items": 2}
    # The first client's item "forgets" it was invoiced; the second gets a genuine new period.
    with db() as session:
        session.execute(update(BillableItem).where(BillableItem.client_id == client)
                        .values(invoicecount=0, duedate=DUE))
        session.commit()
    again = run_cron(db, as_of=DUE + timedelta(days=30), tasks=[CreateInvoices()])
    result = again.result("CreateInvoices")
    assert result.counts == {"invoices": 1, "items": 1}
    assert result.failed == 1
    assert result.failures[0]["item"] == f"client:{client}"
    assert result.failures[0]["reason"].startswith("already invoiced: Item:")
    with db() as session:
        counted = select(Invoice.client_id, func.count()).group_by(Invoice.client_id)
        per_client = dict(session.execute(counted).all())
    assert per_client == {client: 1, other: 2}


def test_card_expiry_notices_on_the_configured_day(db, uow):
    soon = _client(uow, 1)
    later = _client(uow, 2)
    _card(uow, soon, "tok_a")
    uow.session.add(PayMethod(client_id=later, gateway="testcard", token_enc=encrypt("tok_b"),
                              card_last_four="1111", card_expiry="12/31"))
    uow.session.flush()
    uow.session.execute(update(PayMethod).where(PayMethod.client_id == soon).values(card_expiry="03/27"))
    uow.commit()
    for day in _days(date(2027, 3, 1), date(2027, 3, 31)):
        run_cron(db, as_of=day, tasks=[CreditCardExpiryNotices()])
        run_cron(db, as_of=day, tasks=[CreditCardExpiryNotices()], force=True)
    assert _emails(db, "Credit Card Expiring Soon") == [soon]
