"""Prices in the other currencies, recomputed from the default currency's prices and rates.

WHMCS's "Auto Update Product Prices" (and the currency page's "Update Pricing"): every
price row of the default currency is copied into each other currency at
``amount × rate``, rounded to that currency's decimals, creating the row when the
currency had none. Amounts that are markers rather than prices stay as they are: ``0``
(free) and ``-1`` (cycle not offered) for products and addons. Configurable options keep
WHMCS's rule that any amount, negative included, is a price and is converted.

The rule is a pure function of the default prices and the stored rates, so running it
twice changes nothing the second time, and a run stopped half-way is completed by the
next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from billow.db.models import Currency, Price
from billow.money import quantize
from billow.services.catalog.exchange_rates import default_currency, other_currencies
from billow.uow import UnitOfWork

__all__ = ["AMOUNT_COLUMNS", "CONVERTED_KINDS", "base_price_ids", "convert_amount", "convert_prices"]

#: Price kinds (``pricing.type``) converted, each with whether a negative amount is a price.
#: An area that adds per-currency prices (domains ...) adds its kind here.
CONVERTED_KINDS: dict[str, bool] = {"product": False, "addon": False, "configoptions": True}

#: The amount columns of a price row: six setup fees and six cycle prices.
AMOUNT_COLUMNS: tuple[str, ...] = (
    "msetupfee", "qsetupfee", "ssetupfee", "asetupfee", "bsetupfee", "tsetupfee",
    "monthly", "quarterly", "semiannually", "annually", "biennially", "triennially",
)


def convert_amount(amount: Decimal, rate: Decimal, places: int, *, negatives: bool) -> Decimal:
    """*amount* of the default currency in a currency worth *rate* per default unit."""
    if amount <= 0 and not negatives:
        return amount
    return quantize(amount * rate, places)


def base_price_ids(uow: UnitOfWork, *, after: int, limit: int) -> list[int]:
    """Ids of the default currency's convertible price rows above *after* (a keyset page)."""
    base = default_currency(uow)
    return list(uow.session.scalars(
        select(Price.id).where(Price.currency_id == base.id, Price.type.in_(tuple(CONVERTED_KINDS)),
                               Price.id > after)
        .order_by(Price.id).limit(limit)))


def _targets(uow: UnitOfWork) -> list[Currency]:
    return [c for c in other_currencies(uow) if c.rate is not None and c.rate > 0]


def convert_prices(uow: UnitOfWork, price_ids: Sequence[int]) -> int:
    """Recompute the other currencies' rows for the default rows *price_ids*; never commits.

    Returns how many rows were created or changed (0 when all were already right). Works
    on plain rows and writes with two executemany statements (a catalogue can hold tens
    of thousands of price rows; the ORM's per-object bookkeeping would dominate).
    """
    targets = _targets(uow)
    if not targets or not price_ids:
        return 0
    columns = [getattr(Price, name) for name in AMOUNT_COLUMNS]
    kinds = tuple(CONVERTED_KINDS)
    base_rows = uow.session.execute(
        select(Price.type, Price.relid, *columns).where(Price.id.in_(list(price_ids)), Price.type.in_(kinds))
    ).all()
    existing = {
        (row[1], row[2], row[3]): (row[0], tuple(row[4:]))
        for row in uow.session.execute(
            select(Price.id, Price.type, Price.relid, Price.currency_id, *columns).where(
                Price.relid.in_(sorted({row[1] for row in base_rows})), Price.type.in_(kinds),
                Price.currency_id.in_([c.id for c in targets])))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for kind, relid, *amounts in base_rows:
        negatives = CONVERTED_KINDS[kind]
        for currency in targets:
            values = tuple(convert_amount(amount, currency.rate, currency.decimals, negatives=negatives)
                           for amount in amounts)
            found = existing.get((kind, relid, currency.id))
            if found is None:
                inserts.append({"type": kind, "relid": relid, "currency_id": currency.id,
                                **dict(zip(AMOUNT_COLUMNS, values, strict=True))})
            elif found[1] != values:
                updates.append({"id": found[0], **dict(zip(AMOUNT_COLUMNS, values, strict=True))})
    if inserts:
        uow.session.execute(insert(Price), inserts)
    if updates:
        uow.session.execute(update(Price), updates)
    return len(inserts) + len(updates)
