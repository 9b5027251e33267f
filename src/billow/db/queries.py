"""Query shapes several areas share: counting a filtered list, leasing due work rows, IN lists.

One place each, so a list's total and a worker's lease behave the same in every area.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Values per ``IN (...)`` list: each is a bound parameter, and SQLite caps a statement's
#: parameters (32,766 on current builds, 999 on old ones).
IN_LIST_SIZE = 900


def in_chunks(values: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """*values* in lists of at most *size* (:data:`IN_LIST_SIZE`), for ``column.in_(chunk)``."""
    size = size or IN_LIST_SIZE
    pending = list(values)
    for start in range(0, len(pending), size):
        yield pending[start:start + size]


def count_of(session: Session, query: Select[Any]) -> int:
    """How many rows *query* returns (before paging): the ``totalresults`` of WHMCS lists."""
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def claim_leased(
    session: Session, model: Any, pending: ColumnElement[bool], *, now: datetime, lease_seconds: float,
    limit: int,
) -> list[int]:
    """Lease up to *limit* rows of *model* that are *pending*, due and not leased by a live worker.

    The rows need ``next_attempt_at`` and ``leased_until``. On PostgreSQL the rows are
    locked with SKIP LOCKED, so concurrent workers take different rows; a worker that dies
    loses its lease after *lease_seconds* and the rows are claimed again.
    """
    query = (
        select(model)
        .where(pending, model.next_attempt_at <= now,
               or_(model.leased_until.is_(None), model.leased_until < now))
        .order_by(model.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    lease = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.leased_until = lease
    return [r.id for r in rows]
