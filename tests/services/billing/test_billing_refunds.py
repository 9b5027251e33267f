"""Refunds (full/partial, gateway record or credit) and the client close/delete/stats steps."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from billing_helpers import make_client
from sqlalchemy import select, update

from billow.db.models import Client, CreditLog, Invoice, Transaction
from billow.errors import ModuleError, ValidationError
from billow.events import add_hook
from billow.modules.gateways.base import Gateway, GatewayResult
from billow.services.billing import payments
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.credit import add_credit, logged_credit
from billow.services.billing.invoices import create_invoice, invoice_balance
from billow.services.clients import lifecycle as client_lifecycle
from billow.uow import UnitOfWork

D = Decimal


def _paid(uow, client, amount="100"):
    invoice = create_invoice(uow, client.id, [InvoiceLine("Plan", D(amount))])
    txn = payments.add_payment(uow, invoice.id, transid=f"p{invoice.id}", gateway="banktransfer")
    assert invoice.status == "Paid"
    return invoice, txn


def test_full_refund_to_gateway_record_marks_refunded(uow, client):
    events = []
    add_hook("InvoiceRefunded")(lambda v: events.append(v["invoiceid"]))
    add_hook("ManualRefund")(lambda v: events.append(("manual", v["transid"])))
    invoice, txn = _paid(uow, client)
    refund = payments.refund_payment(uow, txn.id, refund_transid="r1")
    assert (refund.amountout, refund.refundid, refund.gateway, refund.transid) == (D("100.00"), txn.id,
                                                                                    "banktransfer", "r1")
    assert invoice.status == "Refunded" and invoice.date_refunded is not None
    assert invoice_balance(uow, invoice) == D("100.00")
    assert events == [("manual", txn.id), invoice.id]
    with pytest.raises(ValidationError):
        payments.refund_payment(uow, txn.id, D("1"))


def test_partial_refund_keeps_paid_or_reverses_to_unpaid(uow, client):
    invoice, txn = _paid(uow, client)
    payments.refund_payment(uow, txn.id, D("30"))
    assert invoice.status == "Paid" and invoice_balance(uow, invoice) == D("30.00")
    payments.refund_payment(uow, txn.id, D("20"), reverse=True)
    assert invoice.status == "Unpaid" and invoice.datepaid is None
    payments.add_payment(uow, invoice.id, transid="again", gateway="mailin")
    assert invoice.status == "Paid" and invoice_balance(uow, invoice) == 0


def test_refund_to_credit(uow, client):
    invoice, txn = _paid(uow, client, "40")
    payments.refund_payment(uow, txn.id, to_credit=True)
    assert invoice.status == "Refunded"
    fresh = uow.session.get(Client, client.id)
    assert fresh.credit == D("40.00") == logged_credit(uow, client.id)
    entry = uow.session.scalar(select(CreditLog).where(CreditLog.client_id == client.id))
    assert entry.description == f"Credit from Refund of Invoice ID {invoice.id}" and entry.relid == invoice.id


def test_gateway_refund_needs_a_gateway_that_refunds(uow, client):
    _, txn = _paid(uow, client)
    with pytest.raises(ModuleError, match="not supported"):
        payments.refund_payment(uow, txn.id, through_gateway=True)


def test_close_client_cancels_unpaid_and_returns_credit(uow, client):
    add_credit(uow, client.id, D("5"), "gift")
    unpaid = create_invoice(uow, client.id, [InvoiceLine("a", D("10"))], apply_credit=True)
    paid, _ = _paid(uow, client, "3")
    client_lifecycle.close_client(uow, client.id)
    assert unpaid.status == "Cancelled" and unpaid.credit == 0 and paid.status == "Paid"
    assert uow.session.get(Client, client.id).credit == D("5.00") == logged_credit(uow, client.id)


@pytest.mark.parametrize("delete_transactions", [False, True])
def test_delete_client_keeps_transactions_unless_asked(uow, delete_transactions):
    client = make_client(uow)
    _paid(uow, client)
    add_credit(uow, client.id, D("1"), "x")
    uow.commit()
    client_lifecycle.delete_client(uow, client.id, delete_transactions=delete_transactions)
    uow.commit()
    assert uow.session.scalars(select(Invoice)).all() == []
    assert uow.session.scalars(select(CreditLog)).all() == []
    kept = uow.session.scalars(select(Transaction)).all()
    assert [t.client_id for t in kept] == ([] if delete_transactions else [0])


def test_stats(uow, client):
    from datetime import date

    _paid(uow, client, "10")
    create_invoice(uow, client.id, [InvoiceLine("old", D("7"))], duedate=date(2000, 1, 1))
    partly = create_invoice(uow, client.id, [InvoiceLine("new", D("20"))], duedate=date(2999, 1, 1))
    payments.add_payment(uow, partly.id, transid="part", gateway="mailin", amount=D("5"), fees=D("0.5"))
    create_invoice(uow, client.id, [InvoiceLine("d", D("4"))], status="Draft")
    stats = client_lifecycle.client_stats(uow, uow.session.get(Client, client.id))
    assert stats["numpaidinvoices"] == 1 and stats["paidinvoicesamount"] == "$10.00 USD"
    assert stats["numunpaidinvoices"] == 2 and stats["unpaidinvoicesamount"] == "$27.00 USD"
    assert stats["numdueinvoices"] == 2 and stats["dueinvoicesbalance"] == "$22.00 USD"
    assert stats["numoverdueinvoices"] == 1 and stats["overdueinvoicesbalance"] == "$7.00 USD"
    assert stats["numDraftInvoices"] == 1 and stats["draftInvoicesBalance"] == "$4.00 USD"
    assert stats["grossRevenue"] == "$15.00 USD" and stats["income"] == "$14.50 USD"
    assert stats["expenses"] == "$0.50 USD"


class _SlowRefunds(Gateway):
    """A gateway whose refund checks that nothing of the refund's is locked meanwhile."""

    system_name = "banktransfer"
    display_name = "Slow refunds"

    def __init__(self, db) -> None:
        super().__init__()
        self.db = db
        self.seen: list[str] = []

    def refund(self, request):
        def write() -> None:
            with UnitOfWork(self.db) as other:
                other.session.execute(update(Invoice).where(Invoice.id == request.invoice_id)
                                      .values(notes="written while the gateway answered"))
                other.commit()
                self.seen.append("written")

        worker = threading.Thread(target=write)
        worker.start()
        worker.join(timeout=5)
        return GatewayResult("success", transid="gw-refund-1")


def test_gateway_refund_holds_no_lock_while_the_gateway_answers(db, client, monkeypatch):
    """Another connection can write the invoice while the gateway is asked for the refund."""
    with UnitOfWork(db) as uow:
        invoice, txn = _paid(uow, uow.session.merge(client))
        invoice_id, txn_id = invoice.id, txn.id
        uow.commit()
    gateway = _SlowRefunds(db)
    monkeypatch.setattr(payments, "load_gateway", lambda uow, name: gateway)
    with UnitOfWork(db) as uow:
        refund = payments.refund_payment(uow, txn_id, D("30"), through_gateway=True)
        uow.commit()
        assert (refund.amountout, refund.transid) == (D("30.00"), "gw-refund-1")
    assert gateway.seen == ["written"]
    with UnitOfWork(db) as uow:
        assert uow.session.get(Invoice, invoice_id).notes == "written while the gateway answered"
