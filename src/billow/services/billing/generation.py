"""Invoice generation: what is due becomes invoices, in one place for the API and the daily run.

``GenInvoices`` and the daily automation both call :func:`generate_invoices`. Areas that
bill (services, addons, domains, billable items) each register a *due-items source* in
:data:`DUE_SOURCES` (an extension point filled in :mod:`billow.bootstrap`) with this signature::

    def due_items(uow, as_of: date, client_id: int | None, *,
                  ids: dict[str, list[int]] | None = None,
                  clients: Collection[int] | None = None) -> list[DueItem]

* *as_of* — the billing date of the run; a source returns what should be invoiced by
  then (its own lead time, e.g. ``CreateInvoiceDaysBefore``, is its business).
* *client_id* — None for every client, else only that client's items.
* *clients* — passed only by the daily run, which works a page of clients at a time:
  only these clients' items.
* *ids* — None for no restriction. Otherwise the run is limited to the listed records,
  keyed by kind: ``"service"``, ``"addon"``, ``"domain"`` (``GenInvoices``'s
  ``serviceids[]``/``addonids[]``/``domainids[]``) and ``"billable"``; a source returns
  only items whose ``relid`` is in ``ids.get(<its kind>, [])`` — nothing when its kind is
  absent.

Each :class:`~billow.services.billing.contract.DueItem` is one invoice line; the source
sets its ``advance`` (a :class:`~billow.services.billing.contract.DateAdvance`: the row's
next-invoice date moves on, batched into one UPDATE per table) and, for any other
bookkeeping, ``on_invoiced(uow, invoice_id)``; both happen once the line is on a created
invoice, in the same transaction, so a failed run leaves nothing half-done and a re-run
does not invoice twice. Invoices are written by :mod:`billow.services.billing.invoice_batch`.

Grouping follows WHMCS: one invoice per client per due date, unless the client (or its
client group) asks for separate invoices, then one per item. "Add to next invoice"
billable items ride on the first invoice the run creates for their client.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import date

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from billow.db.models import Client, ClientGroup
from billow.db.queries import in_chunks
from billow.errors import Conflict
from billow.services.billing.billable_items import next_invoice_items
from billow.services.billing.contract import DateAdvance, DueItem
from billow.services.billing.invoice_batch import CreatedInvoice, InvoiceDraft, create_invoices
from billow.services.clients.accounts import get_client
from billow.services.extension import ExtensionPoint
from billow.services.settings import setting_on
from billow.uow import UnitOfWork

#: Due-items sources (signature in the module docstring).
DUE_SOURCES: ExtensionPoint[Callable[..., list[DueItem]]] = ExtensionPoint("due-items sources")
#: ``fn(uow, as_of) -> set[int]``: a source's cheap answer to "which clients have anything
#: due", for planning the daily run; a source without one is asked for its items instead.
DUE_CLIENT_PLANNERS: dict[Callable[..., list[DueItem]], Callable[[UnitOfWork, date], set[int]]] = {}


def due_client_ids(uow: UnitOfWork, as_of: date) -> set[int]:
    """Clients with something due for invoicing on *as_of*, over every due-items source."""
    clients: set[int] = set()
    for source in DUE_SOURCES:
        planner = DUE_CLIENT_PLANNERS.get(source)
        if planner is not None:
            clients |= planner(uow, as_of)
        else:
            clients |= {item.client_id for item in source(uow, as_of, None, ids=None)}
    return clients


def _separate_clients(uow: UnitOfWork, owners: Collection[int]) -> set[int]:
    """The clients (of *owners*) that want one invoice per item, themselves or by group."""
    found: set[int] = set()
    for chunk in in_chunks(owners):
        found.update(uow.session.scalars(
            select(Client.id).outerjoin(ClientGroup, ClientGroup.id == Client.group_id)
            .where(Client.id.in_(chunk),
                   or_(Client.separateinvoices.is_(True), ClientGroup.separateinvoices.is_(True)))))
    return found


def collect_due_items(
    uow: UnitOfWork, as_of: date, client_id: int | None, ids: dict[str, list[int]] | None,
    clients: Collection[int] | None = None,
) -> list[DueItem]:
    items: list[DueItem] = []
    extra = {} if clients is None else {"clients": clients}
    for source in DUE_SOURCES:
        items.extend(source(uow, as_of, client_id, ids=ids, **extra))
    return items


def generate_invoices(
    uow: UnitOfWork,
    *,
    as_of: date | None = None,
    client_id: int | None = None,
    client_ids: Collection[int] | None = None,
    service_ids: list[int] | None = None,
    addon_ids: list[int] | None = None,
    domain_ids: list[int] | None = None,
    no_email: bool = False,
    announce: bool = True,
) -> list[CreatedInvoice]:
    """Create the invoices due by *as_of* (today by default); returns them in creation order.

    *client_ids* limits the run to a page of clients (the daily run). *announce* False
    skips the ``Pre``/``AfterInvoicingGenerateInvoiceItems`` hooks: the daily run calls
    this once per page and fires them once for the whole run instead.
    """
    as_of = as_of or uow.today
    if client_id:
        get_client(uow, client_id)
    ids = None
    if service_ids is not None or addon_ids is not None or domain_ids is not None:
        ids = {"service": list(service_ids or []), "addon": list(addon_ids or []),
               "domain": list(domain_ids or [])}
    if announce:
        uow.emit("PreInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")
    items = collect_due_items(uow, as_of, client_id, ids, client_ids)
    separate = _separate_clients(uow, {item.client_id for item in items})
    groups: dict[tuple[int, date, int], list[DueItem]] = defaultdict(list)
    for index, item in enumerate(items):
        due = item.duedate or as_of
        groups[(item.client_id, due, index if item.client_id in separate else 0)].append(item)
    ordered = sorted(groups.items(), key=lambda kv: kv[0])
    riders = next_invoice_items(uow, {owner for (owner, _, _), _ in ordered}) if ids is None else {}
    drafts: list[InvoiceDraft] = []
    seen_clients: set[int] = set()
    for (owner, due, _), group in ordered:
        if owner not in seen_clients:
            group = group + riders.get(owner, [])
        seen_clients.add(owner)
        drafts.append(InvoiceDraft(owner, list(group), due))
    # Dates move first: every drafted line is invoiced below (or the transaction fails),
    # and an invoice paid at once (credit, free) must find its period already advanced so
    # its paid step moves the due date from there.
    apply_advances(uow.session, [item.advance for draft in drafts for item in draft.lines
                                 if isinstance(item, DueItem) and item.advance is not None])
    invoices = create_invoices(uow, drafts, on=as_of, send_email=not no_email,
                               apply_credit=not setting_on(uow, "NoAutoApplyCredit"))
    invoiced = [(item, invoice.id) for draft, invoice in zip(drafts, invoices, strict=True)
                for item in draft.lines if isinstance(item, DueItem)]
    for item, invoice_id in invoiced:
        if item.on_invoiced is not None:
            item.on_invoiced(uow, invoice_id)
    if announce:
        uow.emit("AfterInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")
    return invoices


def apply_advances(session: Session, advances: list[DateAdvance]) -> None:
    """Move next-invoice dates, a few UPDATE statements for a whole page.

    Each row is matched on its id *and* the date it was invoiced for; a row that moved
    meanwhile (another run, or a hand edit) raises :class:`Conflict` and the caller's
    transaction rolls back, so no date is invoiced twice. Moves are grouped by
    (table, column, from, to): a book billed on the same days shares few such pairs, so
    each group is one ``UPDATE ... WHERE id IN (...)``. Rows already loaded in the
    session have the column expired, so they read the new date instead of a stale one.
    """
    session.flush()
    groups: dict[tuple[type, str, date, date], list[int]] = defaultdict(list)
    for advance in advances:
        groups[(advance.model, advance.column, advance.current, advance.value)].append(advance.id)
    if not groups:
        return
    savepoint = session.begin_nested()
    for (model, column, current, value), ids in groups.items():
        table = model.__table__  # type: ignore[attr-defined]
        for chunk in in_chunks(ids):
            result = session.execute(
                update(table).where(table.c.id.in_(chunk), table.c[column] == current).values({column: value})
            )
            if result.rowcount != len(chunk):  # type: ignore[attr-defined]
                savepoint.rollback()
                moved = session.scalars(select(table.c.id).where(
                    table.c.id.in_(chunk), or_(table.c[column] != current, table.c[column].is_(None))))
                raise Conflict("already invoiced: " + ", ".join(
                    f"{table.name}:{row_id}:{current}" for row_id in list(moved)[:5]),
                        code="already_invoiced")
    savepoint.commit()
    moved = {(advance.model, advance.id): advance.column for advance in advances}
    for loaded in list(session.identity_map.values()):
        column = moved.get((type(loaded), getattr(loaded, "id", None)))
        if column is not None:
            session.expire(loaded, [column])
