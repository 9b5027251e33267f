"""Exchange rates from a local server speaking the ECB daily-feed protocol, and converted prices."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from billow.automation.runner import run_cron
from billow.automation.tasks.currency import CurrencyUpdateExchangeRates, CurrencyUpdateProductPricing
from billow.config import reset_settings
from billow.db.models import ActivityLog, AutomationTaskLog, Currency, Price
from billow.events import registry
from billow.services.catalog.ecb_feed import ExchangeRateFeedError, parse_daily_feed
from billow.services.settings import set_setting
from billow.uow import UnitOfWork

DAY = date(2027, 3, 1)

FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time='2027-02-26'>
      <Cube currency='USD' rate='1.0832'/>
      <Cube currency='JPY' rate='162.45'/>
      <Cube currency='GBP' rate='0.8581'/>
      <Cube currency='CHF' rate='0.9512'/>
    </Cube>
  </Cube>
</gesmes:Envelope>
"""

RATES = CurrencyUpdateExchangeRates.name
PRICING = CurrencyUpdateProductPricing.name


class FeedServer:
    """Serves the feed (or a failure) on ``/eurofxref-daily.xml`` and counts requests."""

    def __init__(self) -> None:
        self.reset()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        # A socket that listens and never answers: connections are queued, reads time out.
        self._silent = socket.socket()
        self._silent.bind(("127.0.0.1", 0))
        self._silent.listen(8)

    def reset(self) -> None:
        self.status, self.body, self.content_type, self.requests = 200, FEED, "text/xml", 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/eurofxref-daily.xml"

    @property
    def silent_url(self) -> str:
        return f"http://127.0.0.1:{self._silent.getsockname()[1]}/eurofxref-daily.xml"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._silent.close()


@pytest.fixture(scope="module")
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def feed(db, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    feed_server.reset()
    monkeypatch.setenv("BILLOW_EXCHANGE_RATES_URL", feed_server.url)
    monkeypatch.setenv("BILLOW_EXCHANGE_RATES_TIMEOUT_SECONDS", "0.3")
    reset_settings()
    yield feed_server
    monkeypatch.undo()
    reset_settings()


def _currencies(db, default: str, *others: tuple[str, str] | str) -> dict[str, int]:
    """Create the default currency and *others* (code or (code, rate)); return ids by code."""
    ids: dict[str, int] = {}
    with UnitOfWork(db) as uow:
        for entry in (default, *others):
            code, rate = (entry, "1") if isinstance(entry, str) else entry
            row = Currency(code=code, prefix="", suffix=f" {code}", rate=Decimal(rate),
                           is_default=code == default, decimals=0 if code == "JPY" else 2)
            uow.session.add(row)
            uow.session.flush()
            ids[code] = row.id
        uow.commit()
    return ids


def _rates(db) -> dict[str, Decimal]:
    with db() as session:
        return {c.code: c.rate for c in session.scalars(select(Currency))}


def _activity(db) -> list[str]:
    with db() as session:
        return list(session.scalars(select(ActivityLog.description).order_by(ActivityLog.id)))


def _settings(db, **values: str) -> None:
    with UnitOfWork(db) as uow:
        for key, value in values.items():
            set_setting(uow, key, value)
        uow.commit()


def _run(db, day: date = DAY, *, prices: bool = False, force: bool = False):
    tasks = [CurrencyUpdateExchangeRates(), CurrencyUpdateProductPricing()]
    return run_cron(db, as_of=day, tasks=tasks if prices else tasks[:1], force=force)


# --- the feed protocol ---------------------------------------------------------------------------

def test_parse_daily_feed_reads_date_and_rates_per_euro():
    rates = parse_daily_feed(FEED)
    assert rates.day == date(2027, 2, 26)
    assert rates.per_euro == {"USD": Decimal("1.0832"), "JPY": Decimal("162.45"), "GBP": Decimal("0.8581"),
                              "CHF": Decimal("0.9512"), "EUR": Decimal(1)}


@pytest.mark.parametrize(("body", "reason"), [
    pytest.param(b"<html><body>Service unavailable</body></html>", "root element <html>", id="html"),
    pytest.param(FEED[: len(FEED) // 2], "not valid XML", id="truncated"),
    pytest.param(b"", "not valid XML", id="empty"),
    pytest.param(FEED.replace(b"<Cube currency='USD' rate='1.0832'/>", b"").replace(b"currency='", b"c='"),
                 "holds no rates", id="no-rates"),
    pytest.param(FEED.replace(b"rate='0.8581'", b"rate='-0.8581'"), "GBP a rate that is not positive",
                 id="negative"),
    pytest.param(FEED.replace(b"rate='0.8581'", b"rate='n/a'"), "GBP a rate that is not a number",
                 id="not-a-number"),
    pytest.param(FEED.replace(b"time='2027-02-26'", b"time='yesterday'"), "unreadable date", id="bad-date"),
    pytest.param(b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Envelope>&lol;</Envelope>',
                 "declares a DTD", id="entities"),
])
def test_parse_daily_feed_refuses_anything_else_as_a_whole(body: bytes, reason: str):
    with pytest.raises(ExchangeRateFeedError) as caught:
        parse_daily_feed(body)
    assert reason in caught.value.message


# --- rates --------------------------------------------------------------------------------------

def test_euro_default_takes_the_feed_rates_and_reports_a_missing_currency(db, feed):
    ids = _currencies(db, "EUR", ("USD", "1.05"), ("GBP", "0.8"), ("JPY", "150"), ("XYZ", "3.25"))
    report = _run(db)
    result = report.result(RATES)
    assert result.status == "completed"
    assert _rates(db) == {"EUR": Decimal(1), "USD": Decimal("1.0832"), "GBP": Decimal("0.8581"),
                          "JPY": Decimal("162.45"), "XYZ": Decimal("3.25")}
    assert _activity(db) == ["Updated GBP Exchange Rate to 0.8581", "Updated JPY Exchange Rate to 162.45",
                             "Updated USD Exchange Rate to 1.0832", "Update Failed for XYZ Exchange Rate"]
    assert result.counts == {"updated": 3} and result.failed == 1
    assert result.failures == [{"item": f"Currency ID {ids['XYZ']}",
                                "reason": "XYZ is not quoted in the exchange rate feed of 2027-02-26; "
                                          "rate unchanged"}]
    assert feed.requests == 1


def test_other_default_converts_through_the_euro(db, feed):
    _currencies(db, "USD", "EUR", "GBP", "JPY", "CHF")
    assert _run(db).result(RATES).status == "completed"
    # rate(C) = (C per euro) / (USD per euro), 5 places: GBP 0.8581 / 1.0832 = 0.792189...
    assert _rates(db) == {"USD": Decimal(1), "EUR": Decimal("0.92319"), "GBP": Decimal("0.79219"),
                          "JPY": Decimal("149.97230"), "CHF": Decimal("0.87814")}
    assert "Updated JPY Exchange Rate to 149.9723" in _activity(db)


def test_default_currency_absent_from_the_feed_changes_nothing(db, feed):
    ids = _currencies(db, "AUD", ("USD", "0.65"), ("EUR", "0.6"))
    result = _run(db).result(RATES)
    assert _rates(db) == {"AUD": Decimal(1), "USD": Decimal("0.65"), "EUR": Decimal("0.6")}
    assert result.failed == 1 and result.counts == {}
    reason = result.failures[0]["reason"]
    assert result.failures[0]["item"] == f"Currency ID {ids['AUD']}"
    assert "does not quote the default currency AUD" in reason and "no rate was changed" in reason
    assert _activity(db) == [f"Exchange Rates Update Failed: {reason}"]


@pytest.mark.parametrize(("fault", "reason"), [
    pytest.param({"status": 500, "body": b"Internal Server Error"}, "answered HTTP 500", id="http-500"),
    pytest.param({"body": b"<html>Maintenance</html>", "content_type": "text/html"},
                 "not an ECB rates document", id="garbage"),
    pytest.param({"body": FEED[:200]}, "not valid XML", id="truncated"),
    pytest.param("timeout", "timed out after 0.3 s", id="timeout"),
])
def test_a_failed_fetch_fails_the_task_changes_nothing_and_the_next_run_retries(
        db, feed, monkeypatch, fault, reason):
    _currencies(db, "EUR", ("USD", "1.05"), ("GBP", "0.8"))
    if fault == "timeout":
        monkeypatch.setenv("BILLOW_EXCHANGE_RATES_URL", feed.silent_url)
        reset_settings()
    else:
        for key, value in fault.items():
            setattr(feed, key, value)
    result = _run(db).result(RATES)
    assert result.status == "failed" and reason in result.message
    assert _rates(db) == {"EUR": Decimal(1), "USD": Decimal("1.05"), "GBP": Decimal("0.8")}
    assert _activity(db) == []
    with db() as session:
        row = session.get(AutomationTaskLog, result.log_id)
        assert row.status == "failed" and reason in row.message
    # The feed is back: the next run (same day: the failed task's day stayed open) updates.
    monkeypatch.setenv("BILLOW_EXCHANGE_RATES_URL", feed.url)
    reset_settings()
    feed.reset()
    again = _run(db).result(RATES)
    assert again.status == "completed" and again.counts == {"updated": 2}
    assert _rates(db)["GBP"] == Decimal("0.8581")


def test_once_a_day_even_when_forced_and_again_the_next_day(db, feed):
    _currencies(db, "EUR", ("GBP", "0.8"))
    assert _run(db).result(RATES).counts == {"updated": 1}
    assert _run(db).result(RATES) is None  # the day is done
    forced = _run(db, force=True).result(RATES)
    assert forced.status == "completed" and forced.counts == {} and feed.requests == 1
    assert _activity(db) == ["Updated GBP Exchange Rate to 0.8581"]
    feed.body = FEED.replace(b"rate='0.8581'", b"rate='0.8602'")
    assert _run(db, DAY + timedelta(days=1)).result(RATES).counts == {"updated": 1}
    assert feed.requests == 2 and _rates(db)["GBP"] == Decimal("0.8602")


def test_setting_off_or_a_single_currency_fetches_nothing(db, feed):
    _currencies(db, "EUR")
    assert _run(db).result(RATES).counts == {} and feed.requests == 0
    with UnitOfWork(db) as uow:
        uow.session.add(Currency(code="GBP", rate=Decimal("0.8"), is_default=False))
        uow.commit()
    _settings(db, CurrencyAutoUpdateExchangeRates="")
    result = _run(db, DAY + timedelta(days=1), prices=True)
    assert result.result(RATES).status == "skipped"
    assert result.result(PRICING).status == "skipped"  # off by default, as in WHMCS
    assert feed.requests == 0 and _rates(db)["GBP"] == Decimal("0.8") and _activity(db) == []


def test_fetch_currency_exchange_rates_hook_adds_and_overrides_rates(db, feed):
    _currencies(db, "EUR", ("XYZ", "3"), ("GBP", "0.8"))
    seen: dict[str, Any] = {}

    def extra_rates(variables: dict[str, Any]) -> dict[str, str]:
        seen.update(variables)
        return {"XYZ": "4.12345678", "GBP": "0.86", "bad": "-1"}

    registry.add("FetchCurrencyExchangeRates", extra_rates)
    assert _run(db).result(RATES).counts == {"updated": 2}
    assert seen["USD"] == Decimal("1.0832") and seen["EUR"] == Decimal(1)
    assert _rates(db) == {"EUR": Decimal(1), "XYZ": Decimal("4.12346"), "GBP": Decimal("0.86")}


# --- prices -------------------------------------------------------------------------------------

def _price(uow, kind: str, relid: int, currency_id: int, **amounts: str) -> None:
    uow.session.add(Price(type=kind, relid=relid, currency_id=currency_id,
                          **{k: Decimal(v) for k, v in amounts.items()}))


def _prices(db, currency_id: int) -> dict[tuple[str, int], dict[str, Decimal]]:
    with db() as session:
        rows = session.scalars(select(Price).where(Price.currency_id == currency_id))
        return {(r.type, r.relid): {"msetupfee": r.msetupfee, "monthly": r.monthly, "quarterly": r.quarterly,
                                    "semiannually": r.semiannually, "annually": r.annually}
                for r in rows}


def test_prices_follow_the_new_rates_exact_to_the_cent(db, feed):
    ids = _currencies(db, "USD", ("GBP", "0.5"), ("JPY", "100"), ("EUR", "0.9"))
    with UnitOfWork(db) as uow:
        _price(uow, "product", 1, ids["USD"], msetupfee="4.99", monthly="10.00", quarterly="-1",
               semiannually="0", annually="100.00")
        _price(uow, "addon", 1, ids["USD"], msetupfee="0", monthly="2.50", quarterly="-1",
               semiannually="-1", annually="25.00")
        _price(uow, "configoptions", 7, ids["USD"], msetupfee="-2.50", monthly="-1", quarterly="3.33",
               semiannually="0", annually="12.00")
        # stale GBP row for the product; EUR and JPY have none yet; an unrelated EUR-only row stays
        _price(uow, "product", 1, ids["GBP"], msetupfee="1", monthly="1", quarterly="1", semiannually="1",
               annually="1")
        _price(uow, "product", 2, ids["EUR"], monthly="8.00")
        uow.commit()
    _settings(db, CurrencyAutoUpdateProductPrices="on")
    report = _run(db, prices=True)
    assert report.result(RATES).status == "completed"
    pricing = report.result(PRICING)
    assert pricing.status == "completed" and pricing.processed == 3
    assert pricing.counts == {"prices_updated": 9}
    d = Decimal
    # GBP 0.79219: 4.99 -> 3.9530281 -> 3.95; 10 -> 7.9219 -> 7.92; markers -1 and 0 stay.
    assert _prices(db, ids["GBP"]) == {
        ("product", 1): {"msetupfee": d("3.95"), "monthly": d("7.92"), "quarterly": d("-1"),
                         "semiannually": d("0"), "annually": d("79.22")},
        ("addon", 1): {"msetupfee": d("0"), "monthly": d("1.98"), "quarterly": d("-1"),
                       "semiannually": d("-1"), "annually": d("19.80")},
        # options: every amount is a price, negatives too (WHMCS): -2.50 -> -1.980475 -> -1.98
        ("configoptions", 7): {"msetupfee": d("-1.98"), "monthly": d("-0.79"), "quarterly": d("2.64"),
                               "semiannually": d("0"), "annually": d("9.51")},
    }
    # JPY 149.97230, no decimals: 4.99 -> 748.36 -> 748; 10 -> 1499.72 -> 1500
    assert _prices(db, ids["JPY"])[("product", 1)] == {
        "msetupfee": d("748"), "monthly": d("1500"), "quarterly": d("-1"), "semiannually": d("0"),
        "annually": d("14997")}
    eur = _prices(db, ids["EUR"])
    assert eur[("product", 1)]["monthly"] == d("9.23") and eur[("product", 2)]["monthly"] == d("8.00")
    assert _prices(db, ids["USD"])[("product", 1)]["monthly"] == d("10.00")
    # Idempotent: a forced re-run finds every row already right.
    again = _run(db, prices=True, force=True).result(PRICING)
    assert again.counts == {"prices_updated": 0} and again.processed == 3


def test_prices_from_hand_typed_rates_when_only_price_updates_are_on(db, feed):
    ids = _currencies(db, "USD", ("GBP", "0.5"))
    with UnitOfWork(db) as uow:
        _price(uow, "product", 1, ids["USD"], monthly="9.99")
        uow.commit()
    _settings(db, CurrencyAutoUpdateExchangeRates="", CurrencyAutoUpdateProductPrices="on")
    report = _run(db, prices=True)
    assert report.result(PRICING).counts == {"prices_updated": 1} and feed.requests == 0
    assert _prices(db, ids["GBP"])[("product", 1)]["monthly"] == Decimal("5.00")  # 4.995 half-up


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_update_rates_and_prices(db, feed):
    from billow import cli

    ids = _currencies(db, "USD", ("GBP", "0.5"))
    with UnitOfWork(db) as uow:
        _price(uow, "product", 1, ids["USD"], monthly="10.00")
        uow.commit()
    runner = CliRunner()
    done = runner.invoke(cli.app, ["currency", "update-rates", "--prices"])
    assert done.exit_code == 0, done.output
    assert "Updated GBP Exchange Rate to 0.79219" in done.output and "1 price rows updated" in done.output
    assert _prices(db, ids["GBP"])[("product", 1)]["monthly"] == Decimal("7.92")
    feed.status = 503
    failed = runner.invoke(cli.app, ["currency", "update-rates"])
    assert failed.exit_code == 1 and "answered HTTP 503" in failed.output
    again = runner.invoke(cli.app, ["currency", "update-prices"])
    assert again.exit_code == 0 and "0 price rows updated" in again.output


# --- over the API -------------------------------------------------------------------------------

def test_settings_rates_and_log_over_the_api(api, db, feed):
    _currencies(db, "USD", ("GBP", "0.5"), ("XYZ", "2"))
    assert api.ok("GetConfigurationValue", setting="CurrencyAutoUpdateExchangeRates")["value"] == "on"
    assert api.ok("GetConfigurationValue", setting="CurrencyAutoUpdateProductPrices")["value"] == ""
    api.ok("SetConfigurationValue", setting="CurrencyAutoUpdateProductPrices", value="on")
    report = _run(db, prices=True)
    assert report.result(PRICING).status == "completed"
    rates = {c["code"]: c["rate"] for c in api.ok("GetCurrencies")["currencies"]["currency"]}
    assert rates == {"USD": "1.00000", "GBP": "0.79219", "XYZ": "2.00000"}
    log = api.ok("GetAutomationLog", startdate=DAY.isoformat(), enddate=DAY.isoformat(),
                 namespace="currencyupdateexchangerates")
    entry = log["statistics"][DAY.isoformat()][RATES]
    assert entry["status"] == "completed" and entry["counts"] == {"updated": 1} and entry["failed"] == 1
    assert "XYZ is not quoted" in entry["failures"][0]["reason"]
