"""Reading invoices: the filtered, sorted pages of GetInvoices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from billow.db.models import Invoice
from billow.services.billing.invoices import normalise_status
from billow.uow import UnitOfWork

SORTABLE = {
    "id": Invoice.id,
    "invoicenumber": Invoice.invoicenum,
    "invoicenum": Invoice.invoicenum,
    "date": Invoice.date,
    "duedate": Invoice.duedate,
    "total": Invoice.total,
    "status": Invoice.status,
}


@dataclass
class InvoiceFilter:
    client_id: int | None = None
    status: str = ""
    orderby: str = "id"
    descending: bool = False


def list_invoices(
    uow: UnitOfWork, flt: InvoiceFilter, *, offset: int = 0, limit: int = 25
) -> tuple[int, Sequence[Invoice]]:
    """``GetInvoices``: one page of matching invoices and how many match in all.

    ``Overdue`` is WHMCS's pseudo-status: Unpaid with a due date before today.
    """
    query = select(Invoice)
    count = select(func.count(Invoice.id))
    conditions = []
    if flt.client_id:
        conditions.append(Invoice.client_id == flt.client_id)
    if flt.status:
        if flt.status.strip().lower() == "overdue":
            conditions += [Invoice.status == "Unpaid", Invoice.duedate < uow.today]
        else:
            conditions.append(Invoice.status == normalise_status(flt.status))
    for condition in conditions:
        query, count = query.where(condition), count.where(condition)
    total = uow.session.scalar(count) or 0
    column = SORTABLE.get(flt.orderby.strip().lower(), Invoice.id)
    order = [column.desc() if flt.descending else column.asc()]
    if column is not Invoice.id:
        order.append(Invoice.id.desc() if flt.descending else Invoice.id.asc())
    # A list shows no items: skip the eager item load the invoice mapping does by default.
    query = query.options(lazyload(Invoice.items))
    rows = uow.session.scalars(query.order_by(*order).offset(offset).limit(limit)).unique().all()
    return total, rows
