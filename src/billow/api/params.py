"""Request parameters as PHP's ``$_POST`` sees them, with typed, WHMCS-tolerant readers.

PHP turns ``pid[0]=1&pid[1]=2``, ``pid[]=1`` and ``configoptions[1][2]=3`` into nested
arrays; WHMCS clients rely on that. :func:`parse_php_pairs` rebuilds the same nesting,
and :class:`Params` reads values the way WHMCS does: booleans from PHP truthiness, lists
from any of the array spellings (or a scalar, as a list of one), base64 PHP-serialised
arrays for custom fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

import phpserialize

from billow.clock import now
from billow.errors import ValidationError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Deepest bracket nesting a key may have (``a[1][2]`` is 2); PHP's
#: ``max_input_nesting_level`` is 64, and no WHMCS parameter goes past 3.
MAX_NESTING = 16
#: Digits an integer may have: more than any id, count or offset (past INT_MAX it saturates).
MAX_INT_DIGITS = 40
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: The one notation an amount may have: optional sign, digits, optional point and digits.
#: No ``_`` separators, no exponent, no ``inf``/``nan``. Thousands commas are dropped
#: first, as WHMCS clients send ``1,000.00``.
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
#: Largest amount accepted: what :class:`~billow.db.types.Money` stores (integers of
#: 1/10,000 in a signed 64-bit SQLite column, NUMERIC(20, 4) elsewhere) with room for totals.
MAX_AMOUNT = Decimal("100000000000000")
#: Decimal places an amount may have where its currency is not known: what is stored.
STORED_PLACES = 4
#: Control characters (C0, DEL, C1) and the bidirectional overrides: never in a single-line field.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Single-line fields (names, subjects, addresses): never a control character (a CR/LF in
#: a name would reach e-mail headers).
LINE_FIELDS = frozenset({
    "firstname", "lastname", "companyname", "email", "address1", "address2", "city", "state",
    "postcode", "country", "phonenumber", "name", "subject", "customsubject", "title",
})
#: Longest accepted single-line values where no service checks a column's length (client,
#: contact and user fields are checked against their columns by the clients services).
LINE_LIMITS = {"name": 255, "subject": 255, "customsubject": 255, "title": 255}
#: Longest free text (notes, ticket messages, descriptions ...): MySQL's TEXT, as in WHMCS.
MAX_TEXT = 65_535
#: Free-text fields held to :data:`MAX_TEXT` (other long values, such as base64
#: attachments, are bounded by the request body limit).
TEXT_FIELDS = frozenset({"notes", "note", "message", "description", "adminnotes", "reply",
                         "signature", "customfields", "custommessage"})
TRUE_WORDS = frozenset({"1", "true", "on", "yes", "y"})
FALSE_WORDS = frozenset({"0", "false", "off", "no", "n", ""})


def parse_php_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Nest ``key[a][b]=v`` pairs into dicts as PHP does (``[]`` appends).

    A repeated plain key (``pid=1&pid=2``) becomes a list, which PHP would not do but
    some non-PHP clients send.
    """
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if not match or not match.group(2):
            if raw_key in out and not isinstance(out[raw_key], dict):
                prev = out[raw_key]
                out[raw_key] = (prev if isinstance(prev, list) else [prev]) + [value]
            else:
                out[raw_key] = value
            continue
        name, rest = match.group(1), _PART.findall(match.group(2))
        if len(rest) > MAX_NESTING:
            raise ValidationError(f"Invalid parameter {name}: nested more than {MAX_NESTING} levels deep")
        container: Any = out
        key: str = name
        for part in rest:
            nxt = container.get(key) if isinstance(container, dict) else None
            if not isinstance(nxt, dict):
                nxt = {} if not isinstance(nxt, list) else dict(enumerate(nxt))
                container[key] = nxt
            container = nxt
            key = part if part != "" else str(_next_index(container))
        container[key] = value
    return out


def _next_index(container: dict[str, Any]) -> int:
    ints = [int(k) for k in container if isinstance(k, str) and _is_index(k)]
    return max(ints) + 1 if ints else 0


def _is_index(key: str) -> bool:
    """True for a key PHP treats as an integer index (ASCII digits, bounded)."""
    return len(key) <= MAX_INT_DIGITS and _INTEGER.fullmatch(key) is not None and key[0] != "+"


def decode_php_array(value: str) -> dict[str, Any]:
    """Decode WHMCS's base64(serialize(array)) form (custom fields, config options).

    JSON objects are accepted too, since newer clients send them. Keys come back as str.
    """
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    text = str(value).strip()
    if not text:
        return {}
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = text.encode()
    try:
        data = phpserialize.loads(raw, decode_strings=True)
    except (ValueError, TypeError, IndexError, KeyError):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValidationError("Invalid serialized array") from exc
    if isinstance(data, list):
        data = dict(enumerate(data))
    if not isinstance(data, dict):
        raise ValidationError("Invalid serialized array")
    return {str(k): _plain(v) for k, v in data.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def encode_php_array(data: Mapping[Any, Any]) -> str:
    """Encode a mapping as WHMCS does for custom fields: base64(serialize(array))."""
    return base64.b64encode(phpserialize.dumps(dict(data))).decode()


def parse_int(value: Any, error: str) -> int:
    """An integer in plain notation (``ValidationError(error)`` otherwise), saturated to
    the range of an INTEGER column as PHP's ``(int)`` saturates: an id past it matches
    nothing ("... Not Found") and an offset past it is an empty page, where PostgreSQL
    would otherwise fail the query and SQLite overflow."""
    if isinstance(value, bool | dict | list):
        raise ValidationError(error)
    text = str(value).strip() if not isinstance(value, int) else str(value)
    if len(text) > MAX_INT_DIGITS + 1 or not _INTEGER.fullmatch(text):
        raise ValidationError(error)
    return max(INT_MIN, min(INT_MAX, int(text)))


def parse_amount(value: Any, error: str, places: int | None = STORED_PLACES) -> Decimal:
    """An amount in plain decimal notation with at most *places* decimals (the currency's
    where it is known), below :data:`MAX_AMOUNT`; ``ValidationError(error)`` otherwise.

    The one money rule of the API: every amount parameter is read through it.
    """
    if isinstance(value, Decimal) and value.is_finite():
        text = format(value, "f")
    elif isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip().replace(",", "")
    else:
        raise ValidationError(error)
    if len(text) > 64 or not _AMOUNT.fullmatch(text):
        raise ValidationError(error)
    amount = Decimal(text)
    if abs(amount) >= MAX_AMOUNT:
        raise ValidationError(error)
    if places is not None and "." in text and len(text.split(".", 1)[1].rstrip("0")) > places:
        raise ValidationError(error)
    return amount


def check_line(key: str, text: str, limit: int | None = None) -> str:
    """*text* as a single-line field: no control characters, at most *limit* characters."""
    if _CONTROL.search(text):
        raise ValidationError(f"The {key} may not contain control characters or line breaks")
    return check_length(key, text, limit)


def check_length(key: str, text: str, limit: int | None) -> str:
    """*text* unless it is longer than *limit* (the services' wording for a column's limit)."""
    if limit is not None and len(text) > limit:
        raise ValidationError(f"The {key} may be at most {limit} characters long")
    return text


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in TRUE_WORDS


class Params(Mapping[str, Any]):
    """The request's parameters with typed readers that raise WHMCS-style errors."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def has(self, key: str) -> bool:
        """True when *key* was sent (even empty): WHMCS's ``isset`` for update actions."""
        return key in self._data

    def str(self, key: str, default: str = "") -> str:
        """A text parameter, trimmed. Names, subjects and addresses (:data:`LINE_FIELDS`)
        refuse control characters and overlong values; free text (:data:`TEXT_FIELDS`) is
        held to :data:`MAX_TEXT`."""
        value = self._data.get(key)
        if value is None or isinstance(value, dict | list):
            return default
        text = str(value).strip()
        if key in LINE_FIELDS:
            return check_line(key, text, LINE_LIMITS.get(key))
        return check_length(key, text, MAX_TEXT if key in TEXT_FIELDS else None)

    def int(self, key: str, default: int = 0, *, error: str | None = None) -> int:
        """An integer (an id, a count, an offset); see :func:`parse_int`."""
        value = self._data.get(key)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return default
        return parse_int(value, error or f"Invalid {key}")

    def bool(self, key: str, default: bool = False) -> bool:
        if key not in self._data:
            return default
        return as_bool(self._data[key])

    def opt_bool(self, key: str) -> bool | None:
        return as_bool(self._data[key]) if key in self._data else None

    def decimal(self, key: str, default: Decimal | None = None, *, error: str | None = None,
                places: int | None = STORED_PLACES):  # type: ignore[no-untyped-def]
        """An amount (or a rate, a quantity); see :func:`parse_amount`."""
        value = self._data.get(key)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return default
        return parse_amount(value, error or f"Invalid {key}", places)

    def date(self, key: str, default: date | None = None, *, error: str | None = None):  # type: ignore[no-untyped-def]
        """Read a date sent as ``YYYY-MM-DD`` (or ``YYYYMMDD``, or with a time part)."""
        text = self.str(key)
        if not text or text.startswith("0000-00-00"):
            return default
        return parse_date(text, error or f"Invalid {key} date")

    def list(self, key: str) -> list[Any]:
        """Read an array parameter however it was spelled; a scalar is a list of one."""
        value = self._data.get(key)
        if value is None:
            return []
        if isinstance(value, dict):
            items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
            return [v for _, v in items]
        if isinstance(value, list):
            return value
        return [value]

    def dict(self, key: str) -> dict[str, Any]:
        value = self._data.get(key)
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            return {str(i): v for i, v in enumerate(value)}
        return {}

    def php_array(self, key: str) -> dict[str, Any]:
        """Read a base64 PHP-serialised array (or an already nested one)."""
        value = self._data.get(key)
        if value is None or value == "":
            return {}
        if isinstance(value, dict):
            return value
        return decode_php_array(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    text = str(key)
    return (0, int(text)) if _is_index(text) else (1, text)


# --- dates: the one place the API layer reads a date or a date-time ----------------------------

#: What a date parameter may look like: ISO first, then WHMCS's default localised form
#: (DD/MM/YYYY), which a few actions (GetActivityLog ``date``, AddTransaction ``date``) document.
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y")
#: Only ``YYYY-MM-DD``, for the actions whose reference insists on it (AddCredit, AddBillableItem).
ISO_DATE = ("%Y-%m-%d",)
#: A payment or transaction moment with its time of day.
MOMENT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S")
#: A payment or transaction moment given as a bare day.
DAY_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y")


def _first_match(text: str, formats: Iterable[str]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_date(text: str, error: str, formats: Iterable[str] = DATE_FORMATS) -> date:
    """The day *text* names in one of *formats*; ``ValidationError(error)`` otherwise."""
    found = _first_match(text.strip(), formats)
    if found is None:
        raise ValidationError(error)
    return found.date()


def parse_utc_datetime(text: str, error: str) -> datetime:
    """A date (see :data:`DATE_FORMATS`) with an optional ``HH:MM:SS`` at [11:19], in UTC.

    A bare date is midnight UTC (GetModuleQueue's ``since``).
    """
    day = parse_date(text, error)
    clock = time.fromisoformat(text[11:19]) if len(text) >= 19 else time(0, 0)
    return datetime.combine(day, clock, UTC)


def parse_moment(text: str, error: str, zone: tzinfo) -> datetime | None:
    """A WHMCS date or date-time in *zone* (the billing time zone), as an aware datetime.

    Empty or ``0000-00-00`` is ``None``. A bare date keeps the current time of day in
    *zone*, as WHMCS does for payments.
    """
    text = (text or "").strip()
    if not text or text.startswith("0000-00-00"):
        return None
    moment = _first_match(text, MOMENT_FORMATS)
    if moment is not None:
        return moment.replace(tzinfo=zone)
    day = _first_match(text, DAY_FORMATS)
    if day is None:
        raise ValidationError(error)
    clock = now().astimezone(zone).time().replace(microsecond=0)
    return datetime.combine(day.date(), clock, zone)
