"""What the billing engine and the areas that bill (services, addons, domains) agree on.

The billing area owns invoices; other areas only describe what is due and react when an
invoice is paid. Keeping the shapes here lets each area be built and tested on its own:

* An area that bills registers a *due-items source* in
  ``billow.services.billing.generation.DUE_SOURCES`` (an extension point, filled in
  :mod:`billow.bootstrap`); the function is ``fn(uow, as_of: date, client_id: int | None,
  *, ids: dict[str, list[int]] | None = None) -> list[DueItem]``. *ids* None means no
  restriction; otherwise it maps ``"service"``/``"addon"``/``"domain"``/``"billable"`` to
  the only record ids to invoice (``GenInvoices``'s ``serviceids[]`` ...) and a source
  returns only items whose ``relid`` is listed under its kind (nothing when its kind is
  absent). A source also takes ``clients: Collection[int] | None`` (keyword): the daily
  run asks for a page of clients at once. Invoice generation (the ``GenInvoices``
  action and the daily run) collects them, groups them into invoices, applies each
  item's :class:`DateAdvance` (batched) and calls its ``on_invoiced``; see
  ``billow.services.billing.generation``'s docstring.
* An area that reacts to payment registers a *paid step* in
  ``billow.services.billing.invoices.PAID_STEPS``: ``fn(uow, invoice)`` runs in the paying
  transaction once the invoice's balance reaches zero (provisioning on payment,
  unsuspension, domain registration).
* Orders create their first invoice with ``billow.services.billing.invoices.create_invoice(uow,
  client_id, lines, ...)`` passing :class:`InvoiceLine` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from billow.uow import UnitOfWork


@dataclass
class InvoiceLine:
    """One line of an invoice being created (WHMCS ``tblinvoiceitems``)."""

    description: str
    amount: Decimal
    taxed: bool = False
    #: WHMCS item type: "Hosting", "Addon", "Setup", "PromoHosting", "DomainRegister",
    #: "Domain", "Upgrade", "LateFee", "Item", "Invoice" (mass pay), "" (manual line).
    type: str = ""
    #: id of the service/addon/domain/billable item the line bills (0 for none).
    relid: int = 0
    #: the due date this line pays for (the service's next due date); None: invoice's.
    duedate: date | None = None


class DateAdvance(NamedTuple):
    """Move ``model.column`` of row ``id`` from ``current`` to ``value`` once invoiced.

    The plain next-invoice-date move of a service, addon or domain: the generator batches
    these into one UPDATE per table instead of loading every row, which is what keeps a
    100,000-service run close to the cost of writing its invoices. The UPDATE only
    matches a row still at ``current``, so the database itself refuses to invoice the
    same row and date twice (a concurrent or repeated run finds the date moved on).
    """

    model: type
    id: int
    current: date
    value: date
    column: str = "nextinvoicedate"


@dataclass
class DueItem(InvoiceLine):
    """Something due for invoicing, found by a due-items source."""

    client_id: int = 0
    #: the next-invoice-date move, applied in the invoicing transaction.
    advance: DateAdvance | None = field(default=None, repr=False)
    #: any other bookkeeping once the line is on invoice ``invoice_id`` (after *advance*).
    on_invoiced: Callable[[UnitOfWork, int], None] | None = field(default=None, repr=False)
