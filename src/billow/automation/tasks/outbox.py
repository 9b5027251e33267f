"""The outbox in the automation run: deliver what is due, and prune delivered history.

A provider who runs only ``billow cron`` from the system crontab (no separate
``billow worker``) still gets every webhook and e-mail: each run drains the outbox after
the other tasks, so the invoices and notices a run creates go out in that same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from billow.automation.base import RunContext, Task
from billow.uow import UnitOfWork
from billow.worker import purge_history, run_once


class _NotPerItem(Task):
    """Tasks whose work is one call, not a list of items."""

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return []

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        raise RuntimeError(f"{self.name} has no per-item work")


class DeliverOutbox(_NotPerItem):
    """Dispatch committed events, deliver due webhooks, send queued e-mail."""

    name = "DeliverOutbox"
    title = "Deliver webhooks and e-mail"
    daily = False
    order = 990
    #: Off only where a separate ``billow worker`` delivers and the run should not.
    setting = "CronDeliverOutbox"

    def run(self, ctx: RunContext) -> None:
        stats = run_once(ctx.factory)
        with ctx.transaction(stats.dispatched) as uow:
            del uow  # the worker committed its own work; this page records the counts
            for key in ("dispatched", "webhooks_sent", "webhooks_failed", "emails_sent",
                        "emails_failed"):
                value = getattr(stats, key)
                if value:
                    ctx.count(key, value)
        for error in stats.errors:
            ctx.fail(self, 0, error)


class PruneDeliveredEvents(_NotPerItem):
    """Delete finished webhook deliveries and dispatched events past ``LogRetentionDays``."""

    name = "PruneDeliveredEvents"
    title = "Prune delivered events"
    daily = True
    order = 905
    setting = "LogRetentionDays"

    def run(self, ctx: RunContext) -> None:
        with ctx.reader() as uow:
            days = ctx.setting_int(uow, "LogRetentionDays", 0)
        if days <= 0:
            return
        removed = purge_history(ctx.factory, timedelta(days=days))
        with ctx.transaction(sum(removed.values())):
            for key, value in removed.items():
                if value:
                    ctx.count(key, value)
