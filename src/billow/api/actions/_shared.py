"""Shapes every action handler shares: paging, WHMCS date/boolean renderings, lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from billow.api.params import Params

DEFAULT_LIMIT = 25


def paging(params: Params, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """``limitstart``/``limitnum`` as WHMCS honours them (negative values mean the default)."""
    start = max(params.int("limitstart", 0, error="Invalid limitstart"), 0)
    limit = params.int("limitnum", default_limit, error="Invalid limitnum")
    if limit <= 0:
        limit = default_limit
    return start, limit


def page(total: int, start: int, wrapper: str, item: str | None, rows: Sequence[Any]) -> dict[str, Any]:
    """The WHMCS list envelope: ``totalresults``/``startnumber``/``numreturned`` + nesting.

    *item* None gives the plain array of the 8.x actions (``users[]``).
    """
    items = list(rows)
    # An empty page keeps the wrapper (``clients.client == []``) so that callers reading
    # ``$r['clients']['client']`` never hit a missing key.
    body: Any = {item: items} if item else items
    return {
        "totalresults": int(total),
        "startnumber": int(start),
        "numreturned": len(items),
        wrapper: body,
    }


def whmcs_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "0000-00-00 00:00:00"


def whmcs_date(value: date | None) -> str:
    return value.isoformat() if value else "0000-00-00"


def onoff(flag: bool) -> str:
    """WHMCS's legacy checkbox rendering: ``"on"`` or ``""``."""
    return "on" if flag else ""
