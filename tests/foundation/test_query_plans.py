"""The hot lookups use their indexes (a full scan here made AddClient 12 ms at 100k clients)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from billow.db.models import Client, User


def _plan(db: Any, statement: Any) -> str:
    with db() as session:
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(str(row[-1]) for row in rows)


@pytest.fixture
def sqlite_db(db: Any) -> Any:
    if db.kw["bind"].dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    return db


def test_email_lookups_use_the_lower_email_indexes(sqlite_db: Any) -> None:
    client = select(Client.id).where(func.lower(Client.email) == "a@example.com").limit(1)
    user = select(User.id).where(func.lower(User.email) == "a@example.com").limit(1)
    assert "ix_clients_email_lower" in _plan(sqlite_db, client)
    assert "ix_users_email_lower" in _plan(sqlite_db, user)


def test_client_count_and_pages_walk_the_narrow_index(sqlite_db: Any) -> None:
    count = select(func.count()).select_from(Client)
    page = select(Client.id).order_by(Client.id).offset(50).limit(25)
    assert "COVERING INDEX ix_clients_id" in _plan(sqlite_db, count)
    assert "COVERING INDEX ix_clients_id" in _plan(sqlite_db, page)
