"""The European Central Bank's daily reference-rates feed, the source WHMCS updates rates from.

The feed (``eurofxref-daily.xml``) is one small XML document: a ``gesmes:Envelope`` whose
``Cube`` holds one ``Cube time="YYYY-MM-DD"`` with a ``Cube currency="USD" rate="1.0832"``
per currency, each rate being units of that currency per euro. This module fetches and
reads it and nothing else: turning euro rates into the installation's rates is
:mod:`billow.services.catalog.exchange_rates`.

Any answer that is not such a document (an error page, a proxy's HTML, a truncated body,
a rate that is not a positive number) is refused as a whole with
:class:`ExchangeRateFeedError`, so a bad day of the feed never writes a rate.

Parsing uses the standard library's expat parser, which since expat 2.4.1 limits entity
expansion (billion laughs) and never fetches external entities; on top of that a
document declaring a DTD is refused outright (the feed has none), so ``defusedxml`` is
not needed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx

from billow.errors import BillowError

__all__ = ["ECB_DAILY_URL", "ExchangeRateFeedError", "FeedRates", "fetch_daily_rates", "parse_daily_feed"]

#: Where the ECB publishes the day's reference rates (the default of ``BILLOW_EXCHANGE_RATES_URL``).
ECB_DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"

#: The real document is under 2 KB; anything far bigger is not the feed.
MAX_FEED_BYTES = 256 * 1024

_CODE = re.compile(r"[A-Z]{3}")


class ExchangeRateFeedError(BillowError):
    """The rates feed could not be fetched or is not an ECB reference-rates document."""

    code = "exchange_rate_feed"


@dataclass(frozen=True)
class FeedRates:
    """One day of the feed: units of each currency per euro (EUR itself is 1)."""

    day: date | None
    per_euro: dict[str, Decimal]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rate(code: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ExchangeRateFeedError(
            f"The exchange rate feed gives {code} a rate that is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ExchangeRateFeedError(f"The exchange rate feed gives {code} a rate that is not positive")
    return value


def parse_daily_feed(data: bytes) -> FeedRates:
    """Read an ECB daily reference-rates document; refuse anything else as a whole."""
    if b"<!doctype" in data.lower():  # entities can only be declared inside a DTD
        raise ExchangeRateFeedError("The exchange rate feed is not an ECB rates document (it declares a DTD)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ExchangeRateFeedError(f"The exchange rate feed is not valid XML ({exc})") from None
    if _local(root.tag) != "Envelope":
        raise ExchangeRateFeedError(
            f"The exchange rate feed is not an ECB rates document (root element <{_local(root.tag)}>)")
    day: date | None = None
    rates: dict[str, Decimal] = {}
    for cube in root.iter():
        if _local(cube.tag) != "Cube":
            continue
        if "time" in cube.attrib and day is None:
            try:
                day = date.fromisoformat(cube.attrib["time"].strip())
            except ValueError:
                raise ExchangeRateFeedError("The exchange rate feed has an unreadable date") from None
        if "currency" in cube.attrib:
            code = cube.attrib["currency"].strip().upper()
            if not _CODE.fullmatch(code):
                raise ExchangeRateFeedError(f"The exchange rate feed has an invalid currency code {code!r}")
            rates[code] = _rate(code, cube.attrib.get("rate", ""))
    if not rates:
        raise ExchangeRateFeedError("The exchange rate feed holds no rates")
    rates["EUR"] = Decimal(1)
    return FeedRates(day, rates)


def fetch_daily_rates(url: str, *, timeout: float, client: httpx.Client | None = None) -> FeedRates:
    """GET the feed at *url* and read it; every failure is an :class:`ExchangeRateFeedError`.

    One attempt only: the automation retries on its next run (every few minutes), which
    is gentler on the publisher than a burst of retries.
    """
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                  follow_redirects=True, headers={"Accept": "application/xml, text/xml"})
    try:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise ExchangeRateFeedError(
                    f"The exchange rate feed answered HTTP {response.status_code} ({url})")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_FEED_BYTES:
                    raise ExchangeRateFeedError(f"The exchange rate feed answer is too large ({url})")
    except httpx.TimeoutException:
        raise ExchangeRateFeedError(f"The exchange rate feed timed out after {timeout:g} s ({url})") from None
    except httpx.HTTPError as exc:
        raise ExchangeRateFeedError(
            f"The exchange rate feed could not be reached: {type(exc).__name__}: {exc} ({url})") from None
    finally:
        if own:
            http.close()
    return parse_daily_feed(bytes(body))
