"""Primary keys handed out ahead of a batched insert.

Set-based writers (the daily invoice run) insert thousands of parent rows and then their
children in one ``executemany`` each; the children need the parents' ids. SQLAlchemy can
return them with ``INSERT ... RETURNING`` in parameter order only one row per statement
on SQLite, which costs most of what batching saves, so the ids are taken first:

* PostgreSQL: ``nextval`` of the table's sequence, *n* times in one query. Concurrent
  writers get other numbers from the same sequence, so nothing collides.
* SQLite: the next numbers after the larger of ``max(id)`` and the AUTOINCREMENT counter
  (so ids of deleted rows are not reused where the table promises that). The caller's
  transaction holds SQLite's write lock from its first statement (``BEGIN IMMEDIATE``),
  so no other writer can take the same numbers before the insert; inserting an explicit
  id also moves SQLite's counter past it.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session


def reserve_ids(session: Session, model: type, n: int) -> list[int]:
    """Return *n* unused primary-key values of *model*'s table, for this transaction."""
    if n <= 0:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return list(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": n},
        ))
    highest = session.scalar(select(func.max(table.c.id))) or 0
    if table.kwargs.get("sqlite_autoincrement"):
        counter = session.scalar(
            text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table.name}
        )
        highest = max(highest, counter or 0)
    return list(range(highest + 1, highest + 1 + n))
