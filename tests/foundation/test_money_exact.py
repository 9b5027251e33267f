"""Money stays exact on the current backend: stored, read back and summed in SQL."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from billow.db.types import Money


def _amounts(count: int, seed: int = 20261126) -> list[Decimal]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        places = rng.choice((2, 3, 4))
        units = rng.randint(-10**9, 10**11)          # up to 10,000,000 with 4 places
        out.append(Decimal(units).scaleb(-places))   # exactly `places` decimals
    return out


def test_ten_thousand_amounts_sum_exactly(uow: Any, db: Any) -> None:
    from billow.db.models import Client
    from billow.services.clients.accounts import default_currency

    currency_id = default_currency(uow).id
    uow.commit()
    amounts = _amounts(10_000)
    rows = [{"email": f"m{i}@example.com", "currency_id": currency_id, "credit": amount}
            for i, amount in enumerate(amounts)]
    with db() as session:
        session.execute(insert(Client), rows)
        session.commit()
        in_sql = session.scalar(select(func.sum(Client.credit)))
        read_back = session.scalars(select(Client.credit).order_by(Client.id)).all()
        biggest = session.scalar(select(func.max(Client.credit)))
    exact = sum(amounts, Decimal(0))
    assert read_back == amounts
    assert sum(read_back, Decimal(0)) == exact
    assert in_sql == exact, f"SQL SUM drifted: {in_sql} != {exact}"
    assert biggest == max(amounts)
    # Floats (what SQLite's REAL would hold) lose cents on this very data: the test bites.
    assert Decimal(sum(float(a) for a in amounts)).quantize(Decimal("0.0001")) != exact


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.decimals(min_value=Decimal("-99999999999.9999"), max_value=Decimal("99999999999.9999"),
                   places=4, allow_nan=False, allow_infinity=False))
def test_any_four_place_amount_round_trips(db: Any, amount: Decimal) -> None:
    from billow.db.engine import get_engine

    money = Money(4)
    dialect = get_engine().dialect
    stored = money.process_bind_param(amount, dialect)
    assert money.process_result_value(stored, dialect) == amount


def test_money_refuses_what_it_cannot_hold_exactly(db: Any) -> None:
    from billow.db.engine import get_engine

    money, dialect = Money(2), get_engine().dialect
    with pytest.raises(ValueError, match="more than 2 decimals"):
        money.process_bind_param(Decimal("1.005"), dialect)
    with pytest.raises(TypeError, match="floats are not money"):
        money.process_bind_param(0.1, dialect)
    assert money.process_result_value(money.process_bind_param("19.90", dialect), dialect) == Decimal("19.90")
