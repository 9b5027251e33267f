"""When a recurring item is invoiced: WHMCS's lead time and continuous-generation rules.

One place for the rule every due-items source applies (services, addons, domains):

* An item is invoiced ``CreateInvoiceDaysBefore`` days before its next invoice date, or
  the per-cycle override ``CreateInvoiceDaysBefore<Cycle>`` when one is set (domains:
  ``CreateDomainInvoiceDaysBefore`` when set).
* Without ``ContinuousInvoiceGeneration`` an item is not invoiced for a new period while
  the previous period is unpaid: its next invoice date may not run ahead of its next due
  date (which only advances when an invoice is paid). With it, invoices keep coming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true

from billow.services.settings import setting_int, setting_on
from billow.uow import UnitOfWork

#: Setting-key suffix per billing cycle display name.
CYCLE_SUFFIX = {
    "Monthly": "Monthly", "Quarterly": "Quarterly", "Semi-Annually": "SemiAnnually",
    "Annually": "Annually", "Biennially": "Biennially", "Triennially": "Triennially",
}


@dataclass(frozen=True)
class InvoiceTiming:
    """The settings read once per generation run."""

    default_days: int
    by_cycle: dict[str, int]
    domain_days: int
    continuous: bool

    @property
    def longest(self) -> int:
        return max([self.default_days, self.domain_days, *self.by_cycle.values()])

    def lead_days(self, cycle: str, *, domain: bool = False) -> int:
        if domain:
            return self.domain_days
        return self.by_cycle.get(cycle, self.default_days)

    def due(self, as_of: date, next_invoice: date | None, next_due: date | None, cycle: str, *,
            domain: bool = False) -> bool:
        """True when an item with these dates is to be invoiced on *as_of*."""
        if next_invoice is None:
            return False
        if next_invoice - timedelta(days=self.lead_days(cycle, domain=domain)) > as_of:
            return False
        return self.continuous or next_due is None or next_invoice <= next_due

    def where(self, model: Any, as_of: date, *, domain: bool = False) -> ColumnElement[bool]:
        """:meth:`due` as SQL over *model*'s ``nextinvoicedate``/``nextduedate``/``billingcycle``.

        Lets a source (and the daily run's planner) select only what is due instead of
        reading every row; keep the two in step.
        """
        by_lead: dict[int, list[str]] = {}
        if not domain:
            for cycle_name, days in self.by_cycle.items():
                by_lead.setdefault(days, []).append(cycle_name)
        named = [name for names in by_lead.values() for name in names]
        default = self.domain_days if domain else self.default_days
        windows = [and_(model.billingcycle.in_(names), model.nextinvoicedate <= as_of + timedelta(days=days))
                   for days, names in by_lead.items()]
        windows.append(and_(model.billingcycle.not_in(named) if named else true(),
                            model.nextinvoicedate <= as_of + timedelta(days=default)))
        condition = and_(model.nextinvoicedate.is_not(None), or_(*windows))
        if not self.continuous:
            condition = and_(condition, or_(model.nextduedate.is_(None),
                                            model.nextinvoicedate <= model.nextduedate))
        return condition


def invoice_timing(uow: UnitOfWork) -> InvoiceTiming:
    """Read the generation settings (blank overrides fall back to ``CreateInvoiceDaysBefore``)."""
    default = max(setting_int(uow, "CreateInvoiceDaysBefore", 0), 0)
    by_cycle = {}
    for cycle, suffix in CYCLE_SUFFIX.items():
        value = setting_int(uow, f"CreateInvoiceDaysBefore{suffix}", -1)
        by_cycle[cycle] = value if value >= 0 else default
    domain = setting_int(uow, "CreateDomainInvoiceDaysBefore", -1)
    return InvoiceTiming(default, by_cycle, domain if domain >= 0 else default,
                         setting_on(uow, "ContinuousInvoiceGeneration"))
