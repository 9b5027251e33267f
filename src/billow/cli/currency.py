"""``billow currency``: exchange rates and converted prices."""

from __future__ import annotations

from typing import Annotated

import typer

from billow.cli.common import console, reporting_errors, unit_of_work
from billow.config import get_settings
from billow.services.catalog.ecb_feed import fetch_daily_rates
from billow.services.catalog.exchange_rates import show_rate, update_exchange_rates
from billow.services.catalog.price_conversion import base_price_ids, convert_prices

app = typer.Typer(help="Currencies: exchange rates and converted prices.", no_args_is_help=True)


@app.command("update-rates")
def currency_update_rates(
    prices: Annotated[
        bool, typer.Option("--prices", help="Then recompute other currencies' prices from the new rates")
    ] = False,
    url: Annotated[str, typer.Option("--url", help="Feed address (default: BILLOW_EXCHANGE_RATES_URL)")] = "",
) -> None:
    """Fetch the ECB reference rates now and set every non-default currency's rate.

    The same service as the daily CurrencyUpdateExchangeRates task (WHMCS's "Update
    Exchange Rates" button); with --prices also what CurrencyUpdateProductPricing does.
    """
    settings = get_settings()
    with reporting_errors():
        # The feed is fetched before the unit of work opens: no network call inside a transaction.
        feed = fetch_daily_rates(url or settings.exchange_rates_url,
                                 timeout=settings.exchange_rates_timeout_seconds)
    with unit_of_work() as uow:
        outcome = update_exchange_rates(uow, feed)
    day = feed.day.isoformat() if feed.day else "an undated feed"
    console.print(f"rates of {day}")
    for change in outcome.updated:
        console.print(f"Updated {change.code} Exchange Rate to {show_rate(change.new)}")
    for _, code in outcome.missing:
        console.print(f"[yellow]Update Failed for {code} Exchange Rate[/yellow] (not in the feed)")
    if prices:
        console.print(f"{convert_all_prices()} price rows updated")
    if outcome.missing:
        raise typer.Exit(1)


@app.command("update-prices")
def currency_update_prices() -> None:
    """Recompute every other currency's prices from the default currency's and the stored rates."""
    console.print(f"{convert_all_prices()} price rows updated")


def convert_all_prices(page: int = 200) -> int:
    """Convert every base price, *page* rows per transaction; returns how many rows changed."""
    changed, after = 0, 0
    while True:
        with unit_of_work() as uow:
            ids = base_price_ids(uow, after=after, limit=page)
            changed += convert_prices(uow, ids)
        if len(ids) < page:
            return changed
        after = ids[-1]
