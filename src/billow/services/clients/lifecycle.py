"""Closing and deleting clients, and the account statistics of ``GetClientsDetails``.

A client touches every area (services, invoices, domains, tickets). Rather than this
module importing them all, each area contributes a step to the extension points below;
:mod:`billow.bootstrap` registers them, so adding an area means one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select

from billow.db.models import Client, User, UserClient
from billow.money import ZERO, fmt
from billow.services.activity import log_activity
from billow.services.clients.accounts import client_hook_vars, get_client
from billow.services.extension import ExtensionPoint
from billow.uow import UnitOfWork

#: ``fn(uow, client)``: cancel what the area holds for a client being closed.
CLOSE_STEPS: ExtensionPoint[Callable[..., None]] = ExtensionPoint("client close steps")
#: ``fn(uow, client, delete_transactions: bool)``: remove the area's rows for a client.
DELETE_STEPS: ExtensionPoint[Callable[..., None]] = ExtensionPoint("client delete steps")
#: ``fn(uow, client, stats: dict)``: fill the area's counters in the stats dict.
STATS_STEPS: ExtensionPoint[Callable[..., None]] = ExtensionPoint("client stats steps")

#: Every key of WHMCS's ``stats``; money keys are formatted in the client's currency.
MONEY_STATS = (
    "cancelledinvoicesamount", "collectionsinvoicesamount", "creditbalance",
    "draftInvoicesBalance", "dueinvoicesbalance", "expenses", "grossRevenue", "income",
    "overdueinvoicesbalance", "paidinvoicesamount", "paymentpendinginvoicesamount",
    "refundedinvoicesamount", "unpaidinvoicesamount",
)
COUNT_STATS = (
    "numDraftInvoices", "numacceptedquotes", "numactivedomains", "numactivetickets",
    "numaffiliatesignups", "numcancelledinvoices", "numcollectionsinvoices", "numdomains",
    "numdueinvoices", "numoverdueinvoices", "numpaidinvoices", "numpaymentpendinginvoices",
    "numquotes", "numrefundedinvoices", "numtickets", "numunpaidinvoices",
    "productsnumactive", "productsnumactivehosting", "productsnumactiveother",
    "productsnumactivereseller", "productsnumactiveservers", "productsnumhosting",
    "productsnumother", "productsnumreseller", "productsnumservers", "productsnumtotal",
)


def close_client(uow: UnitOfWork, client_id: int) -> Client:
    client = get_client(uow, client_id)
    for step in CLOSE_STEPS:
        step(uow, client)
    client.status = "Closed"
    log_activity(uow, f"Client Status changed to Closed - User ID: {client.id}",
                 client_id=client.id)
    uow.emit("ClientClose", {"userid": client.id}, resource_type="client", resource_id=client.id)
    return client


def delete_client(
    uow: UnitOfWork, client_id: int, *, delete_users: bool = False,
    delete_transactions: bool = False,
) -> int:
    client = get_client(uow, client_id)
    uow.emit("PreDeleteClient", {"userid": client.id}, resource_type="client",
             resource_id=client.id)
    for step in DELETE_STEPS:
        step(uow, client, delete_transactions)
    user_ids = list(uow.session.scalars(
        select(UserClient.user_id).where(UserClient.client_id == client.id)
    ))
    uow.session.execute(delete(UserClient).where(UserClient.client_id == client.id))
    hook_vars = client_hook_vars(client)
    uow.session.delete(client)
    uow.session.flush()
    if delete_users:
        for user_id in user_ids:
            still_linked = uow.session.scalar(
                select(func.count()).select_from(UserClient).where(UserClient.user_id == user_id)
            )
            if not still_linked:
                user = uow.session.get(User, user_id)
                if user is not None:
                    uow.session.delete(user)
    log_activity(uow, f"Client Deleted - ID: {client_id}")
    uow.emit("ClientDelete", hook_vars, resource_type="client", resource_id=client_id)
    return client_id


def client_stats(uow: UnitOfWork, client: Client) -> dict[str, Any]:
    """WHMCS's ``stats``: raw Decimal amounts and ints, formatted at the end."""
    stats: dict[str, Any] = {key: ZERO for key in MONEY_STATS}
    stats.update({key: 0 for key in COUNT_STATS})
    stats["creditbalance"] = client.credit
    stats["incredit"] = client.credit > 0
    stats["isAffiliate"] = False
    for step in STATS_STEPS:
        step(uow, client, stats)
    currency = client.currency
    for key in MONEY_STATS:
        stats[key] = format_money(stats[key], currency)
    return dict(sorted(stats.items()))


def format_money(amount: Any, currency: Any) -> str:
    """``$12.50 USD``: the currency's prefix, the amount, the suffix (WHMCS formatCurrency)."""
    places = currency.decimals if currency is not None else 2
    text = fmt(amount, places)
    fmt_code = currency.format if currency is not None else 1
    whole, _, frac = text.partition(".")
    sign = ""
    if whole.startswith("-"):
        sign, whole = "-", whole[1:]
    if fmt_code in (2, 3, 4):
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        sep = "." if fmt_code == 3 else ","
        whole = sep.join(groups)
    if fmt_code == 4:
        text = sign + whole
    else:
        text = sign + whole + (("," if fmt_code == 3 else ".") + frac if frac else "")
    if currency is None:
        return text
    return f"{currency.prefix}{text}{currency.suffix}"
