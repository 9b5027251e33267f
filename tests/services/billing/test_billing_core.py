"""The invoice core other areas call: create_invoice, invoice_balance, PAID_STEPS, generation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from billing_helpers import make_client, settings, tax_rule
from sqlalchemy import select

from billow.clock import frozen
from billow.db.models import BillableItem, Invoice, OutboxEvent
from billow.errors import NotFound
from billow.events import add_hook
from billow.services.billing import generation as invoicegen
from billow.services.billing import invoices, payments
from billow.services.billing.billable_items import add_billable_item
from billow.services.billing.contract import DueItem, InvoiceLine


def _events(uow, name):
    return list(uow.session.scalars(select(OutboxEvent).where(OutboxEvent.name == name)))


def test_create_invoice_totals_and_events(uow, client):
    seen = []
    add_hook("InvoiceCreation")(lambda v: seen.append(("creation", v)))
    add_hook("InvoiceCreated")(lambda v: seen.append(("created", v)))
    with frozen(date(2026, 3, 1)):
        inv = invoices.create_invoice(
            uow, client.id,
            [InvoiceLine("Hosting", Decimal("10.005")), InvoiceLine("Setup", Decimal("5"), type="Setup")],
            duedate=date(2026, 3, 8),
        )
        uow.commit()
    assert inv.status == "Unpaid" and inv.date == date(2026, 3, 1) and inv.duedate == date(2026, 3, 8)
    assert inv.subtotal == Decimal("15.01") and inv.total == Decimal("15.01")
    assert [i.amount for i in inv.items] == [Decimal("10.01"), Decimal("5.00")]
    assert invoices.invoice_balance(uow, inv) == Decimal("15.01")
    assert [s[0] for s in seen] == ["creation", "created"]
    assert seen[0][1] == {"source": "autogen", "user": "system", "invoiceid": inv.id, "status": "Unpaid"}
    emails = _events(uow, "EmailRequested")
    assert [e.payload["template"] for e in emails] == ["Invoice Created"]


def test_draft_sends_no_email_and_unknown_client(uow, client):
    invoices.create_invoice(uow, client.id, [InvoiceLine("x", Decimal("1"))], status="draft")
    assert _events(uow, "EmailRequested") == []
    with pytest.raises(NotFound, match="Client ID Not Found"):
        invoices.create_invoice(uow, 999, [])
    with pytest.raises(NotFound, match="Invoice ID Not Found"):
        invoices.get_invoice(uow, 999)


def test_taxes_from_client_rules(uow):
    settings(uow, TaxEnabled="on")
    tax_rule(uow, "20", country="GB")
    tax_rule(uow, "5", level=2, country="GB")
    client = make_client(uow, country="GB")
    inv = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("100"), taxed=True),
                                                   InvoiceLine("b", Decimal("50"))])
    assert (inv.taxrate, inv.taxrate2) == (Decimal("20.000"), Decimal("5.000"))
    assert (inv.subtotal, inv.tax, inv.tax2, inv.total) == (
        Decimal("150.00"), Decimal("20.00"), Decimal("5.00"), Decimal("175.00"))
    explicit = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("100"), taxed=True)],
                                       taxrate=Decimal("10"), taxrate2=Decimal("0"))
    assert explicit.tax == Decimal("10.00") and explicit.total == Decimal("110.00")


def test_paid_steps_run_before_invoice_paid_and_number_assigned(uow, client, monkeypatch):
    order = []
    monkeypatch.setattr(invoices, "PAID_STEPS", [lambda u, inv: order.append(("step", inv.id, inv.status))])
    add_hook("InvoicePaidPreEmail")(lambda v: order.append(("preemail", v["invoiceid"])))
    add_hook("InvoicePaid")(lambda v: order.append(("paid", v["invoiceid"])))
    settings(uow, SequentialInvoiceNumberFormat="INV-{YEAR}-{NUMBER}")
    first = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("10"))])
    second = invoices.create_invoice(uow, client.id, [InvoiceLine("b", Decimal("20"))])
    with frozen(date(2026, 5, 2)):
        payments.add_payment(uow, second.id, transid="t1", gateway="banktransfer")
        payments.add_payment(uow, first.id, transid="t2", gateway="banktransfer", amount=Decimal("4"))
        assert first.status == "Unpaid" and first.invoicenum == ""
        payments.add_payment(uow, first.id, transid="t3", gateway="banktransfer", amount=Decimal("6"))
    uow.commit()
    assert order == [("preemail", second.id), ("step", second.id, "Paid"), ("paid", second.id),
                     ("preemail", first.id), ("step", first.id, "Paid"), ("paid", first.id)]
    assert second.invoicenum == "INV-2026-1" and first.invoicenum == "INV-2026-2"
    assert invoices.invoice_balance(uow, first) == 0


def test_zero_invoice_is_paid_at_once_and_credit_applied(uow, client):
    free = invoices.create_invoice(uow, client.id, [InvoiceLine("Free", Decimal("0"))])
    assert free.status == "Paid" and free.datepaid is not None
    from billow.services.billing.credit import add_credit

    add_credit(uow, client.id, Decimal("30"), "gift")
    inv = invoices.create_invoice(uow, client.id, [InvoiceLine("x", Decimal("25"))], apply_credit=True)
    assert inv.status == "Paid" and inv.credit == Decimal("25.00") and inv.total == Decimal("0.00")
    assert client.credit == Decimal("5.00")


def test_generate_invoices_groups_and_marks_items(uow):
    a = make_client(uow)
    b = make_client(uow, separateinvoices=True)
    uow.commit()
    with frozen(date(2026, 1, 10)):
        add_billable_item(uow, a.id, "Consulting", Decimal("100"), invoiceaction="nextcron")
        add_billable_item(uow, a.id, "Support", Decimal("50"), invoiceaction="nextcron")
        add_billable_item(uow, a.id, "Extra", Decimal("7"), invoiceaction="nextinvoice")
        add_billable_item(uow, a.id, "Later", Decimal("9"), invoiceaction="duedate", duedate=date(2026, 6, 1))
        add_billable_item(uow, b.id, "One", Decimal("1"), invoiceaction="nextcron")
        add_billable_item(uow, b.id, "Two", Decimal("2"), invoiceaction="recur", recur=1,
                          recurcycle="Months", recurfor=2, duedate=date(2026, 1, 10))
        made = invoicegen.generate_invoices(uow, no_email=True)
        again = invoicegen.generate_invoices(uow)
    uow.commit()
    assert again == []
    by_client = {}
    for inv in made:
        by_client.setdefault(inv.client_id, []).append(inv)
    assert [sorted(i.description for i in inv.items) for inv in by_client[a.id]] == [
        ["Consulting", "Extra", "Support"]]
    assert len(by_client[b.id]) == 2
    recur = uow.session.scalar(select(BillableItem).where(BillableItem.description == "Two"))
    assert recur.invoicecount == 1 and recur.duedate == date(2026, 2, 10)
    assert _events(uow, "EmailRequested") == []
    with frozen(date(2026, 2, 1)):
        assert len(invoicegen.generate_invoices(uow)) == 1
    with frozen(date(2026, 3, 1)):
        assert invoicegen.generate_invoices(uow) == []


def test_generate_passes_ids_to_sources(uow, client, monkeypatch):
    calls = []

    def source(u, as_of, client_id, *, ids=None):
        calls.append((as_of, client_id, ids))
        return [DueItem("Svc", Decimal("3"), type="Hosting", relid=5, client_id=client.id,
                        on_invoiced=lambda u2, inv_id: calls.append(("invoiced", inv_id)))]

    monkeypatch.setattr(invoicegen, "DUE_SOURCES", [source])
    made = invoicegen.generate_invoices(uow, as_of=date(2026, 4, 1), client_id=client.id, service_ids=[5])
    assert calls[0] == (date(2026, 4, 1), client.id, {"service": [5], "addon": [], "domain": []})
    assert calls[1] == ("invoiced", made[0].id)
    assert made[0].items[0].type == "Hosting"
    assert uow.session.get(Invoice, made[0].id).total == Decimal("3.00")


def test_failing_paid_step_never_loses_the_payment(uow, client, monkeypatch):
    from billow.db.models import ActivityLog
    from billow.errors import ModuleError

    def broken(u, inv):
        u.session.add(BillableItem(client_id=inv.client_id, description="half-done", amount=Decimal("1")))
        u.session.flush()
        raise ModuleError("panel unreachable")

    def fine(u, inv):
        u.session.add(BillableItem(client_id=inv.client_id, description="done", amount=Decimal("2")))

    monkeypatch.setattr(invoices, "PAID_STEPS", [broken, fine])
    inv = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("10"))])
    payments.add_payment(uow, inv.id, transid="ok1", gateway="mailin")
    uow.commit()
    assert inv.status == "Paid"
    assert [b.description for b in uow.session.scalars(select(BillableItem))] == ["done"]
    logged = [a.description for a in uow.session.scalars(select(ActivityLog))]
    assert any("Invoice Paid Automation Failed" in d and "panel unreachable" in d for d in logged)


def test_numbering_resets_yearly_and_never_reuses(uow, client):
    settings(uow, TaxAutoResetNumbering="yearly", SequentialInvoiceNumberFormat="{YEAR}/{MONTH}/{NUMBER}",
             SequentialInvoiceNumberValue="100")
    numbers = []
    for day in (date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)):
        with frozen(day):
            inv = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("1"))])
            payments.add_payment(uow, inv.id, transid=f"n{day}", gateway="mailin")
            numbers.append(inv.invoicenum)
    uow.session.delete(inv)
    with frozen(date(2027, 1, 2)):
        again = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("1"))])
        payments.add_payment(uow, again.id, transid="after-delete", gateway="mailin")
    assert numbers == ["2026/12/100", "2026/12/101", "2027/01/100"]
    assert again.invoicenum == "2027/01/101"


def test_refund_through_a_gateway_module(uow, client):
    from billow.modules.gateways import gateway_classes
    from billow.modules.gateways.base import GatewayResult, PaymentRequest
    from billow.modules.gateways.builtin import BankTransfer

    class Refunding(BankTransfer):
        system_name = "refundpay"
        display_name = "Refund Pay"
        calls: list[PaymentRequest] = []

        def refund(self, request: PaymentRequest) -> GatewayResult:
            self.calls.append(request)
            if request.amount > 50:
                return GatewayResult("declined", reason="limit")
            return GatewayResult("success", transid="RF-1", rawdata={"ok": True})

    classes = gateway_classes()
    classes["refundpay"] = Refunding
    try:
        inv = invoices.create_invoice(uow, client.id, [InvoiceLine("a", Decimal("80"))])
        txn = payments.add_payment(uow, inv.id, transid="g1", gateway="refundpay")
        from billow.errors import ModuleError

        with pytest.raises(ModuleError, match="Refund Failed: limit"):
            payments.refund_payment(uow, txn.id, through_gateway=True)
        refund = payments.refund_payment(uow, txn.id, Decimal("30"), through_gateway=True)
        assert (refund.transid, refund.amountout, refund.gateway) == ("RF-1", Decimal("30.00"), "refundpay")
        assert [(c.transid, c.amount) for c in Refunding.calls] == [("g1", Decimal("80.00")),
                                                                     ("g1", Decimal("30.00"))]
        assert inv.status == "Paid" and invoices.invoice_balance(uow, inv) == Decimal("30.00")
        logged = [e.payload["result"] for e in _events(uow, "LogTransaction")]
        assert logged == ["Refund Declined", "Refund Success"]
    finally:
        classes.pop("refundpay", None)
