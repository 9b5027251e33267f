"""What invoice generation bills for hosting: the due services and addons
(the ``DUE_SOURCES`` source :func:`due_items` and its page planner :func:`due_clients`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from billow.db.models import Client, Product, Promotion, Service, ServiceAddon
from billow.services.billing.contract import DateAdvance, DueItem
from billow.services.billing.invoice_timing import invoice_timing
from billow.services.catalog import pricing
from billow.services.catalog.cycles import anchor_of, next_due
from billow.services.hosting.config_options import service_options
from billow.uow import UnitOfWork

BILLABLE = ("Active", "Suspended")


def due_items(
    uow: UnitOfWork, as_of: date, client_id: int | None, ids: dict[str, list[int]] | None = None,
    *, clients: Collection[int] | None = None,
) -> list[DueItem]:
    """Recurring amounts of services and addons due for invoicing on *as_of*.

    Lead time and continuous generation follow :mod:`billow.services.billing.invoice_timing`.
    Rows are read as plain columns (a daily page holds thousands of services) and each
    line carries a :class:`DateAdvance` for its next invoice date.
    """
    timing = invoice_timing(uow)
    items: list[DueItem] = []
    # Plain rows on the session's connection (no ORM row handling); flush first so rows
    # added in this transaction are seen, as an ORM query's autoflush would.
    uow.session.flush()
    read = uow.session.connection().execute
    products = {pid: (name, tax) for pid, name, tax in read(select(Product.id, Product.name, Product.tax))}
    periods: dict[tuple[date, str, int], tuple[date, str]] = {}
    service_query = _scoped(select(*_SERVICE_COLUMNS).where(*_due_services(timing, as_of)), Service,
                            client_id, clients, _listed(ids, "service"))
    for (sid, userid, packageid, domain, amount, invoice_on, due_on, cycle_name, anchor, regdate,
         promoid) in read(service_query.order_by(Service.id)):
        if not timing.due(as_of, invoice_on, due_on, cycle_name):
            continue
        name, taxed = products.get(packageid, ("Service", False))
        end, period = _period(periods, invoice_on, cycle_name, anchor_of(anchor, regdate))
        items.append(DueItem(
            f"{name} - {domain} ({period})" if domain else f"{name} ({period})", amount,
            taxed=bool(taxed), type="Hosting", relid=sid, duedate=invoice_on, client_id=userid,
            advance=DateAdvance(Service, sid, invoice_on, end),
            on_invoiced=_promotion_use(sid) if promoid else None,
        ))
    addon_query = _scoped(select(*_ADDON_COLUMNS).where(*_due_addons(timing, as_of)), ServiceAddon,
                          client_id, clients, _listed(ids, "addon"))
    for (aid, userid, name, recurring, taxed, invoice_on, due_on, cycle_name,
         regdate) in read(addon_query.order_by(ServiceAddon.id)):
        if not timing.due(as_of, invoice_on, due_on, cycle_name):
            continue
        end, _ = _period(periods, invoice_on, cycle_name, anchor_of(0, regdate))
        items.append(DueItem(
            f"Addon - {name} ({_dmy(invoice_on)})", recurring, taxed=taxed, type="Addon", relid=aid,
            duedate=invoice_on, client_id=userid, advance=DateAdvance(ServiceAddon, aid, invoice_on, end),
        ))
    return items


def _period(memo: dict[tuple[date, str, int], tuple[date, str]], start: date, cycle_name: str,
            anchor: int) -> tuple[date, str]:
    """The period's end (the next due date) and its "dd/mm/yyyy - dd/mm/yyyy" text.

    Remembered per (start, cycle, anchor): a page's services mostly share a few.
    """
    key = (start, cycle_name, anchor)
    found = memo.get(key)
    if found is None:
        end = next_due(start, cycle_name, anchor)
        found = memo[key] = (end, f"{_dmy(start)} - {_dmy(end - timedelta(days=1))}")
    return found


def _dmy(day: date) -> str:
    """WHMCS's dd/mm/yyyy period dates on invoice lines."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


_SERVICE_COLUMNS = (Service.id, Service.userid, Service.packageid, Service.domain, Service.amount,
                    Service.nextinvoicedate, Service.nextduedate, Service.billingcycle,
                    Service.anchor_day, Service.regdate, Service.promoid)


_ADDON_COLUMNS = (ServiceAddon.id, ServiceAddon.userid, ServiceAddon.name, ServiceAddon.recurring,
                  ServiceAddon.tax, ServiceAddon.nextinvoicedate, ServiceAddon.nextduedate,
                  ServiceAddon.billingcycle, ServiceAddon.regdate)


def _listed(ids: dict[str, list[int]] | None, kind: str) -> list[int] | None:
    return None if ids is None else ids.get(kind + "s", ids.get(kind, []))


def _scoped(query: Any, model: Any, client_id: int | None, clients: Collection[int] | None,
            only: list[int] | None) -> Any:
    """Narrow a due-items query to one client, a page of clients, or listed record ids."""
    if client_id:
        query = query.where(model.userid == client_id)
    if clients is not None:
        query = query.where(model.userid.in_(list(clients)))
    if only is not None:
        query = query.where(model.id.in_(only))
    return query


def _due_services(timing: Any, as_of: date) -> tuple[Any, ...]:
    return (
        Service.status.in_(BILLABLE),
        Service.billingcycle.not_in(("Free Account", "One Time")),
        timing.where(Service, as_of),
    )


def _due_addons(timing: Any, as_of: date) -> tuple[Any, ...]:
    return (
        ServiceAddon.status.in_(BILLABLE),
        ServiceAddon.billingcycle.not_in(("Free Account", "One Time")),
        timing.where(ServiceAddon, as_of),
    )


def due_clients(uow: UnitOfWork, as_of: date) -> set[int]:
    """The clients :func:`due_items` has something for on *as_of*, found in SQL.

    The daily run plans its pages with this: one DISTINCT over the due condition instead
    of every service read into Python.
    """
    timing = invoice_timing(uow)
    clients: set[int] = set(uow.session.scalars(
        select(Service.userid).where(*_due_services(timing, as_of)).distinct()))
    clients.update(uow.session.scalars(
        select(ServiceAddon.userid).where(*_due_addons(timing, as_of)).distinct()))
    return clients


def _promotion_use(service_id: int):  # type: ignore[no-untyped-def]
    def count(uow: UnitOfWork, invoice_id: int) -> None:
        service = uow.session.get(Service, service_id)
        if service is not None:
            _count_promotion_use(uow, service)

    return count


def _count_promotion_use(uow: UnitOfWork, service: Service) -> None:
    """One more discounted renewal; past ``recurfor`` the service recurs at list price."""
    promotion = uow.session.get(Promotion, service.promoid) if service.promoid else None
    if promotion is None or not promotion.recurring or not promotion.recurfor:
        return
    service.promo_uses += 1
    if service.promo_uses >= promotion.recurfor:
        product = uow.session.get(Product, service.packageid)
        client = uow.session.get(Client, service.userid)
        if product is not None and client is not None:
            service.amount = pricing.service_recurring(
                uow, service, service_options(uow, service), product, client.currency_id, service.billingcycle
            )
