"""Billing test helpers: clients, currencies, settings and tax rules arranged through services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billow.db.models import Currency, TaxRule
from billow.services.clients.accounts import ClientInput, add_client
from billow.services.settings import set_setting

_counter = {"n": 0}


def make_client(uow: Any, **values: Any) -> Any:
    """A client with the defaults a test does not care about (skip validation)."""
    _counter["n"] += 1
    data = {
        "firstname": "Test", "lastname": f"Client{_counter['n']}",
        "email": f"client{_counter['n']}@example.com", "country": "US",
    }
    data.update(values)
    client = add_client(uow, ClientInput(values=data), skip_validation=True)
    uow.session.flush()
    return client


def make_currency(uow: Any, code: str, *, decimals: int = 2, rate: str = "1", prefix: str = "",
                  suffix: str = "", fmt: int = 1, default: bool = False) -> Currency:
    currency = Currency(code=code, prefix=prefix, suffix=suffix, format=fmt, rate=Decimal(rate),
                        is_default=default, decimals=decimals)
    uow.session.add(currency)
    uow.session.flush()
    return currency


def settings(uow: Any, **values: str) -> None:
    for key, value in values.items():
        set_setting(uow, key, value)
    uow.session.flush()


def tax_rule(uow: Any, rate: str, *, level: int = 1, country: str = "", state: str = "",
             name: str = "VAT") -> TaxRule:
    rule = TaxRule(level=level, name=name, country=country, state=state, taxrate=Decimal(rate))
    uow.session.add(rule)
    uow.session.flush()
    return rule


def peek(db: Any, read: Any) -> Any:
    """Run *read(uow)* in a short unit of work and close it.

    On SQLite every transaction holds the write lock (``BEGIN IMMEDIATE``), so a test must
    not keep a session open while it calls the API: read through this instead.
    """
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as work:
        return read(work)


def email_templates(db: Any) -> list[str]:
    from sqlalchemy import select

    from billow.db.models import OutboxEvent

    return peek(db, lambda u: [e.payload["template"] for e in u.session.scalars(
        select(OutboxEvent).where(OutboxEvent.name == "EmailRequested").order_by(OutboxEvent.id))])
