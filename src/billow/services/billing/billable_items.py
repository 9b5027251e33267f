"""Billable items: one-off or recurring charges, and their due-items source for invoicing.

WHMCS's invoice actions: ``noinvoice`` (kept for later), ``nextcron`` (the next
generation run), ``nextinvoice`` (added to the client's next generated invoice),
``duedate`` (invoiced when its due date comes within the generation lead time) and
``recur`` (every ``recur`` ``recurcycle`` from the due date, ``recurfor`` times).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from billow.db.models import BillableItem
from billow.db.queries import in_chunks
from billow.errors import NotFound, ValidationError
from billow.money import quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.billing.contract import DueItem
from billow.services.catalog.cycles import advance_by
from billow.services.clients.accounts import get_client
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

INVOICE_ACTIONS = ("noinvoice", "nextcron", "nextinvoice", "duedate", "recur")
UNITS = ("hours", "quantity")
CYCLES = {"days": "Days", "weeks": "Weeks", "months": "Months", "years": "Years"}


def add_billable_item(
    uow: UnitOfWork,
    client_id: int,
    description: str,
    amount: Decimal,
    *,
    unit: str = "quantity",
    quantity: Decimal = Decimal("0"),
    invoiceaction: str = "noinvoice",
    recur: int = 0,
    recurcycle: str = "",
    recurfor: int = 0,
    duedate: date | None = None,
) -> BillableItem:
    """``AddBillableItem``: validate as WHMCS does and store the item."""
    try:
        client = get_client(uow, client_id)
    except NotFound:
        raise NotFound("Client ID not Found", code="client_not_found") from None
    if not (description or "").strip():
        raise ValidationError("You must provide a description", code="description_required")
    action = (invoiceaction or "noinvoice").strip().lower()
    if action not in INVOICE_ACTIONS:
        raise ValidationError("Invalid Invoice Action", code="invalid_invoice_action")
    unit = (unit or "").strip().lower()
    if unit not in UNITS:
        raise ValidationError("Invalid Unit, please specify either 'hours' or 'quantity'",
                              code="invalid_unit")
    cycle = CYCLES.get((recurcycle or "").strip().lower(), "")
    if action == "recur" and (recur <= 0 or not cycle or recurfor <= 0):
        raise ValidationError("Recurring must have a unit, cycle and limit", code="recurring_incomplete")
    if action in ("duedate", "recur") and duedate is None:
        raise ValidationError("Due date is required", code="due_date_required")
    places = client.currency.decimals if client.currency is not None else 2
    item = BillableItem(
        client_id=client.id, description=description.strip(), unit=unit,
        quantity=quantize(to_decimal(quantity), 2), amount=quantize(to_decimal(amount), places),
        invoiceaction=action, recur=recur if action == "recur" else 0,
        recurcycle=cycle if action == "recur" else "", recurfor=recurfor if action == "recur" else 0,
        duedate=duedate or (uow.today if action in ("nextcron", "nextinvoice") else None),
        invoicecount=0, invoice_id=0, taxed=False,
    )
    uow.session.add(item)
    uow.session.flush()
    log_activity(uow, f"Added Billable Item - Item ID: {item.id}", client_id=client.id)
    return item


def _line(item: BillableItem) -> DueItem:
    description = item.description
    if item.unit == "hours" and item.quantity:
        description = f"{description} ({item.quantity.normalize():f} Hours)"

    def on_invoiced(uow: UnitOfWork, invoice_id: int, item_id: int = item.id) -> None:
        row = uow.session.get(BillableItem, item_id)
        if row is None:
            return
        row.invoicecount += 1
        row.invoice_id = invoice_id
        if row.invoiceaction == "recur" and row.duedate is not None:
            row.duedate = advance_by(row.duedate, row.recur, row.recurcycle)

    return DueItem(
        description=description, amount=item.amount, taxed=item.taxed, type="Item", relid=item.id,
        duedate=item.duedate, client_id=item.client_id, on_invoiced=on_invoiced,
    )


def due_items(
    uow: UnitOfWork, as_of: date, client_id: int | None, *, ids: dict[str, list[int]] | None = None,
    clients: Collection[int] | None = None,
) -> list[DueItem]:
    """The due-items source of billable items (see :mod:`billow.services.billing.generation`)."""
    if ids is not None and not ids.get("billable"):
        return []
    lead = timedelta(days=int(get_setting(uow, "CreateInvoiceDaysBefore") or 0))
    query = select(BillableItem).where(BillableItem.invoiceaction.in_(("nextcron", "duedate", "recur")))
    if client_id:
        query = query.where(BillableItem.client_id == client_id)
    if clients is not None:
        query = query.where(BillableItem.client_id.in_(list(clients)))
    if ids is not None:
        query = query.where(BillableItem.id.in_(ids["billable"]))
    lines = []
    for item in uow.session.scalars(query.order_by(BillableItem.id)):
        if item.invoiceaction == "recur":
            due = item.invoicecount < item.recurfor and item.duedate is not None \
                and item.duedate - lead <= as_of
        elif item.invoiceaction == "duedate":
            due = item.invoicecount == 0 and item.duedate is not None and item.duedate - lead <= as_of
        else:
            due = item.invoicecount == 0
        if due:
            line = _line(item)
            if item.invoiceaction == "nextcron":
                line.duedate = as_of
            lines.append(line)
    return lines


def next_invoice_items(uow: UnitOfWork, client_ids: Collection[int]) -> dict[int, list[DueItem]]:
    """"Add to next invoice" items not yet invoiced, per client (due with that invoice)."""
    lines: dict[int, list[DueItem]] = {}
    for chunk in in_chunks(client_ids):
        rows = uow.session.scalars(
            select(BillableItem).where(
                BillableItem.client_id.in_(chunk), BillableItem.invoiceaction == "nextinvoice",
                BillableItem.invoicecount == 0,
            ).order_by(BillableItem.id)
        )
        for item in rows:
            line = _line(item)
            line.duedate = None
            lines.setdefault(item.client_id, []).append(line)
    return lines
