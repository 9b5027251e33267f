"""Two processes at once: one payment per gateway transaction id, overpayment credited once.

Runs against the test database (SQLite or PostgreSQL, whichever ``BILLOW_TEST_DATABASE``
selects) from two real OS processes released together by a barrier, several rounds each.
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

from billing_helpers import make_client, peek
from billing_workers import pay_worker
from sqlalchemy import func, select

from billow.db.models import Client, CreditLog, Invoice, Transaction
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice

ROUNDS = 6


def _race(tasks_a: list, tasks_b: list) -> list[tuple[int, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=pay_worker, args=(tasks, barrier, results)) for tasks in (tasks_a, tasks_b)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in range(len(tasks_a) + len(tasks_b))]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return outcomes


def _invoices(uow, client_id: int, amount: str, count: int) -> list[int]:
    ids = [create_invoice(uow, client_id, [InvoiceLine("Plan", Decimal(amount))], send_email=False).id
           for _ in range(count)]
    uow.commit()
    return ids


def test_same_transid_twice_records_one_payment(uow, db):
    client = make_client(uow)
    ids = _invoices(uow, client.id, "50", ROUNDS)
    uow.session.close()
    tasks = [(invoice_id, f"dup-{invoice_id}", None) for invoice_id in ids]
    outcomes = _race(tasks, tasks)
    for invoice_id in ids:
        mine = sorted(result for inv, result in outcomes if inv == invoice_id)
        assert mine == ["Transaction ID must be Unique", "ok"]
    counts = peek(db, lambda u: dict(u.session.execute(
        select(Transaction.invoice_id, func.count()).group_by(Transaction.invoice_id)).all()))
    assert counts == {invoice_id: 1 for invoice_id in ids}
    assert peek(db, lambda u: {i.status for i in u.session.scalars(select(Invoice))}) == {"Paid"}


def test_two_payments_that_overpay_credit_the_excess_once(uow, db):
    client = make_client(uow)
    ids = _invoices(uow, client.id, "100", ROUNDS)
    uow.session.close()
    outcomes = _race([(i, f"a-{i}", "60") for i in ids], [(i, f"b-{i}", "60") for i in ids])
    assert [result for _, result in outcomes] == ["ok"] * (2 * ROUNDS)

    def books(u):
        log = u.session.scalars(select(CreditLog).where(CreditLog.client_id == client.id)).all()
        numbers = sorted(int(i.invoicenum) for i in u.session.scalars(select(Invoice)))
        return u.session.get(Client, client.id).credit, [(c.amount, c.relid) for c in log], numbers

    credit, log, numbers = books_ = peek(db, books)
    assert credit == Decimal("20.00") * ROUNDS, books_
    assert sorted(log, key=lambda e: e[1]) == [(Decimal("20.00"), i) for i in ids]
    # Legal numbers were taken by two processes at once: sequential, no gap, none reused.
    assert numbers == list(range(1, ROUNDS + 1))


def test_same_transid_on_two_invoices_at_once_records_one(uow, db):
    client = make_client(uow)
    first, second = _invoices(uow, client.id, "10", ROUNDS), _invoices(uow, client.id, "10", ROUNDS)
    uow.session.close()
    outcomes = _race([(i, f"cb-{n}", None) for n, i in enumerate(first)],
                     [(i, f"cb-{n}", None) for n, i in enumerate(second)])
    assert sorted(result for _, result in outcomes) == (
        ["Transaction ID must be Unique"] * ROUNDS + ["ok"] * ROUNDS)
    per_transid = peek(db, lambda u: u.session.execute(
        select(Transaction.transid, func.count()).group_by(Transaction.transid)).all())
    assert sorted(per_transid) == sorted((f"cb-{n}", 1) for n in range(ROUNDS))
