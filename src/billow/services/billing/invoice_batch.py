"""Many invoices in one go: the writer behind invoice generation.

:func:`billow.services.billing.invoices.create_invoice` builds one invoice as objects; a daily
run over 100,000 services would spend most of its time in per-row ORM work. This module
writes a batch with one INSERT per table (invoices, items, activity log, outbox) using
the same rules, taken from :mod:`billow.services.billing.invoices` and :mod:`billow.services.billing.tax`:
the same item columns (:func:`~billow.services.billing.invoices.line_values`), the client's tax
rates, totals from :func:`billow.services.billing.tax.compute`, the same activity text and the
same events in the same order per invoice.

An invoice that needs more than writing — the client has credit to apply, or nothing is
owed so it is Paid at once (legal number, paid steps) — goes through ``create_invoice``
itself, so those rules keep one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from billow.db.ids import reserve_ids
from billow.db.models import Client, Currency, Invoice, InvoiceItem
from billow.db.queries import in_chunks
from billow.events import Emitted, emit_many
from billow.money import ZERO, quantize
from billow.services.activity import log_activities
from billow.services.billing import tax
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import (
    after_creation,
    create_invoice,
    created_activity,
    creation_variables,
    default_gateway,
    line_values,
    rate_columns,
)
from billow.uow import UnitOfWork


@dataclass
class InvoiceDraft:
    """One invoice to create: its client, lines and due date."""

    client_id: int
    lines: list[InvoiceLine]
    duedate: date


class StoredLine(NamedTuple):
    """An item as written (amount rounded, due date filled in)."""

    description: str
    amount: Decimal
    taxed: bool
    type: str
    relid: int
    duedate: date | None


@dataclass
class CreatedInvoice:
    """What was written for a draft (the lines as stored: rounded, with due dates)."""

    id: int
    client_id: int
    date: date
    duedate: date
    status: str
    subtotal: Decimal
    tax: Decimal
    tax2: Decimal
    credit: Decimal
    total: Decimal
    items: list[StoredLine]


_CLIENT_COLUMNS = (Client.id, Client.currency_id, Client.defaultgateway, Client.taxexempt,
                   Client.country, Client.state, Client.tax_id, Client.credit)


def create_invoices(
    uow: UnitOfWork,
    drafts: Sequence[InvoiceDraft],
    *,
    on: date,
    send_email: bool = True,
    apply_credit: bool = False,
) -> list[CreatedInvoice]:
    """Create an Unpaid invoice dated *on* per draft; results are in the drafts' order."""
    if not drafts:
        return []
    clients = {row.id: row for chunk in in_chunks({d.client_id for d in drafts})
               for row in uow.session.execute(select(*_CLIENT_COLUMNS).where(Client.id.in_(chunk)))}
    places_by_currency = {cid: d for cid, d in uow.session.execute(select(Currency.id, Currency.decimals))}
    mode = tax.tax_mode(uow)
    fallback_gateway = default_gateway(uow)
    rates_memo: dict[tuple[Any, ...], tax.TaxRates] = {}
    results: list[CreatedInvoice | None] = [None] * len(drafts)
    batch: list[tuple[int, dict[str, Any], list[dict[str, Any]]]] = []
    for index, draft in enumerate(drafts):
        client = clients[draft.client_id]
        places = places_by_currency.get(client.currency_id, 2)
        key = (client.taxexempt, client.country, client.state, client.tax_id)
        if key not in rates_memo:
            rates_memo[key] = tax.rates_for_client(uow, client)  # type: ignore[arg-type]
        rates = rates_memo[key]
        gateway = client.defaultgateway or fallback_gateway
        items = [line_values(client.id, draft.duedate, gateway, line, places) for line in draft.lines]
        totals = tax.compute(((i["amount"], i["taxed"]) for i in items), rates.rate1, rates.rate2,
                             mode, places)
        total = quantize(totals.total, places)
        if total <= 0 or (apply_credit and client.credit > 0):
            results[index] = _one_by_one(uow, draft, on, send_email, apply_credit)
            continue
        header = {
            "client_id": client.id, "date": on, "duedate": draft.duedate, "status": "Unpaid",
            "paymentmethod": gateway, "notes": "", "currency_id": client.currency_id,
            "subtotal": totals.subtotal, "tax": totals.tax1, "tax2": totals.tax2,
            "credit": ZERO, "total": total, "invoicenum": "",
            "created_at": uow.now, "updated_at": uow.now,
            **rate_columns(rates.rate1, rates.rate2, reverse_charge=rates.reverse_charge),
        }
        batch.append((index, header, items))
    if batch:
        _write(uow, batch, results, send_email)
    return [r for r in results if r is not None]


def _one_by_one(uow: UnitOfWork, draft: InvoiceDraft, on: date, send_email: bool,
                apply_credit: bool) -> CreatedInvoice:
    invoice = create_invoice(uow, draft.client_id, list(draft.lines), date=on, duedate=draft.duedate,
                             send_email=send_email, apply_credit=apply_credit)
    lines = [StoredLine(i.description, i.amount, i.taxed, i.type, i.relid, i.duedate)
             for i in invoice.items]
    return CreatedInvoice(invoice.id, invoice.client_id, invoice.date, invoice.duedate, invoice.status,
                          invoice.subtotal, invoice.tax, invoice.tax2, invoice.credit, invoice.total,
                          lines)


def _write(uow: UnitOfWork, batch: list[tuple[int, dict[str, Any], list[dict[str, Any]]]],
           results: list[CreatedInvoice | None], send_email: bool) -> None:
    uow.session.flush()
    ids = reserve_ids(uow.session, Invoice, len(batch))
    invoice_rows, item_rows, activity, events = [], [], [], []
    for invoice_id, (index, header, items) in zip(ids, batch, strict=True):
        header["id"] = invoice_id
        invoice_rows.append(header)
        for item in items:
            item["invoice_id"] = invoice_id
            item["notes"] = ""
        item_rows += items
        activity.append((created_activity(invoice_id), header["client_id"]))
        variables = creation_variables(uow, invoice_id, "Unpaid")
        events.append(Emitted("InvoiceCreation", variables, "invoice", invoice_id))
        events += after_creation(invoice_id, variables, email=send_email)
        results[index] = CreatedInvoice(
            invoice_id, header["client_id"], header["date"], header["duedate"], "Unpaid",
            header["subtotal"], header["tax"], header["tax2"], ZERO, header["total"],
            [StoredLine(i["description"], i["amount"], i["taxed"], i["type"], i["relid"], i["duedate"])
             for i in items])
    uow.session.execute(insert(Invoice.__table__), invoice_rows)
    uow.session.execute(insert(InvoiceItem.__table__), item_rows)
    log_activities(uow, activity)
    emit_many(uow, events)
