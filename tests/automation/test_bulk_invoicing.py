"""The set-based invoice writer keeps every rule of the one-at-a-time path.

Invoice generation writes a page of invoices with one INSERT per table and moves
next-invoice dates with compare-and-set UPDATEs; these tests hold it to the same results
as ``create_invoice`` (totals, taxes, items, events, activity), to the same special cases
(credit, free invoices), and to the database-level refusal of a second invoice.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update

from billow.automation.runner import run_cron
from billow.automation.tasks.billing import CreateInvoices
from billow.db.models import ActivityLog, Client, Invoice, InvoiceItem, OutboxEvent, Service, TaxRule
from billow.errors import Conflict
from billow.services.billing import generation as invoicegen
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.credit import adjust_credit, lock_client
from billow.services.billing.invoice_batch import InvoiceDraft, create_invoices
from billow.services.billing.invoice_timing import invoice_timing
from billow.services.billing.invoices import create_invoice
from billow.services.hosting import invoicing as hosting_invoicing
from billow.services.settings import set_setting
from billow.uow import UnitOfWork

from . import book

DUE = date(2027, 3, 15)
INVOICE_COLUMNS = ("subtotal", "tax", "tax2", "total", "credit", "taxrate", "taxrate2", "tax_note",
                   "status", "paymentmethod", "currency_id", "date", "duedate", "invoicenum")
ITEM_COLUMNS = ("type", "relid", "description", "amount", "taxed", "duedate", "paymentmethod")


def _taxed_book(uow: UnitOfWork) -> None:
    set_setting(uow, "TaxEnabled", "on")
    set_setting(uow, "TaxL2Compound", "on")
    uow.session.add_all([TaxRule(level=1, name="VAT", country="US", taxrate=Decimal("17.5")),
                         TaxRule(level=2, name="City", country="US", taxrate=Decimal("2.25"))])
    uow.session.flush()


def _snapshot(session, invoice_id: int) -> tuple:
    invoice = session.get(Invoice, invoice_id)
    items = session.scalars(select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id)
                            .order_by(InvoiceItem.id)).all()
    events = session.scalars(select(OutboxEvent.name).where(OutboxEvent.resource_id == invoice_id,
                             OutboxEvent.resource_type.in_(("invoice", "email"))).order_by(OutboxEvent.id))
    activity = session.scalars(select(ActivityLog.description).where(
        ActivityLog.userid == invoice.client_id, ActivityLog.description.like("%Invoice%")))
    return ({c: getattr(invoice, c) for c in INVOICE_COLUMNS},
            [{c: getattr(i, c) for c in ITEM_COLUMNS} for i in items],
            list(events), [a.replace(str(invoice_id), "N") for a in activity])


def test_batch_writer_matches_create_invoice(db, uow):
    _taxed_book(uow)
    lines = [InvoiceLine("Hosting (15/03/2027 - 14/04/2027)", Decimal("10.005"), taxed=True, type="Hosting",
                         relid=7, duedate=DUE),
             InvoiceLine("Addon - Backups", Decimal("3.333"), taxed=True, type="Addon", relid=9),
             InvoiceLine("Setup", Decimal("25"), taxed=False, type="Item", relid=3)]
    one, other = book.client(uow, "one"), book.client(uow, "batch")
    uow.commit()
    single = create_invoice(uow, one.id, list(lines), date=DUE - timedelta(days=14), duedate=DUE)
    [batched] = create_invoices(uow, [InvoiceDraft(other.id, list(lines), DUE)], on=DUE - timedelta(days=14))
    uow.commit()
    with db() as session:
        expected, got = _snapshot(session, single.id), _snapshot(session, batched.id)
    assert got == expected
    # The figures themselves: 13.34 taxed at 17.5% then 2.25% compound, plus 25.00 untaxed.
    assert (got[0]["subtotal"], got[0]["tax"], got[0]["tax2"], got[0]["total"]) == (
        Decimal("38.34"), Decimal("2.33"), Decimal("0.35"), Decimal("41.02"))
    assert got[2] == ["InvoiceCreation", "InvoiceCreationPreEmail", "EmailRequested", "InvoiceCreated"]
    assert batched.total == Decimal("41.02") and [i.amount for i in batched.items] == [
        Decimal("10.01"), Decimal("3.33"), Decimal("25.00")]


def test_credit_and_free_invoices_take_the_full_path(db, uow):
    hosting = book.product(uow, "Hosting")
    rich, free = book.client(uow, "rich"), book.client(uow, "free")
    services = [book.service(uow, rich, hosting, amount="30.00", due=DUE).id,
                book.service(uow, free, hosting, amount="0.00", due=DUE).id]
    adjust_credit(uow, lock_client(uow, rich.id), Decimal("50.00"), "prepaid")
    uow.commit()
    report = run_cron(db, as_of=DUE - timedelta(days=14), tasks=[CreateInvoices()])
    assert report.result("CreateInvoices").counts == {"invoices": 2, "items": 2}
    with db() as session:
        by_client = {i.client_id: i for i in session.scalars(select(Invoice))}
        assert (by_client[rich.id].status, by_client[rich.id].credit, by_client[rich.id].total) == (
            "Paid", Decimal("30.00"), Decimal("0.00"))
        assert session.get(Client, rich.id).credit == Decimal("20.00")
        assert by_client[free.id].status == "Paid" and by_client[free.id].invoicenum != ""
        # Paid at once: one period on, not two (the date moves before the paid step runs).
        for service_id in services:
            service = session.get(Service, service_id)
            assert (service.nextinvoicedate, service.nextduedate) == (date(2027, 4, 15), date(2027, 4, 15))


def test_a_date_moved_underneath_refuses_the_invoice(db, uow, monkeypatch):
    """The compare-and-set UPDATE: the database refuses to invoice a date twice."""
    hosting = book.product(uow, "Hosting")
    owner = book.client(uow, "raced")
    service = book.service(uow, owner, hosting, due=DUE)
    uow.commit()
    real = hosting_invoicing.due_items

    def racing(work, as_of, client_id, ids=None, **kwargs):
        items = real(work, as_of, client_id, ids, **kwargs)
        # Another run invoiced this period between our read and our write.
        work.session.execute(update(Service).where(Service.id == service.id)
                             .values(nextinvoicedate=DUE + timedelta(days=31)))
        return items

    # Swap the hosting source for the racing one at the extension point bootstrap filled.
    sources = [racing if source is real else source for source in invoicegen.DUE_SOURCES]
    monkeypatch.setattr(invoicegen, "DUE_SOURCES", sources)
    monkeypatch.setitem(invoicegen.DUE_CLIENT_PLANNERS, racing, hosting_invoicing.due_clients)
    with UnitOfWork(db) as work, pytest.raises(Conflict) as refused:
        invoicegen.generate_invoices(work, as_of=DUE)
    assert refused.value.message == f"already invoiced: services:{service.id}:{DUE}"
    report = run_cron(db, as_of=DUE, tasks=[CreateInvoices()])
    result = report.result("CreateInvoices")
    assert result.failed == 1 and result.failures[0]["item"] == f"client:{owner.id}"
    with db() as session:
        assert session.scalars(select(Invoice)).all() == []
        assert session.get(Service, service.id).nextinvoicedate == DUE


def test_loaded_rows_see_their_new_dates(uow):
    hosting = book.product(uow, "Hosting")
    owner = book.client(uow, "loaded")
    service = book.service(uow, owner, hosting, due=DUE)
    addon = book.addon(uow, service, due=DUE, cycle="Annually")
    made = invoicegen.generate_invoices(uow, as_of=DUE, no_email=True)
    assert [len(i.items) for i in made] == [2]
    assert service.nextinvoicedate == date(2027, 4, 15) and service.nextduedate == DUE
    assert addon.nextinvoicedate == date(2028, 3, 15)


def test_invoice_ids_are_not_reused_after_a_delete(db, uow):
    hosting = book.product(uow, "Hosting")
    owner = book.client(uow, "ids")
    book.service(uow, owner, hosting, due=DUE)
    gone = create_invoice(uow, owner.id, [InvoiceLine("Manual", Decimal("5"))], send_email=False).id
    uow.commit()
    with db() as session:
        session.execute(delete(InvoiceItem).where(InvoiceItem.invoice_id == gone))
        session.execute(delete(Invoice).where(Invoice.id == gone))
        session.commit()
    [made] = invoicegen.generate_invoices(uow, as_of=DUE)
    uow.commit()
    assert made.id > gone


@pytest.mark.parametrize("continuous", ["", "on"])
def test_the_sql_due_rule_selects_what_the_python_rule_accepts(uow, continuous):
    """``InvoiceTiming.where`` (the planner's and sources' SQL) equals ``InvoiceTiming.due``."""
    rng = random.Random(5)
    hosting = book.product(uow, "Hosting")
    owner = book.client(uow, "timing")
    set_setting(uow, "CreateInvoiceDaysBefore", "10")
    set_setting(uow, "CreateInvoiceDaysBeforeAnnually", "40")
    set_setting(uow, "CreateInvoiceDaysBeforeQuarterly", "0")
    set_setting(uow, "ContinuousInvoiceGeneration", continuous)
    cycles = ("Monthly", "Quarterly", "Semi-Annually", "Annually", "Biennially", "Triennially")
    for _ in range(300):
        invoice_on = DUE + timedelta(days=rng.randint(-60, 60))
        due_on = rng.choice([None, invoice_on, invoice_on - timedelta(days=rng.randint(1, 90))])
        made = book.service(uow, owner, hosting, cycle=rng.choice(cycles), due=invoice_on)
        made.nextduedate = due_on
    book.service(uow, owner, hosting, due=None)
    uow.session.flush()
    timing = invoice_timing(uow)
    columns = (Service.id, Service.nextinvoicedate, Service.nextduedate, Service.billingcycle)
    for offset in (-40, -10, 0, 10, 35):
        as_of = DUE + timedelta(days=offset)
        everything = uow.session.execute(select(*columns)).all()
        expected = {row.id for row in everything if timing.due(as_of, *row[1:])}
        selected = set(uow.session.scalars(select(Service.id).where(timing.where(Service, as_of))))
        assert selected == expected and 0 < len(expected) < len(everything), as_of


def test_long_id_lists_are_queried_in_chunks(uow, monkeypatch):
    """GenInvoices over a whole book: every IN list is split (SQLite caps bound parameters)."""
    from billow.db import queries
    from billow.services.billing.billable_items import add_billable_item

    monkeypatch.setattr(queries, "IN_LIST_SIZE", 2)
    hosting = book.product(uow, "Hosting")
    group = book.exempt_group(uow)
    group.separateinvoices = True
    owners = [book.client(uow, f"chunk{n}", group=group if n == 3 else None) for n in range(5)]
    for owner in owners:
        service = book.service(uow, owner, hosting, due=DUE)
        book.addon(uow, service, due=DUE)
        add_billable_item(uow, owner.id, "Extra", Decimal("7"), invoiceaction="nextinvoice")
    made = invoicegen.generate_invoices(uow, as_of=DUE, no_email=True)
    per_client = {}
    for invoice in made:
        per_client.setdefault(invoice.client_id, []).append(sorted(line.type for line in invoice.items))
    separate = owners[3].id
    assert per_client.pop(separate) == [["Hosting", "Item"], ["Addon"]]
    assert list(per_client.values()) == [[["Addon", "Hosting", "Item"]]] * 4
    assert {uow.session.get(Service, s).nextinvoicedate for s in
            uow.session.scalars(select(Service.id))} == {date(2027, 4, 15)}
