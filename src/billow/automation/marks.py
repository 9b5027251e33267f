"""Idempotency keys for work that leaves no trace on the item (reminder e-mails)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import insert, select

from billow.db.models import AutomationMark
from billow.db.queries import in_chunks
from billow.uow import UnitOfWork


def claim_keys(uow: UnitOfWork, task: str, keys: Sequence[str], run_date: date) -> set[str]:
    """Insert the keys of *task* not claimed yet and return them.

    Runs in the caller's transaction. The unique (task, key) constraint is the backstop:
    a concurrent claimer (which the run lock already excludes) would fail on commit.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    taken: set[str] = set()
    for chunk in in_chunks(wanted):
        taken.update(uow.session.scalars(
            select(AutomationMark.key).where(AutomationMark.task == task, AutomationMark.key.in_(chunk))
        ))
    fresh = [k for k in wanted if k not in taken]
    if fresh:
        uow.session.execute(
            insert(AutomationMark),
            [{"task": task, "key": k, "run_date": run_date, "created_at": uow.now} for k in fresh],
        )
    return set(fresh)


def is_claimed(uow: UnitOfWork, task: str, key: str) -> bool:
    """Whether *task* has done the work keyed *key* (read-only check)."""
    return uow.session.scalar(
        select(AutomationMark.id).where(AutomationMark.task == task, AutomationMark.key == key)
    ) is not None
