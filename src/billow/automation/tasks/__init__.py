"""The registered automation tasks, as data.

``TASKS`` lists Billow's own tasks as ``"module:Class"`` paths; other packages add theirs
through the ``billow.tasks`` entry-point group. :func:`load_tasks` instantiates them all
and orders them by :attr:`~billow.automation.base.Task.order`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from billow.automation.base import Task

#: Billow's built-in tasks (``module:Class``). Add one line to add a task.
TASKS: tuple[str, ...] = (
    "billow.automation.tasks.billing:CreateInvoices",
    "billow.automation.tasks.billing:InvoiceReminders",
    "billow.automation.tasks.billing:AddLateFees",
    "billow.automation.tasks.billing:ProcessCreditCardPayments",
    "billow.automation.tasks.billing:CreditCardExpiryNotices",
    "billow.automation.tasks.services:AutoSuspensions",
    "billow.automation.tasks.services:AutoUnsuspensions",
    "billow.automation.tasks.services:AutoTerminations",
    "billow.automation.tasks.services:FixedTermTerminations",
    "billow.automation.tasks.services:CancellationRequests",
    "billow.automation.tasks.services:CancelUnpaidOrders",
    "billow.automation.tasks.services:UpdateServerUsage",
    "billow.automation.tasks.services:AutoClientStatusSync",
    "billow.automation.tasks.support:PollSupportMailboxes",
    "billow.automation.tasks.support:CloseInactiveTickets",
    "billow.automation.tasks.housekeeping:DataRetentionPrune",
    "billow.automation.tasks.outbox:PruneDeliveredEvents",
    "billow.automation.tasks.outbox:DeliverOutbox",
    "billow.automation.tasks.overages:OverageBilling",
    "billow.automation.tasks.currency:CurrencyUpdateExchangeRates",
    "billow.automation.tasks.currency:CurrencyUpdateProductPricing",
)


def _load(path: str) -> type[Task]:
    module_name, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TypeError(f"{path} is not an automation Task")
    return cls


def load_tasks(paths: tuple[str, ...] | None = None, *, plugins: bool = True) -> list[Task]:
    """Instantiate every registered task in run order; duplicate names are an error."""
    classes = [_load(p) for p in (TASKS if paths is None else paths)]
    if plugins:
        for ep in entry_points(group="billow.tasks"):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Task)):
                raise TypeError(f"entry point {ep.name} is not an automation Task")
            classes.append(cls)
    seen: dict[str, type[Task]] = {}
    for cls in classes:
        key = cls.name.lower()
        if key in seen and seen[key] is not cls:
            raise ValueError(f"duplicate automation task {cls.name!r}")
        seen[key] = cls
    ordered = sorted(seen.values(), key=lambda c: c.order)  # sorted() is stable: ties keep order
    return [cls() for cls in ordered]
