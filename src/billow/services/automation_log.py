"""Reading the automation log: what each task did, by billing date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from billow.db.models import AutomationRun, AutomationTaskLog
from billow.uow import UnitOfWork

#: Failure reasons returned per task and day.
FAILURES_SHOWN = 50


@dataclass
class TaskDayStats:
    """One task's work on one billing date, summed over the runs of that date."""

    task: str
    runs: int = 0
    processed: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""
    message: str = ""
    first_started: datetime | None = None
    last_finished: datetime | None = None


def automation_log(
    uow: UnitOfWork, start: date, end: date, namespace: str = ""
) -> dict[date, dict[str, TaskDayStats]]:
    """Sum the task logs of billing dates *start*..*end* by date and task (oldest first).

    *namespace* (any case) keeps one task. ``status`` is the latest execution's status.
    """
    query = select(AutomationTaskLog).where(AutomationTaskLog.run_date >= start,
                                            AutomationTaskLog.run_date <= end)
    if namespace:
        query = query.where(func.lower(AutomationTaskLog.task) == namespace.lower())
    out: dict[date, dict[str, TaskDayStats]] = {}
    for row in uow.session.scalars(query.order_by(AutomationTaskLog.run_date, AutomationTaskLog.id)):
        stats = out.setdefault(row.run_date, {}).setdefault(row.task, TaskDayStats(row.task))
        stats.runs += 1
        stats.processed += row.processed or 0
        stats.failed += row.failed or 0
        for key, n in (row.counts or {}).items():
            stats.counts[key] = stats.counts.get(key, 0) + int(n)
        room = FAILURES_SHOWN - len(stats.failures)
        if room > 0:
            stats.failures.extend((row.failures or [])[:room])
        stats.status, stats.message = row.status, row.message
        stats.first_started = stats.first_started or row.started_at
        if row.finished_at is not None:
            stats.last_finished = row.finished_at
    return out


def last_daily_run(uow: UnitOfWork) -> datetime | None:
    """When the daily tasks last ran (WHMCS's ``lastDailyCronInvocationTime``)."""
    return uow.session.scalar(select(func.max(AutomationRun.started_at)).where(AutomationRun.daily.is_(True)))
