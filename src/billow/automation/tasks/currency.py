"""Currency tasks of the daily run: exchange rates from the ECB feed, then prices from the rates.

WHMCS runs these as two daily tasks, each behind its own Automation Settings checkbox:
``CurrencyUpdateExchangeRates`` ("Auto Update Exchange Rates",
``CurrencyAutoUpdateExchangeRates``, on by default) and ``CurrencyUpdateProductPricing``
("Auto Update Product Prices", ``CurrencyAutoUpdateProductPrices``, off by default). The
price task reads the stored rates, so it also serves installations that type their rates
by hand; it runs after the rate task, so on a day both run it uses the fresh rates.
"""

from __future__ import annotations

from collections.abc import Sequence

from billow.automation.base import RunContext, Task
from billow.automation.marks import is_claimed
from billow.config import get_settings
from billow.services.activity import log_activity
from billow.services.catalog.ecb_feed import fetch_daily_rates
from billow.services.catalog.exchange_rates import (
    RatesUnavailable,
    default_currency,
    other_currencies,
    update_exchange_rates,
)
from billow.services.catalog.price_conversion import base_price_ids, convert_prices
from billow.uow import UnitOfWork


class CurrencyUpdateExchangeRates(Task):
    """Fetch the day's reference rates once and set every non-default currency's rate.

    Not a per-item task: one fetch, then one transaction that writes all rates, their
    activity-log lines and the day's claim (``rates:<date>``), so a run killed after the
    commit does not fetch and log the same rates again. A network failure or a garbage
    answer fails the task before anything is written; its day stays open and the next
    run (minutes later) tries again. A currency the feed does not quote is recorded as a
    failed item and keeps its rate; a default currency the feed does not quote is one
    failure for the day (retrying cannot help until the set-up changes), nothing changed.
    With one currency only there is nothing to convert and nothing is fetched.
    """

    name = "CurrencyUpdateExchangeRates"
    title = "Update currency exchange rates"
    daily = True
    order = 5
    setting = "CurrencyAutoUpdateExchangeRates"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return []  # the work is one step; see run()

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        return None

    def describe(self, item: int) -> str:
        return f"Currency ID {item}"

    def _claim_key(self, ctx: RunContext) -> str:
        return f"rates:{ctx.today.isoformat()}"

    def run(self, ctx: RunContext) -> None:
        with ctx.reader() as uow:
            if not other_currencies(uow) or is_claimed(uow, self.name, self._claim_key(ctx)):
                return
        settings = get_settings()
        feed = fetch_daily_rates(settings.exchange_rates_url, timeout=settings.exchange_rates_timeout_seconds)
        with ctx.transaction(1) as uow:
            try:
                outcome = update_exchange_rates(uow, feed)
            except RatesUnavailable as exc:
                log_activity(uow, f"Exchange Rates Update Failed: {exc.message}")
                ctx.fail_in_transaction(self, default_currency(uow).id, exc.message)
                return
            ctx.claim(uow, [self._claim_key(ctx)])
            ctx.count("updated", len(outcome.updated))
            day = f" of {feed.day.isoformat()}" if feed.day else ""
            for currency_id, code in outcome.missing:
                ctx.fail_in_transaction(
                    self, currency_id, f"{code} is not quoted in the exchange rate feed{day}; rate unchanged")


class CurrencyUpdateProductPricing(Task):
    """Recompute the other currencies' product, addon and option prices from the default's.

    Items are the default currency's price rows, a page per transaction; the rule
    (:func:`billow.services.catalog.price_conversion.convert_prices`) is a pure function of those
    rows and the stored rates, so a re-run, or a run resumed after a crash, only writes
    rows that are not yet right.
    """

    name = "CurrencyUpdateProductPricing"
    title = "Update product prices for current rates"
    daily = True
    order = 6
    setting = "CurrencyAutoUpdateProductPrices"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        if not other_currencies(uow):
            return []  # one currency: nothing to convert into
        return base_price_ids(uow, after=after, limit=limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        ctx.count("prices_updated", convert_prices(uow, items))

    def describe(self, item: int) -> str:
        return f"Price ID {item}"
