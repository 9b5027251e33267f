"""The automation task: one small class per job of the daily run.

Adding a task
=============

A task is a subclass of :class:`Task` that says *what is still to do* and *how to do one
thing*; the runner does the rest (batches, transactions, resume after a crash, the
lock, the automation log, progress, hooks). A complete task::

    from datetime import timedelta

    from sqlalchemy import select

    from billow.automation.base import RunContext, Task
    from billow.db.models import Ticket
    from billow.services.support.changes import close_ticket
    from billow.uow import UnitOfWork


    class CloseInactiveTickets(Task):
        name = "CloseInactiveTickets"        # WHMCS task namespace: GetAutomationLog's key
        title = "Close inactive tickets"     # shown on the progress bar
        daily = False                        # False: every run (5 min); True: once a day
        setting = "CloseInactiveTickets"     # off when this setting is blank/0/off

        def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> list[int]:
            # Ids still to do, ascending, greater than *after*: a keyset page. Select only
            # what is *not yet done* (here: still Answered and idle), so that a re-run
            # after a crash finds exactly the rest.
            cutoff = ctx.now - timedelta(hours=ctx.setting_int(uow, "CloseInactiveTickets"))
            return list(uow.session.scalars(
                select(Ticket.id).where(Ticket.id > after, Ticket.status == "Answered",
                                        Ticket.lastreply < cutoff)
                .order_by(Ticket.id).limit(limit)))

        def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
            close_ticket(uow, item)          # the service function; never commits
            ctx.count("closed")              # shows in the automation log

Register it by adding ``"billow.automation.tasks.support:CloseInactiveTickets"`` to
``TASKS`` in :mod:`billow.automation.tasks`, or from another package with an entry
point in the ``billow.tasks`` group (``close-tickets = "mypkg.tasks:CloseInactiveTickets"``).
Tasks run in ascending :attr:`Task.order` (ties: registration order).

The rules a task keeps
======================

* **Idempotent by state.** :meth:`Task.pending` must not return an item whose work is
  committed. Use state on the item where there is one (a status, an advanced date, a
  unique row such as "invoice for service S and due date D"); where the work leaves no
  trace (an e-mail), claim an idempotency key with :meth:`RunContext.claim` in the same
  transaction: the database refuses a second claim.
* **Batches.** Items come in pages of :attr:`Task.batch_size` (a provider can set
  ``CronBatchSize<TaskName>``); each page is processed
  in one transaction (:meth:`Task.process_batch`, by default :meth:`Task.process` per
  item), committed together with the page's counts and a renewal of the run lock. When a
  page raises, it is rolled back and replayed one item per transaction, so one bad item
  is recorded as a failure (with its reason) and the others still commit.
* **Outside side effects** (a panel's suspend call, a gateway capture): set
  :attr:`Task.isolate_items` so that each item is its own transaction: a module call is
  made at most once per committed state change, and a failure is recorded and retried
  on the next run instead of aborting the task. When the refusal leaves a record worth
  keeping (the module queue entry), call :meth:`RunContext.fail_in_transaction` instead
  of raising: the record commits, the item is logged as failed and stays pending.
* **Never commit** inside :meth:`process`; the runner commits. Raise to fail the item.
* Use ``uow.today`` / ``ctx.today`` for billing dates: ``billow cron --date`` moves it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

from billow.automation.marks import claim_keys
from billow.db.models import AutomationTaskLog
from billow.services import settings as settings_service
from billow.uow import Actor, UnitOfWork

if TYPE_CHECKING:
    from billow.automation.lock import RunLock
    from billow.automation.progress import Progress

log = logging.getLogger("billow.automation")

#: Failure reasons kept per task log row (the count is always exact).
MAX_FAILURES_KEPT = 200


class Task(ABC):
    """One job of the automation run. Subclass, set the class attributes, implement two methods."""

    #: WHMCS task namespace (``CreateInvoices``): the key in the automation log.
    name: ClassVar[str]
    #: Human title for progress output.
    title: ClassVar[str] = ""
    #: True: once per billing day (from ``DailyCronExecutionHour``); False: every run.
    daily: ClassVar[bool] = True
    #: Position in the run; lower first. WHMCS's order: invoices before reminders,
    #: late fees, capture, then suspensions and terminations.
    order: ClassVar[int] = 100
    #: Items per transaction.
    batch_size: ClassVar[int] = 200
    #: One transaction per item (for work that reaches outside: modules, gateways).
    isolate_items: ClassVar[bool] = False
    #: A WHMCS checkbox/number setting that switches the task off when blank, 0 or off.
    setting: ClassVar[str | None] = None

    def enabled(self, ctx: RunContext, uow: UnitOfWork) -> bool:
        """Whether the task should run now; by default its :attr:`setting` decides."""
        if self.setting is None:
            return True
        value = settings_service.get_setting(uow, self.setting).strip().lower()
        return value not in {"", "0", "off", "no", "false"}

    def page_size(self, uow: UnitOfWork) -> int:
        """Items per transaction: ``CronBatchSize<Name>`` when set, else :attr:`batch_size`.

        Smaller pages hold SQLite's write lock for less time (API writes wait less while
        the run works); larger pages run faster.
        """
        value = settings_service.setting_int(uow, f"CronBatchSize{self.name}", 0)
        return value if value > 0 else self.batch_size

    def total(self, ctx: RunContext, uow: UnitOfWork) -> int | None:
        """How many items are pending (for the progress bar); None when unknown or costly."""
        return None

    @abstractmethod
    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        """Return up to *limit* ids still to do, ascending, all greater than *after*."""

    @abstractmethod
    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        """Do the work for one item inside *uow*'s transaction; raise to fail it."""

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        """Do a page of items in one transaction; override for set-based work."""
        for item in items:
            self.process(ctx, uow, item)

    def describe(self, item: int) -> str:
        """How an item is named in failure records."""
        return f"{self.name}:{item}"

    def run(self, ctx: RunContext) -> None:
        """Walk the pending items page by page; override only for work that is not per item."""
        after = 0
        while True:
            with ctx.reader() as uow:
                items = list(self.pending(ctx, uow, after, self.page_size(uow)))
            if not items:
                return
            if self.isolate_items:
                for item in items:
                    ctx.run_items(self, [item])
            else:
                ctx.run_items(self, items)
            after = items[-1]


class LockLost(RuntimeError):
    """Another run took the lock over (ours had lapsed): stop before writing anything."""


@dataclass
class RunContext:
    """What a running task gets: the database, the billing date, counters and the lock.

    A context belongs to one run; :attr:`log_id` points at the current task's log row.
    """

    factory: sessionmaker[Session]
    #: The billing date the run acts as of.
    today: date
    now: datetime
    lock: RunLock | None = None
    progress: Progress | None = None
    run_id: int = 0
    log_id: int = 0
    task_name: str = ""
    #: Committed counts of the current task.
    counts: dict[str, int] = field(default_factory=dict)
    processed: int = 0
    failed: int = 0
    _pending_counts: dict[str, int] = field(default_factory=dict)
    _pending_failures: list[dict[str, str]] = field(default_factory=list)
    #: Test seam: called as ``hook(task, items)`` before each page is processed.
    before_batch: Any = None

    # --- for tasks ---------------------------------------------------------------------

    def count(self, key: str, n: int = 1) -> None:
        """Add *n* to counter *key* of the current task (kept only if the page commits)."""
        self._pending_counts[key] = self._pending_counts.get(key, 0) + n

    def claim(self, uow: UnitOfWork, keys: Sequence[str]) -> set[str]:
        """Claim idempotency keys for the current task; return the ones not claimed before.

        Call inside the transaction doing the work: the claim commits with it, and a
        rolled-back page leaves its keys free for the next run.
        """
        return claim_keys(uow, self.task_name, keys, self.today)

    def setting_int(self, uow: UnitOfWork, key: str, default: int = 0) -> int:
        return settings_service.setting_int(uow, key, default)

    def setting_on(self, uow: UnitOfWork, key: str) -> bool:
        return settings_service.setting_on(uow, key)

    # --- for the runner -----------------------------------------------------------------

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.factory, Actor(kind="system", admin_username="System"))

    @contextmanager
    def reader(self) -> Iterator[UnitOfWork]:
        """A unit of work for reading (rolled back at the end)."""
        with self.unit_of_work() as uow:
            yield uow

    @contextmanager
    def transaction(self, items: int) -> Iterator[UnitOfWork]:
        """One page's transaction: commits the work, its counts and a lock renewal together.

        The lock renewal is the fence: if another run has taken the lock over, the
        renewal fails and the page rolls back, so two runs never both commit work.
        """
        self._pending_counts, self._pending_failures = {}, []
        with self.unit_of_work() as uow:
            # Also fences the commit a module call makes before it waits on the network.
            uow.before_commit.append(lambda: self._renew(uow))
            yield uow
            failures = self._pending_failures
            self._record_progress(uow, items, self._pending_counts, failures, failed=len(failures))
            uow.commit()
        self._merge(items, self._pending_counts, len(self._pending_failures))
        self._pending_counts, self._pending_failures = {}, []

    def _renew(self, uow: UnitOfWork) -> None:
        if self.lock is not None and not self.lock.renew(uow.session):
            raise LockLost("the automation lock was taken over by another run")

    def run_items(self, task: Task, items: Sequence[int]) -> None:
        """Process *items* in one transaction; on error replay them one by one."""
        if self.before_batch is not None:
            self.before_batch(task, items)
        try:
            with self.transaction(len(items)) as uow:
                task.process_batch(self, uow, items)
        except LockLost:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing item must not stop the task
            if len(items) == 1:
                self._record_failure(task, items[0], exc)
            else:
                for item in items:
                    self.run_items(task, [item])
            return
        if self.progress is not None:
            self.progress.advance(len(items))

    def _record_failure(self, task: Task, item: int, exc: Exception) -> None:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.warning("automation task %s failed on %s: %s", task.name, task.describe(item), reason,
                    exc_info=not hasattr(exc, "message"))
        self.fail(task, item, reason)

    def fail_in_transaction(self, task: Task, item: int, reason: str) -> None:
        """Record that *item* failed, committing with the current page (which keeps the
        rest of its work, e.g. the module queue entry that says why a panel refused)."""
        log.warning("automation task %s failed on %s: %s", task.name, task.describe(item), reason)
        self._pending_failures.append({"item": task.describe(item), "reason": reason})

    def fail(self, task: Task, item: int, reason: str) -> None:
        """Record that *item* failed with *reason* (its own transaction); it stays pending."""
        failure = {"item": task.describe(item), "reason": reason}
        with self.unit_of_work() as uow:
            self._record_progress(uow, 1, {}, [failure], failed=1)
            if self.lock is not None and not self.lock.renew(uow.session):
                raise LockLost("the automation lock was taken over by another run")
            uow.commit()
        self._merge(1, {}, 1)
        if self.progress is not None:
            self.progress.advance(1)

    def _record_progress(self, uow: UnitOfWork, items: int, counts: dict[str, int],
                         failures: list[dict[str, str]], failed: int = 0) -> None:
        if not self.log_id:
            return
        row = uow.session.get(AutomationTaskLog, self.log_id)
        if row is None:
            return
        row.processed = (row.processed or 0) + items
        row.failed = (row.failed or 0) + failed
        if counts:
            merged = dict(row.counts or {})
            for key, n in counts.items():
                merged[key] = merged.get(key, 0) + n
            row.counts = merged
        if failures and len(row.failures or []) < MAX_FAILURES_KEPT:
            row.failures = [*(row.failures or []), *failures][:MAX_FAILURES_KEPT]

    def _merge(self, items: int, counts: dict[str, int], failed: int) -> None:
        self.processed += items
        self.failed += failed
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
