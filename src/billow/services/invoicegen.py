"""Invoice generation: what is due becomes invoices, in one place for the API and the daily run.

``GenInvoices`` and the daily automation both call :func:`generate_invoices`. Areas that
bill (services, addons, domains, billable items) each register a *due-items source* in
:data:`DUE_SOURCES` as a dotted path ``"module:function"`` with this signature::

    def due_items(uow, as_of: date, client_id: int | None, *,
                  ids: dict[str, list[int]] | None = None) -> list[DueItem]

* *as_of* — the billing date of the run; a source returns what should be invoiced by
  then (its own lead time, e.g. ``CreateInvoiceDaysBefore``, is its business).
* *client_id* — None for every client, else only that client's items.
* *ids* — None for no restriction. Otherwise the run is limited to the listed records,
  keyed by kind: ``"service"``, ``"addon"``, ``"domain"`` (``GenInvoices``'s
  ``serviceids[]``/``addonids[]``/``domainids[]``) and ``"billable"``; a source returns
  only items whose ``relid`` is in ``ids.get(<its kind>, [])`` — nothing when its kind is
  absent.

Each :class:`~billow.services.billing_contract.DueItem` is one invoice line; the source
sets its ``on_invoiced(uow, invoice_id)`` to advance its own next-invoice date, which is
called once the line is on a created invoice (same transaction, so a failed run leaves
nothing half-done and a re-run does not invoice twice).

Grouping follows WHMCS: one invoice per client per due date, unless the client (or its
client group) asks for separate invoices, then one per item. "Add to next invoice"
billable items ride on the first invoice the run creates for their client.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from billow.db.models import ClientGroup, Invoice
from billow.services.billing_contract import DueItem
from billow.services.billing_settings import enabled
from billow.services.client_lifecycle import _steps
from billow.services.clients import get_client
from billow.services.invoices import create_invoice
from billow.uow import UnitOfWork

#: Dotted paths of due-items sources (signature in the module docstring).
DUE_SOURCES: tuple[str, ...] = (
    "billow.services.billable_items:due_items",
    "billow.services.client_services:due_items",
)


def _separate(uow: UnitOfWork, client_id: int, cache: dict[int, bool]) -> bool:
    if client_id not in cache:
        client = get_client(uow, client_id)
        group = uow.session.get(ClientGroup, client.group_id) if client.group_id else None
        cache[client_id] = bool(client.separateinvoices or (group is not None and group.separateinvoices))
    return cache[client_id]


def collect_due_items(
    uow: UnitOfWork, as_of: date, client_id: int | None, ids: dict[str, list[int]] | None
) -> list[DueItem]:
    items: list[DueItem] = []
    for source in _steps(DUE_SOURCES):
        items.extend(source(uow, as_of, client_id, ids=ids))
    return items


def generate_invoices(
    uow: UnitOfWork,
    *,
    as_of: date | None = None,
    client_id: int | None = None,
    service_ids: list[int] | None = None,
    addon_ids: list[int] | None = None,
    domain_ids: list[int] | None = None,
    no_email: bool = False,
    announce: bool = True,
) -> list[Invoice]:
    """Create the invoices due by *as_of* (today by default); returns them in creation order.

    *announce* False skips the ``Pre``/``AfterInvoicingGenerateInvoiceItems`` hooks: the
    daily run calls this once per client and fires them once for the whole run instead.
    """
    from billow.services.billable_items import next_invoice_items

    as_of = as_of or uow.today
    if client_id:
        get_client(uow, client_id)
    ids = None
    if service_ids is not None or addon_ids is not None or domain_ids is not None:
        ids = {"service": list(service_ids or []), "addon": list(addon_ids or []),
               "domain": list(domain_ids or [])}
    if announce:
        uow.emit("PreInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")
    items = collect_due_items(uow, as_of, client_id, ids)
    groups: dict[tuple[int, date, int], list[DueItem]] = defaultdict(list)
    separate_cache: dict[int, bool] = {}
    for index, item in enumerate(items):
        due = item.duedate or as_of
        key = (item.client_id, due, index if _separate(uow, item.client_id, separate_cache) else 0)
        groups[key].append(item)
    apply_credit = not enabled(uow, "NoAutoApplyCredit")
    invoices: list[Invoice] = []
    seen_clients: set[int] = set()
    for (owner, due, _), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        if owner not in seen_clients and ids is None:
            group = group + next_invoice_items(uow, owner)
        seen_clients.add(owner)
        invoice = create_invoice(
            uow, owner, list(group), date=as_of, duedate=due, send_email=not no_email,
            apply_credit=apply_credit,
        )
        for item in group:
            if item.on_invoiced is not None:
                item.on_invoiced(uow, invoice.id)
        invoices.append(invoice)
    if announce:
        uow.emit("AfterInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")
    return invoices
