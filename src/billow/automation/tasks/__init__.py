"""The registered automation tasks, as data.

``TASKS`` lists Billow's own task classes; other packages add theirs
through the ``billow.tasks`` entry-point group. :func:`load_tasks` instantiates them all
and orders them by :attr:`~billow.automation.base.Task.order`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from billow.automation.base import Task
from billow.automation.tasks.billing import (
    AddLateFees,
    CreateInvoices,
    CreditCardExpiryNotices,
    InvoiceReminders,
    ProcessCreditCardPayments,
)
from billow.automation.tasks.currency import CurrencyUpdateExchangeRates, CurrencyUpdateProductPricing
from billow.automation.tasks.housekeeping import DataRetentionPrune
from billow.automation.tasks.outbox import DeliverOutbox, PruneDeliveredEvents
from billow.automation.tasks.overages import OverageBilling
from billow.automation.tasks.services import (
    AutoClientStatusSync,
    AutoSuspensions,
    AutoTerminations,
    AutoUnsuspensions,
    CancellationRequests,
    CancelUnpaidOrders,
    FixedTermTerminations,
    UpdateServerUsage,
)
from billow.automation.tasks.support import CloseInactiveTickets, PollSupportMailboxes

#: Billow's built-in tasks, in registration order. Add one line (and its import) to add a task.
TASKS: tuple[type[Task], ...] = (
    CreateInvoices,
    InvoiceReminders,
    AddLateFees,
    ProcessCreditCardPayments,
    CreditCardExpiryNotices,
    AutoSuspensions,
    AutoUnsuspensions,
    AutoTerminations,
    FixedTermTerminations,
    CancellationRequests,
    CancelUnpaidOrders,
    UpdateServerUsage,
    AutoClientStatusSync,
    PollSupportMailboxes,
    CloseInactiveTickets,
    DataRetentionPrune,
    PruneDeliveredEvents,
    DeliverOutbox,
    OverageBilling,
    CurrencyUpdateExchangeRates,
    CurrencyUpdateProductPricing,
)


def load_tasks(classes: tuple[type[Task], ...] = TASKS, *, plugins: bool = True) -> list[Task]:
    """Instantiate every registered task in run order; duplicate names are an error."""
    classes = tuple(classes)
    if plugins:
        for ep in entry_points(group="billow.tasks"):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Task)):
                raise TypeError(f"entry point {ep.name} is not an automation Task")
            classes += (cls,)
    seen: dict[str, type[Task]] = {}
    for cls in classes:
        key = cls.name.lower()
        if key in seen and seen[key] is not cls:
            raise ValueError(f"duplicate automation task {cls.name!r}")
        seen[key] = cls
    ordered = sorted(seen.values(), key=lambda c: c.order)  # sorted() is stable: ties keep order
    return [cls() for cls in ordered]
