"""The one source of "now" and "today" for the whole system.

Billing dates are ``date``s in the installation's billing time zone; timestamps are aware
UTC ``datetime``s. Tests and ``billow cron --date`` move the clock with :func:`frozen`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from billow.config import get_settings

_override: datetime | None = None


def now() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    if _override is not None:
        return _override
    return datetime.now(UTC)


def today() -> date:
    """Return today's billing date in the installation's time zone."""
    return now().astimezone(ZoneInfo(get_settings().timezone)).date()


@contextlib.contextmanager
def frozen(at: datetime | date) -> Iterator[None]:
    """Pin the clock at *at* for the block (a date means noon of that day, billing zone)."""
    global _override
    if not isinstance(at, datetime):
        at = datetime.combine(at, time(12, 0), ZoneInfo(get_settings().timezone))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    previous, _override = _override, at.astimezone(UTC)
    try:
        yield
    finally:
        _override = previous
