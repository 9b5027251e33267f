"""Property tests of the ledger: whatever happens, the books add up.

For any sequence of invoice creation, item edits, payments, partial refunds, credit
additions and credit applications (in a currency with 0, 2 or 3 decimals):

* each invoice's balance equals its total − money in + money out, from the ledger rows;
* its total equals subtotal + taxes − applied credit;
* a payable invoice is Paid exactly when nothing is owed (Unpaid ⇒ balance > 0);
* the client's credit equals the sum of its credit log and is never negative;
* no stored amount has more decimals than the currency.
"""

from __future__ import annotations

from decimal import Decimal

from billing_helpers import make_client, make_currency, settings, tax_rule
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billow.db.models import Client, CreditLog, Currency, Invoice, TaxRule, Transaction
from billow.errors import BillowError
from billow.services.billing import payments
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.credit import add_credit
from billow.services.billing.invoice_edits import InvoiceChanges, ItemChange, update_invoice
from billow.services.billing.invoices import apply_credit, create_invoice, invoice_balance
from billow.uow import UnitOfWork

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=3, allow_nan=False)
lines = st.lists(st.tuples(amounts, st.booleans()), min_size=1, max_size=4)
ops = st.lists(st.one_of(
    st.tuples(st.just("create"), lines),
    st.tuples(st.just("edit"), st.integers(0, 9), amounts, st.booleans()),
    st.tuples(st.just("add_line"), st.integers(0, 9), amounts),
    st.tuples(st.just("delete_line"), st.integers(0, 9)),
    st.tuples(st.just("pay"), st.integers(0, 9), st.one_of(st.none(), amounts)),
    st.tuples(st.just("refund"), st.integers(0, 19), st.one_of(st.none(), amounts), st.booleans()),
    st.tuples(st.just("credit"), amounts),
    st.tuples(st.just("apply"), st.integers(0, 9), st.one_of(st.none(), amounts)),
), min_size=1, max_size=14)

_seq = {"n": 0}


def _places_ok(value: Decimal, places: int) -> bool:
    return value == value.quantize(Decimal(1).scaleb(-places))


def _run(uow: UnitOfWork, client_id: int, op: tuple) -> None:
    kind = op[0]
    invoices = uow.session.scalars(select(Invoice).where(Invoice.client_id == client_id)
                                   .order_by(Invoice.id)).all()
    pick = (lambda i: invoices[i % len(invoices)]) if invoices else None
    if kind == "create":
        create_invoice(uow, client_id, [InvoiceLine("L", a, taxed=t) for a, t in op[1]], send_email=False)
    elif kind == "credit" and op[1] > 0:
        add_credit(uow, client_id, op[1], "top up")
    elif pick is None:
        return
    elif kind == "edit":
        invoice = pick(op[1])
        if invoice.items:
            update_invoice(uow, invoice.id, InvoiceChanges(
                changed_items={invoice.items[0].id: ItemChange("E", op[2], op[3])}))
    elif kind == "add_line":
        update_invoice(uow, pick(op[1]).id, InvoiceChanges(new_items=[InvoiceLine("N", op[2])]))
    elif kind == "delete_line":
        invoice = pick(op[1])
        if invoice.items:
            update_invoice(uow, invoice.id, InvoiceChanges(delete_item_ids=[invoice.items[-1].id]))
    elif kind == "pay":
        _seq["n"] += 1
        payments.add_payment(uow, pick(op[1]).id, transid=f"t{_seq['n']}", gateway="mailin", amount=op[2])
    elif kind == "refund":
        paid = uow.session.scalars(select(Transaction).where(
            Transaction.client_id == client_id, Transaction.amountin > 0, Transaction.invoice_id > 0,
            Transaction.refundid == 0).order_by(Transaction.id)).all()
        if paid:
            payments.refund_payment(uow, paid[op[1] % len(paid)].id, op[2], to_credit=op[3], send_email=False)
    elif kind == "apply":
        apply_credit(uow, pick(op[1]).id, op[2])


def _check(uow: UnitOfWork, client_id: int, places: int) -> None:
    client = uow.session.get(Client, client_id)
    logged = uow.session.scalar(select(func.sum(CreditLog.amount)).where(CreditLog.client_id == client_id))
    assert client.credit == (logged or 0)
    assert client.credit >= 0
    for entry in uow.session.scalars(select(CreditLog).where(CreditLog.client_id == client_id)):
        assert _places_ok(entry.amount, places)
    for invoice in uow.session.scalars(select(Invoice).where(Invoice.client_id == client_id)):
        rows = uow.session.scalars(select(Transaction).where(Transaction.invoice_id == invoice.id)).all()
        money_in = sum((t.amountin for t in rows), Decimal(0))
        money_out = sum((t.amountout for t in rows), Decimal(0))
        balance = invoice_balance(uow, invoice)
        assert balance == invoice.total - money_in + money_out
        assert invoice.total == invoice.subtotal + invoice.tax + invoice.tax2 - invoice.credit
        assert invoice.credit >= 0
        if invoice.status == "Unpaid":
            assert balance > 0
        if balance <= 0 and invoice.status not in ("Refunded", "Cancelled", "Draft"):
            assert invoice.status == "Paid"
        for value in (invoice.subtotal, invoice.tax, invoice.tax2, invoice.total, invoice.credit, balance,
                      *(i.amount for i in invoice.items), *(t.amountin for t in rows),
                      *(t.amountout for t in rows), *(t.fees for t in rows)):
            assert _places_ok(value, places), (value, places)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(decimals=st.sampled_from([0, 2, 3]), taxed=st.booleans(), sequence=ops)
def test_ledger_invariants(db, decimals, taxed, sequence):
    with UnitOfWork(db) as uow:
        code = f"X{decimals}"
        currency = uow.session.scalar(select(Currency).where(Currency.code == code)) or make_currency(
            uow, code, decimals=decimals)
        settings(uow, TaxEnabled="on" if taxed else "", TaxL2Compound="on")
        if not uow.session.scalar(select(func.count()).select_from(TaxRule)):
            tax_rule(uow, "17.5")
            tax_rule(uow, "7", level=2)
        client = make_client(uow, currency=currency.id)
        uow.commit()
        for op in sequence:
            try:
                with uow.session.begin_nested():
                    _run(uow, client.id, op)
            except BillowError:
                event(f"refused {op[0]}")
            else:
                event(f"done {op[0]}")
            _check(uow, client.id, decimals)
        uow.commit()
