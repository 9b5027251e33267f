"""Billing cycles and the date arithmetic on them: the one place for due-date rules.

WHMCS spells a cycle two ways: the stored/display form (``Semi-Annually``) and the system
form used in requests and price keys (``semiannually``). :func:`cycle` accepts either (and
``One-Time``/``onetime``/``Free Account``) and returns a :class:`Cycle`.

Month arithmetic follows WHMCS's month-end rule: adding months keeps the day of the
month the service was registered on (its *anchor*), clamped to the last day of shorter
months, so a service registered on 31 January is due on 28/29 February, then 31 March,
30 April ... and never drifts to the 28th for good.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billow.errors import ValidationError
from billow.money import quantize


@dataclass(frozen=True)
class Cycle:
    display: str
    system: str
    months: int
    #: the column/key of the price and setup fee (``monthly``/``msetupfee``); "" for free
    price_key: str
    setup_key: str

    @property
    def recurring(self) -> bool:
        return self.months > 0


CYCLES: tuple[Cycle, ...] = (
    Cycle("Free Account", "free", 0, "", ""),
    Cycle("One Time", "onetime", 0, "monthly", "msetupfee"),
    Cycle("Monthly", "monthly", 1, "monthly", "msetupfee"),
    Cycle("Quarterly", "quarterly", 3, "quarterly", "qsetupfee"),
    Cycle("Semi-Annually", "semiannually", 6, "semiannually", "ssetupfee"),
    Cycle("Annually", "annually", 12, "annually", "asetupfee"),
    Cycle("Biennially", "biennially", 24, "biennially", "bsetupfee"),
    Cycle("Triennially", "triennially", 36, "triennially", "tsetupfee"),
)
RECURRING = tuple(c for c in CYCLES if c.recurring)
PRICE_KEYS = tuple(c.price_key for c in RECURRING)
SETUP_KEYS = tuple(c.setup_key for c in RECURRING)

_ALIASES = {"free": "free", "freeaccount": "free", "onetime": "onetime", "one-time": "onetime"}


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "").replace("-", "").replace("_", "")


_BY_KEY = {_key(c.display): c for c in CYCLES} | {c.system: c for c in CYCLES}
_BY_KEY.update({k.replace("-", ""): _BY_KEY[v] for k, v in _ALIASES.items()})
#: Exact stored spellings first (the daily run looks a cycle up per service).
_BY_TEXT = {c.display: c for c in CYCLES}


def cycle(text: str) -> Cycle:
    """Return the cycle named *text* in any WHMCS spelling, or raise ``Invalid Billing Cycle``."""
    found = _BY_TEXT.get(text)
    if found is not None:
        return found
    found = _BY_KEY.get(_key(text or ""))
    if found is None:
        raise ValidationError("Invalid Billing Cycle", code="invalid_billing_cycle")
    return found


def add_months(start: date, months: int, anchor_day: int | None = None) -> date:
    """*start* plus *months*, on *anchor_day* (default *start*'s day) clamped to month end."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = anchor_day or start.day
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def next_due(current: date, cycle_name: str, anchor_day: int | None = None) -> date:
    """The due date one cycle after *current* (one-off and free cycles do not move)."""
    c = cycle(cycle_name)
    if not c.recurring:
        return current
    return add_months(current, c.months, anchor_day)


def previous_due(current: date, cycle_name: str, anchor_day: int | None = None) -> date:
    c = cycle(cycle_name)
    if not c.recurring:
        return current
    return add_months(current, -c.months, anchor_day)


def due_after(item: object, current: date | None = None) -> date:
    """A service's or addon's due date one cycle after *current* (default: its next due date).

    The one rule for moving a due date on by a period: payment of a period, an order's
    first invoice and a manual renewal all call it, so the anchor day is kept alike.
    """
    start = current or item.nextduedate  # type: ignore[attr-defined]
    return next_due(start, item.billingcycle, anchor_day(item))  # type: ignore[attr-defined]


def advance_by(on: date, every: int, unit: str) -> date:
    """*on* moved forward by *every* ``Days``/``Weeks``/``Months``/``Years`` (month ends clamp).

    The units of billable items' ``recurcycle``; months and years go through
    :func:`add_months` like every other due date.
    """
    if unit == "Days":
        return on + timedelta(days=every)
    if unit == "Weeks":
        return on + timedelta(weeks=every)
    return add_months(on, every * (12 if unit == "Years" else 1))


def anchor_day(item: object) -> int:
    """The day of the month *item*'s (a service's or addon's) due dates are anchored on."""
    return anchor_of(getattr(item, "anchor_day", 0), item.regdate)  # type: ignore[attr-defined]


def anchor_of(anchor: int | None, regdate: date) -> int:
    """:func:`anchor_day` from the columns: the stored anchor, else the registration day."""
    return int(anchor or 0) or regdate.day


@dataclass(frozen=True)
class Proration:
    days_remaining: int
    total_days: int
    amount: Decimal


def prorate(
    amount: Decimal, today: date, due: date, cycle_name: str, anchor_day: int | None = None, places: int = 2
) -> Proration:
    """The share of *amount* (a per-cycle price) for the days from *today* to *due*.

    Total days are those of the cycle that ends on *due* (so February and leap years count
    as they are); a due date in the past means no days remain.
    """
    c = cycle(cycle_name)
    if not c.recurring:
        return Proration(0, 0, quantize(amount, places))
    start = previous_due(due, cycle_name, anchor_day)
    total = (due - start).days
    remaining = max(0, min((due - today).days, total))
    share = amount * Decimal(remaining) / Decimal(total) if total else Decimal(0)
    return Proration(remaining, total, quantize(share, places))
