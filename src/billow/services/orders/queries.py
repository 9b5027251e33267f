"""Reading orders (``GetOrders``, ``GetOrderStatuses``) and what they show about payment."""

from __future__ import annotations

from sqlalchemy import func, select

from billow.db.models import Invoice, Order
from billow.db.queries import count_of
from billow.modules.gateways import display_name, load_gateway
from billow.uow import UnitOfWork

ORDER_STATUSES = ("Pending", "Active", "Fraud", "Cancelled")


def payment_method_name(uow: UnitOfWork, method: str) -> str:
    gateway = load_gateway(uow, method)
    return display_name(uow, gateway) if gateway is not None else method


def payment_status(uow: UnitOfWork, order: Order) -> str:
    """The order's invoice status as GetOrders shows it ("" without an invoice)."""
    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    return invoice.status if invoice is not None else ""


def list_orders(
    uow: UnitOfWork,
    *,
    order_id: int = 0,
    client_id: int = 0,
    requestor_id: int = 0,
    status: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[Order]]:
    query = select(Order)
    if order_id:
        query = query.where(Order.id == order_id)
    if client_id:
        query = query.where(Order.userid == client_id)
    if requestor_id:
        query = query.where(Order.requestor_id == requestor_id)
    if status:
        query = query.where(Order.status == status)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(Order.id.desc()).offset(offset).limit(limit))
    return total, list(rows)


def status_counts(uow: UnitOfWork) -> list[tuple[str, int]]:
    counts = dict(uow.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    return [(status, int(counts.get(status, 0))) for status in ORDER_STATUSES]
