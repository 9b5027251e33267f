"""What billing contributes when a client is closed, deleted or summarised.

Registered by :mod:`billow.bootstrap` on the extension points of
:mod:`billow.services.clients.lifecycle` (``CLOSE_STEPS``, ``DELETE_STEPS``,
``STATS_STEPS``), so the clients area needs no import of billing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update

from billow.db.models import BillableItem, Client, CreditLog, Invoice, InvoiceItem, Transaction
from billow.money import ZERO
from billow.services.billing.invoices import cancel_invoice
from billow.uow import UnitOfWork

#: stats keys by invoice status: (count key, amount key)
STATUS_KEYS = {
    "Draft": ("numDraftInvoices", "draftInvoicesBalance"),
    "Unpaid": ("numunpaidinvoices", "unpaidinvoicesamount"),
    "Paid": ("numpaidinvoices", "paidinvoicesamount"),
    "Cancelled": ("numcancelledinvoices", "cancelledinvoicesamount"),
    "Refunded": ("numrefundedinvoices", "refundedinvoicesamount"),
    "Collections": ("numcollectionsinvoices", "collectionsinvoicesamount"),
    "Payment Pending": ("numpaymentpendinginvoices", "paymentpendinginvoicesamount"),
}


def close_client(uow: UnitOfWork, client: Client) -> None:
    """CloseClient: cancel the client's unpaid invoices (their applied credit returns)."""
    rows = uow.session.scalars(
        select(Invoice).where(Invoice.client_id == client.id, Invoice.status == "Unpaid")
        .order_by(Invoice.id)
    )
    for invoice in rows:
        cancel_invoice(uow, invoice)


def delete_client(uow: UnitOfWork, client: Client, delete_transactions: bool) -> None:
    """DeleteClient: remove invoices, items, billable items and the credit log.

    Transactions are the books: they stay, moved to client 0, unless the caller asked
    for ``deletetransactions``.
    """
    invoice_ids = select(Invoice.id).where(Invoice.client_id == client.id)
    uow.session.execute(delete(InvoiceItem).where(InvoiceItem.invoice_id.in_(invoice_ids)))
    uow.session.execute(delete(Invoice).where(Invoice.client_id == client.id))
    uow.session.execute(delete(CreditLog).where(CreditLog.client_id == client.id))
    uow.session.execute(delete(BillableItem).where(BillableItem.client_id == client.id))
    if delete_transactions:
        uow.session.execute(delete(Transaction).where(Transaction.client_id == client.id))
    else:
        uow.session.execute(update(Transaction).where(Transaction.client_id == client.id).values(client_id=0))
    uow.session.expire_all()


def client_stats(uow: UnitOfWork, client: Client, stats: dict[str, Any]) -> None:
    """Fill the invoice, credit and income keys of ``GetClientsDetails``'s ``stats``."""
    rows = uow.session.execute(
        select(Invoice.status, func.count(Invoice.id), func.sum(Invoice.total))
        .where(Invoice.client_id == client.id).group_by(Invoice.status)
    ).all()
    for status, count, total in rows:
        keys = STATUS_KEYS.get(status)
        if keys:
            stats[keys[0]] = int(count)
            stats[keys[1]] = total if total is not None else ZERO
    today = uow.today
    paid_in = (
        select(Transaction.invoice_id, func.sum(Transaction.amountin).label("money_in"),
               func.sum(Transaction.amountout).label("money_out"))
        .group_by(Transaction.invoice_id).subquery()
    )
    unpaid = uow.session.execute(
        select(Invoice.total, Invoice.duedate, paid_in.c.money_in, paid_in.c.money_out)
        .outerjoin(paid_in, paid_in.c.invoice_id == Invoice.id)
        .where(Invoice.client_id == client.id, Invoice.status == "Unpaid")
    ).all()
    due = overdue = ZERO
    num_overdue = 0
    for total, duedate, money_in, money_out in unpaid:
        balance = total - _dec(money_in) + _dec(money_out)
        due += balance
        if duedate < today:
            overdue += balance
            num_overdue += 1
    stats["numdueinvoices"], stats["dueinvoicesbalance"] = len(unpaid), due
    stats["numoverdueinvoices"], stats["overdueinvoicesbalance"] = num_overdue, overdue
    money = uow.session.execute(
        select(func.sum(Transaction.amountin), func.sum(Transaction.fees), func.sum(Transaction.amountout))
        .where(Transaction.client_id == client.id)
    ).one()
    gross, fees, out = (_dec(v) for v in money)
    stats["grossRevenue"] = gross
    stats["expenses"] = fees + out
    stats["income"] = gross - fees - out
    stats["creditbalance"] = client.credit
    stats["incredit"] = client.credit > 0


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else (Decimal(value) if value is not None else ZERO)
