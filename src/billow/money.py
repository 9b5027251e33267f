"""Exact money: Decimal only, quantised per currency in one place.

Every rule that produces an amount (pricing, proration, tax, late fees) ends by calling
:func:`quantize` with the currency's number of decimals, so no stored or shown amount
ever has more places than its currency.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0")
CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """Convert wire or database input to Decimal, refusing floats (they are not exact)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not money; pass a string or Decimal")
    if isinstance(value, int):
        return Decimal(value)
    if value is None or value == "":
        return ZERO
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def quantize(amount: Decimal, places: int = 2) -> Decimal:
    """Round *amount* half-up to *places* decimals (the currency's), as invoices show it."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt(amount: Decimal | None, places: int = 2) -> str:
    """Render an amount as WHMCS does on the wire: a plain string with fixed decimals."""
    return f"{quantize(amount or ZERO, places):.{places}f}"
