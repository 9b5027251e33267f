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

from sqlalchemy import select

from billow.db.models import Currency, Price
from billow.money import quantize
from billow.services.exchange_rates import default_currency, other_currencies
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

    Returns how many rows were created or changed (0 when all were already right).
    """
    targets = _targets(uow)
    if not targets or not price_ids:
        return 0
    base_rows = list(uow.session.scalars(select(Price).where(Price.id.in_(list(price_ids)))))
    relids = sorted({row.relid for row in base_rows})
    existing = {
        (row.type, row.relid, row.currency_id): row
        for row in uow.session.scalars(select(Price).where(
            Price.relid.in_(relids), Price.type.in_(tuple(CONVERTED_KINDS)),
            Price.currency_id.in_([c.id for c in targets])))
    }
    changed = 0
    for base in base_rows:
        negatives = CONVERTED_KINDS.get(base.type)
        if negatives is None:
            continue
        for currency in targets:
            row = existing.get((base.type, base.relid, currency.id))
            if row is None:
                row = Price(type=base.type, relid=base.relid, currency_id=currency.id)
                uow.session.add(row)
                existing[(base.type, base.relid, currency.id)] = row
                dirty = True
            else:
                dirty = False
            for column in AMOUNT_COLUMNS:
                value = convert_amount(getattr(base, column), currency.rate, currency.decimals,
                                       negatives=negatives)
                if getattr(row, column) != value:
                    setattr(row, column, value)
                    dirty = True
            changed += dirty
    return changed
