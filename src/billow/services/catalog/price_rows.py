"""Price rows: one per priced thing (product, addon, option choice) and currency, with a
value per billing cycle (WHMCS ``tblpricing``). Arithmetic on them lives in
:mod:`billow.services.catalog.pricing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    Currency,
    Price,
)
from billow.errors import ValidationError
from billow.money import to_decimal
from billow.services.catalog.cycles import PRICE_KEYS, SETUP_KEYS
from billow.uow import UnitOfWork


def set_price(uow: UnitOfWork, kind: str, relid: int, currency_id: int, values: Mapping[str, Any]) -> Price:
    """Set the prices of (*kind*, *relid*) in one currency; unknown keys are refused."""
    if uow.session.get(Currency, currency_id) is None:
        raise ValidationError("Invalid currency ID", code="currency_not_found")
    row = uow.session.scalar(
        select(Price).where(Price.type == kind, Price.relid == relid, Price.currency_id == currency_id)
    )
    if row is None:
        row = Price(type=kind, relid=relid, currency_id=currency_id)
        uow.session.add(row)
    for key, value in values.items():
        if key not in PRICE_KEYS and key not in SETUP_KEYS:
            raise ValidationError(f"Invalid pricing key {key}", code="invalid_pricing_key")
        try:
            setattr(row, key, to_decimal(str(value)))
        except ValueError:
            raise ValidationError(f"Invalid price for {key}", code="invalid_price") from None
    uow.session.flush()
    return row


def prices_of(uow: UnitOfWork, kind: str, relids: list[int]) -> dict[tuple[int, int], Price]:
    """All price rows of *kind* for *relids*, keyed by (relid, currency_id)."""
    if not relids:
        return {}
    rows = uow.session.scalars(select(Price).where(Price.type == kind, Price.relid.in_(relids)))
    return {(r.relid, r.currency_id): r for r in rows}
