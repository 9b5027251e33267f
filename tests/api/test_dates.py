"""The API layer's one home for reading dates (``billow.api.params``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billow.api.params import ISO_DATE, parse_date, parse_moment, parse_utc_datetime
from billow.errors import ValidationError

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("text", ["2024-03-09", "20240309", "2024-03-09 10:11:12", "2024-03-09 10:11",
                                  "09/03/2024", " 2024-03-09 "])
def test_parse_date_reads_every_documented_spelling(text: str) -> None:
    assert parse_date(text, "Invalid date") == date(2024, 3, 9)


def test_parse_date_with_only_iso_refuses_the_rest() -> None:
    assert parse_date("2024-03-09", "bad", ISO_DATE) == date(2024, 3, 9)
    for text in ("20240309", "09/03/2024", "2024-03-09 10:11"):
        with pytest.raises(ValidationError, match="^bad$"):
            parse_date(text, "bad", ISO_DATE)


def test_parse_utc_datetime_keeps_seconds_precision_times_only() -> None:
    assert parse_utc_datetime("2024-03-09 10:11:12", "x") == datetime(2024, 3, 9, 10, 11, 12, tzinfo=UTC)
    assert parse_utc_datetime("2024-03-09", "x") == datetime(2024, 3, 9, tzinfo=UTC)
    with pytest.raises(ValidationError, match="Invalid since date"):
        parse_utc_datetime("yesterday", "Invalid since date")


def test_parse_moment_in_the_billing_zone() -> None:
    assert parse_moment("", "x", PARIS) is None
    assert parse_moment("0000-00-00 00:00:00", "x", PARIS) is None
    assert parse_moment("2024-03-09T10:11:12", "x", PARIS) == datetime(2024, 3, 9, 10, 11, 12, tzinfo=PARIS)
    day_only = parse_moment("09/03/2024", "x", PARIS)
    assert day_only is not None and day_only.date() == date(2024, 3, 9) and day_only.tzinfo is PARIS
    with time_machine.travel(datetime(2024, 3, 9, 8, 30, 5, tzinfo=UTC), tick=False):
        # A bare day keeps the current time of day in the zone, as WHMCS does for payments.
        assert parse_moment("2024-03-10", "x", PARIS) == datetime(2024, 3, 10, 9, 30, 5, tzinfo=PARIS)
    with pytest.raises(ValidationError, match="^Invalid datepaid$"):
        parse_moment("March 9th", "Invalid datepaid", PARIS)
