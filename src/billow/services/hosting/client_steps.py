"""Hosting's part of closing, deleting and summarising a client (``CLOSE_STEPS``,
``DELETE_STEPS``, ``STATS_STEPS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update

from billow.db.models import CancelRequest, Client, Order, Product, Service, ServiceAddon, Upgrade
from billow.services.orders.status_changes import delete_services
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

TYPE_STAT = {
    "hostingaccount": "hosting",
    "reselleraccount": "reseller",
    "server": "servers",
    "other": "other",
}


def client_stats(uow: UnitOfWork, client: Client, stats: dict[str, Any]) -> None:
    rows = uow.session.execute(
        select(Product.type, Service.status, func.count())
        .join(Product, Product.id == Service.packageid)
        .where(Service.userid == client.id)
        .group_by(Product.type, Service.status)
    )
    for ptype, status, count in rows:
        key = TYPE_STAT.get(ptype, "other")
        stats[f"productsnum{key}"] += int(count)
        stats["productsnumtotal"] += int(count)
        if status == "Active":
            stats[f"productsnumactive{key}"] += int(count)
            stats["productsnumactive"] += int(count)


def close_client_services(uow: UnitOfWork, client: Client) -> None:
    """CloseClient: every live service and addon becomes Cancelled (no module call, as WHMCS)."""
    for service in uow.session.scalars(
        select(Service).where(
            Service.userid == client.id, Service.status.in_(("Pending", "Active", "Suspended"))
        )
    ):
        service.status = "Cancelled"
    for addon in uow.session.scalars(
        select(ServiceAddon).where(
            ServiceAddon.userid == client.id, ServiceAddon.status.in_(("Pending", "Active", "Suspended"))
        )
    ):
        addon.status = "Cancelled"


def delete_client_services(uow: UnitOfWork, client: Client, delete_transactions: bool) -> None:
    service_ids = list(uow.session.scalars(select(Service.id).where(Service.userid == client.id)))
    uow.session.execute(delete(CancelRequest).where(CancelRequest.service_id.in_(service_ids)))
    uow.session.execute(delete(Upgrade).where(Upgrade.userid == client.id))
    delete_services(uow, service_ids)
    uow.session.execute(delete(ServiceAddon).where(ServiceAddon.userid == client.id))
    uow.session.execute(delete(Order).where(Order.userid == client.id))


# -- client status from services (the daily run) ------------------------------------------------
#: A client with a service or addon in one of these is Active; with none, Inactive.
LIVE = ("Pending", "Active", "Suspended")


def client_status_sync_on(uow: UnitOfWork) -> bool:
    """``AutoClientStatusChange`` is 2: WHMCS's "change based on active products"."""
    return get_setting(uow, "AutoClientStatusChange").strip() == "2"


def clients_to_sync(uow: UnitOfWork, after: int, limit: int) -> list[int]:
    """Active and Inactive clients (Closed clients are never touched)."""
    return list(uow.session.scalars(
        select(Client.id).where(Client.id > after, Client.status.in_(("Active", "Inactive")))
        .order_by(Client.id).limit(limit)))


def sync_client_statuses(uow: UnitOfWork, client_ids: Sequence[int]) -> tuple[int | None, int | None]:
    """Set *client_ids* Inactive when nothing live remains, Active again when something is.

    Returns (clients made Inactive, clients made Active), or None for a direction with no
    candidates (the caller counts only what it asked for).
    """
    active = set(uow.session.scalars(select(Service.userid).where(
        Service.userid.in_(client_ids), Service.status.in_(LIVE))))
    active |= set(uow.session.scalars(select(ServiceAddon.userid).where(
        ServiceAddon.userid.in_(client_ids), ServiceAddon.status.in_(LIVE))))
    to_inactive = [i for i in client_ids if i not in active]
    to_active = sorted(active)
    made_inactive = made_active = None
    if to_inactive:
        made_inactive = uow.session.execute(
            update(Client).where(Client.id.in_(to_inactive), Client.status == "Active")
            .values(status="Inactive")).rowcount or 0
    if to_active:
        made_active = uow.session.execute(
            update(Client).where(Client.id.in_(to_active), Client.status == "Inactive")
            .values(status="Active")).rowcount or 0
    return made_inactive, made_active
