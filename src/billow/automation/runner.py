"""One automation run: take the lock, run what is due, record everything, give the lock back.

``billow cron`` calls :func:`run_cron` every few minutes. A run

1. takes the run lock (:mod:`billow.automation.lock`); if another run holds it, it does
   nothing and says who holds it;
2. marks runs left "running" by a killed process as interrupted;
3. fires ``PreCronJob`` (a hook may abort the run);
4. runs every *frequent* task, and every *daily* task not yet completed for the billing
   date, once the hour reaches ``DailyCronExecutionHour`` (``--date`` and ``--only``
   run at any hour); each task is wrapped in ``PreAutomationTask`` /
   ``PostAutomationTask`` and gets a row in the automation log;
5. fires ``DailyCronJob`` when it completed the day's tasks and ``AfterCronJob`` at the
   end.

A task that fails outright is logged as failed and the run moves on; its day stays
open, so the next run tries it again. Items that fail inside a task are recorded with
their reasons and picked up again by the next run of that task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from billow import clock
from billow.automation.base import LockLost, RunContext, Task
from billow.automation.lock import DEFAULT_TTL, RunLock
from billow.automation.progress import Progress, SilentProgress
from billow.automation.tasks import load_tasks
from billow.bootstrap import wire
from billow.config import get_settings
from billow.db.engine import session_factory
from billow.db.models import AutomationRun, AutomationTaskDay, AutomationTaskLog
from billow.errors import ValidationError
from billow.events import HookAbort
from billow.services.settings import setting_int
from billow.uow import Actor, UnitOfWork

log = logging.getLogger("billow.automation")


@dataclass
class TaskResult:
    name: str
    status: str  # completed | failed | skipped
    processed: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    log_id: int = 0


@dataclass
class CronReport:
    """What a run did (``ran`` False: another run held the lock, or a hook aborted it)."""

    ran: bool
    run_date: date
    run_id: int = 0
    daily: bool = False
    tasks: list[TaskResult] = field(default_factory=list)
    message: str = ""

    def result(self, name: str) -> TaskResult | None:
        return next((t for t in self.tasks if t.name.lower() == name.lower()), None)


def find_task(tasks: Sequence[Task], name: str) -> Task:
    """The task called *name* (any case), or a clear error listing the names."""
    for task in tasks:
        if task.name.lower() == name.lower():
            return task
    names = ", ".join(t.name for t in tasks)
    raise ValidationError(f"Unknown automation task {name!r}; tasks are: {names}")


def run_cron(
    factory: sessionmaker[Session] | None = None,
    *,
    as_of: date | None = None,
    only: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    tasks: Sequence[Task] | None = None,
    lock_ttl: timedelta = DEFAULT_TTL,
    before_batch: Callable[[Task, Sequence[int]], None] | None = None,
) -> CronReport:
    """Perform one automation run; see the module docstring.

    *as_of* runs as of another billing date (catch-up, tests): the clock is pinned to
    that day for the run and the daily tasks run whatever the hour. *only* runs one task
    (at any hour). *force* re-runs daily tasks already completed for the date (their
    items stay idempotent, so only work still missing is done).
    """
    wire()

    factory = factory or session_factory()
    progress = progress or SilentProgress()
    all_tasks = list(tasks) if tasks is not None else load_tasks()
    selected = [find_task(all_tasks, only)] if only else all_tasks
    lock = RunLock(factory, ttl=lock_ttl)
    try:
        acquired = lock.acquire()
    except OperationalError as exc:
        # SQLite: another run kept the database busy past the busy timeout. That run holds
        # the lock (only a holder writes back to back), so this one has nothing to do.
        progress.note("the database stayed busy; another automation run is in progress", error=str(exc.orig))
        progress.close()
        return CronReport(ran=False, run_date=as_of or clock.today(),
                          message="another automation run is in progress (database busy)")
    if not acquired:
        holder = lock.holder()
        who = holder.owner if holder else "another run"
        progress.note("another automation run holds the lock; nothing to do", holder=who)
        progress.close()
        return CronReport(ran=False, run_date=as_of or clock.today(),
                          message=f"another automation run is in progress ({who})")
    try:
        with _pinned(as_of):
            return _run_locked(factory, lock, selected, as_of=as_of, explicit=bool(as_of or only),
                               force=force, progress=progress, before_batch=before_batch)
    finally:
        lock.release()
        progress.close()


@contextmanager
def _pinned(as_of: date | None) -> Iterator[None]:
    if as_of is None:
        yield
        return
    zone = ZoneInfo(get_settings().timezone)
    local = clock.now().astimezone(zone)
    with clock.frozen(datetime.combine(as_of, local.timetz().replace(tzinfo=None), zone)):
        yield


def _uow(factory: sessionmaker[Session]) -> UnitOfWork:
    return UnitOfWork(factory, Actor(kind="system", admin_username="System"))


def _run_locked(factory: sessionmaker[Session], lock: RunLock, tasks: Sequence[Task], *,
                as_of: date | None, explicit: bool, force: bool, progress: Progress,
                before_batch: Callable[[Task, Sequence[int]], None] | None) -> CronReport:
    today = as_of or clock.today()
    with _uow(factory) as uow:
        _close_interrupted(uow.session)
        run = AutomationRun(run_date=today, owner=lock.owner, started_at=clock.now(), status="running")
        uow.session.add(run)
        try:
            uow.emit("PreCronJob", {}, outbox=False)
        except HookAbort as exc:
            run.status, run.finished_at = "completed", clock.now()
            uow.commit()
            progress.note("PreCronJob hook aborted the run", reason=exc.message)
            return CronReport(ran=False, run_date=today, run_id=run.id, message=exc.message)
        hour = setting_int(uow, "DailyCronExecutionHour", 9)
        done = set(uow.session.scalars(
            select(AutomationTaskDay.task).where(AutomationTaskDay.run_date == today)))
        uow.commit()
    local_hour = clock.now().astimezone(ZoneInfo(get_settings().timezone)).hour
    daily_due = explicit or local_hour >= hour
    report = CronReport(ran=True, run_date=today, run_id=run.id)
    daily_ran = False
    for task in tasks:
        if task.daily and (not daily_due or (task.name in done and not force)):
            continue
        result = _run_task(factory, lock, task, run.id, today, progress, before_batch)
        report.tasks.append(result)
        daily_ran = daily_ran or (task.daily and result.status != "failed")
    with _uow(factory) as uow:
        if daily_ran:
            uow.emit("DailyCronJob", {})
        uow.emit("AfterCronJob", {}, outbox=False)
        row = uow.session.get(AutomationRun, run.id)
        if row is not None:
            row.daily = daily_ran
            row.finished_at = clock.now()
            row.status = "failed" if any(t.status == "failed" for t in report.tasks) else "completed"
        if not lock.renew(uow.session):
            raise LockLost("the automation lock was taken over by another run")
        uow.commit()
    report.daily = daily_ran
    if not report.tasks:
        progress.note("nothing due", run_date=today.isoformat(), daily_hour=hour)
    return report


def _close_interrupted(session: Session) -> None:
    """Runs and task logs still "running" belong to a dead run (we hold the lock now)."""
    session.execute(update(AutomationRun).where(AutomationRun.status == "running")
                    .values(status="interrupted"))
    session.execute(update(AutomationTaskLog).where(AutomationTaskLog.status == "running")
                    .values(status="interrupted", message="the run was stopped before the task finished"))


def _run_task(factory: sessionmaker[Session], lock: RunLock, task: Task, run_id: int, today: date,
              progress: Progress, before_batch: Any) -> TaskResult:
    started = time.monotonic()
    ctx = RunContext(factory=factory, today=today, now=clock.now(), lock=lock, progress=progress,
                     run_id=run_id, task_name=task.name, before_batch=before_batch)
    with _uow(factory) as uow:
        entry = AutomationTaskLog(run_id=run_id, task=task.name, run_date=today, started_at=clock.now(),
                                  status="running", counts={}, failures=[])
        uow.session.add(entry)
        skip_reason = ""
        if not task.enabled(ctx, uow):
            skip_reason = f"disabled by setting {task.setting}" if task.setting else "disabled"
        else:
            try:
                uow.emit("PreAutomationTask", {"task": task.name}, outbox=False)
            except HookAbort as exc:
                skip_reason = f"PreAutomationTask hook: {exc.message}"
        if skip_reason:
            if not task.daily:
                return TaskResult(task.name, "skipped", message=skip_reason)
            entry.status, entry.message, entry.finished_at = "skipped", skip_reason, clock.now()
            uow.session.flush()
            _mark_day(uow.session, task, today, entry.id)
            uow.commit()
            result = TaskResult(task.name, "skipped", message=skip_reason, log_id=entry.id)
            progress.finish(result)
            return result
        total = task.total(ctx, uow)
        uow.commit()
    ctx.log_id = entry.id
    progress.start(task.name, task.title or task.name, total)
    status, message = "completed", ""
    try:
        task.run(ctx)
    except LockLost:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken task must not stop the others
        log.exception("automation task %s failed", task.name)
        status, message = "failed", getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    with _uow(factory) as uow:
        row = uow.session.get(AutomationTaskLog, entry.id)
        assert row is not None
        row.status, row.message, row.finished_at = status, message, clock.now()
        if status == "completed":
            _mark_day(uow.session, task, today, entry.id)
        if not lock.renew(uow.session):
            raise LockLost("the automation lock was taken over by another run")
        uow.commit()
        failures = list(row.failures or [])
    try:
        with _uow(factory) as uow:
            uow.emit("PostAutomationTask", {"task": task.name, "completed": status == "completed"},
                     outbox=False)
            uow.commit()
    except HookAbort:
        log.warning("PostAutomationTask hook tried to abort %s after it ran", task.name)
    result = TaskResult(task.name, status, ctx.processed, ctx.failed, dict(ctx.counts), failures,
                        message, time.monotonic() - started, entry.id)
    progress.finish(result)
    return result


def _mark_day(session: Session, task: Task, today: date, log_id: int) -> None:
    if not task.daily:
        return
    row = session.get(AutomationTaskDay, (task.name, today))
    if row is None:
        session.add(AutomationTaskDay(task=task.name, run_date=today, completed_at=clock.now(),
                                      log_id=log_id))
    else:
        row.completed_at, row.log_id = clock.now(), log_id
