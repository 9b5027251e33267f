"""Column types that keep money exact on every supported database.

SQLite has no decimal type: SQLAlchemy's ``Numeric`` is stored there as a float and can
lose cents. :class:`Money` therefore stores amounts as integers of 1/10,000 on SQLite
(exact, sortable, and ``SUM`` stays exact) and as ``NUMERIC(20, 4)`` on PostgreSQL.
Python always sees ``Decimal``.

Do money arithmetic in Python, not in SQL: on SQLite a literal combined with a ``Money``
column in SQL is scaled as if it were money (``col * 2`` would be wrong). Aggregates
(``SUM``, ``MIN``, ``MAX``) and comparisons with amounts are safe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from billow.money import to_decimal


class Money(TypeDecorator[Decimal]):
    """An exact amount with ``scale`` decimals (4 by default: money and unit prices)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self._factor = Decimal(10) ** scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_decimal(value)
        scaled = amount * self._factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {self.scale} decimals")
        if dialect.name == "sqlite":
            return int(scaled)
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(Decimal(1).scaleb(-self.scale))
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))

    def __repr__(self) -> str:
        # Migrations render columns with repr(): keep the scale in them.
        return f"Money({self.scale})"

    @property
    def python_type(self) -> type:
        return Decimal


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every database (SQLite forgets the zone otherwise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)
