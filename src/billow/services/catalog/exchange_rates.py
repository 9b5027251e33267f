"""Exchange rates of the installation's currencies, set from the day's euro reference rates.

A currency's ``rate`` is how many of its units make one unit of the default currency
(WHMCS's "Base Conv. Rate"; the default currency's own rate stays 1). The ECB feed quotes
every currency against the euro, so for a default currency D and another currency C::

    rate(C) = (C per euro) / (D per euro), rounded to 5 places

which is the feed's own rate when D is the euro. A currency the feed does not quote keeps
its rate and is reported; when the feed does not quote D itself nothing can be computed
and nothing is changed. Hooks on ``FetchCurrencyExchangeRates`` may add or override
rates (per euro) before they are applied, as in WHMCS.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from billow.db.models import Currency
from billow.errors import BillowError, NotFound
from billow.money import quantize
from billow.services.activity import log_activity
from billow.services.catalog.ecb_feed import FeedRates
from billow.uow import UnitOfWork

__all__ = ["RateChange", "RatesOutcome", "RatesUnavailable", "default_currency", "other_currencies",
           "show_rate", "update_exchange_rates"]

log = logging.getLogger("billow.currency")

#: Places a conversion rate is kept to (the ``rate`` column, WHMCS's ``round(..., 5)``).
RATE_PLACES = 5

_CODE = re.compile(r"[A-Z]{3}")


class RatesUnavailable(BillowError):
    """The feed does not quote the default currency, so no rate can be derived from it."""

    code = "rates_unavailable"


@dataclass(frozen=True)
class RateChange:
    currency_id: int
    code: str
    old: Decimal
    new: Decimal


@dataclass
class RatesOutcome:
    """What one update did: rates written, and currencies the feed does not quote."""

    feed_day: date | None
    updated: list[RateChange] = field(default_factory=list)
    #: ``(currency id, code)`` of currencies left unchanged because the feed lacks them.
    missing: list[tuple[int, str]] = field(default_factory=list)


def show_rate(rate: Decimal) -> str:
    """A rate as WHMCS writes it in its log (PHP prints ``0.8512``, not ``0.85120``)."""
    return format(rate.normalize(), "f")


def default_currency(uow: UnitOfWork) -> Currency:
    found = uow.session.scalar(select(Currency).where(Currency.is_default.is_(True)).order_by(Currency.id))
    if found is None:
        raise NotFound("No default currency is configured", code="no_default_currency")
    return found


def other_currencies(uow: UnitOfWork) -> list[Currency]:
    """Every currency but the default, by code (the order WHMCS updates and logs them in)."""
    return list(uow.session.scalars(
        select(Currency).where(Currency.is_default.is_(False)).order_by(Currency.code, Currency.id)))


def _with_hooks(uow: UnitOfWork, per_euro: dict[str, Decimal]) -> dict[str, Decimal]:
    """Let ``FetchCurrencyExchangeRates`` hooks add or override rates per euro."""
    merged = dict(per_euro)
    for answer in uow.emit("FetchCurrencyExchangeRates", dict(per_euro), outbox=False):
        if not isinstance(answer, dict):
            continue
        for raw_code, raw_rate in answer.items():
            code = str(raw_code).strip().upper()
            try:
                value = Decimal(str(raw_rate).strip())
            except InvalidOperation:
                value = Decimal(0)
            if not _CODE.fullmatch(code) or not value.is_finite() or value <= 0:
                log.warning("FetchCurrencyExchangeRates hook gave an unusable rate %r for %r",
                            raw_rate, raw_code)
                continue
            merged[code] = value
    return merged


def update_exchange_rates(uow: UnitOfWork, feed: FeedRates) -> RatesOutcome:
    """Set every non-default currency's rate from *feed*; log each change as WHMCS does.

    Raises :class:`RatesUnavailable` (having changed nothing) when the feed does not quote
    the default currency. Never commits.
    """
    base = default_currency(uow)
    per_euro = _with_hooks(uow, feed.per_euro)
    base_per_euro = per_euro.get(base.code.strip().upper())
    if base_per_euro is None:
        day = f" of {feed.day.isoformat()}" if feed.day else ""
        raise RatesUnavailable(
            f"The exchange rate feed{day} does not quote the default currency {base.code}, "
            "so no exchange rate can be computed; no rate was changed")
    outcome = RatesOutcome(feed.day)
    for currency in other_currencies(uow):
        quoted = per_euro.get(currency.code.strip().upper())
        rate = quantize(quoted / base_per_euro, RATE_PLACES) if quoted is not None else Decimal(0)
        if rate <= 0:
            outcome.missing.append((currency.id, currency.code))
            log_activity(uow, f"Update Failed for {currency.code} Exchange Rate")
            continue
        outcome.updated.append(RateChange(currency.id, currency.code, currency.rate, rate))
        currency.rate = rate
        log_activity(uow, f"Updated {currency.code} Exchange Rate to {show_rate(rate)}")
    return outcome
