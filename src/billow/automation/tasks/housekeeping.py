"""Housekeeping: prune log rows older than the retention setting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from billow.automation.base import RunContext, Task
from billow.db.models import ApiLog, AutomationRun, AutomationTaskLog, ModuleLog, TicketMailLog
from billow.uow import UnitOfWork

#: Log tables pruned by :class:`DataRetentionPrune`: ``(model, "timestamp column")``.
#: Areas with their own logs add a line here.
PRUNABLE_LOGS: tuple[tuple[Any, str], ...] = (
    (ApiLog, "at"),
    (ModuleLog, "date"),
    (AutomationRun, "started_at"),
    (TicketMailLog, "date"),
)


class DataRetentionPrune(Task):
    """Delete API, module and automation log rows older than ``LogRetentionDays`` days.

    The automation's own history goes too (its task logs cascade with their run). A
    retention of 0 keeps everything. Deletes go in pages of ids so that no transaction
    holds the database for long.
    """

    name = "DataRetentionPrune"
    title = "Prune old log entries"
    daily = True
    order = 900
    batch_size = 2000
    setting = "LogRetentionDays"

    def __init__(self) -> None:
        self._target: tuple[Any, Any] | None = None

    def run(self, ctx: RunContext) -> None:
        for model, column in PRUNABLE_LOGS:
            self._target = (model, getattr(model, column))
            super().run(ctx)
        self._target = None

    def _cutoff(self, ctx: RunContext, uow: UnitOfWork) -> Any:
        days = ctx.setting_int(uow, "LogRetentionDays", 0)
        return ctx.now - timedelta(days=days)

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        assert self._target is not None
        model, column = self._target
        if ctx.setting_int(uow, "LogRetentionDays", 0) <= 0:
            return []
        return list(uow.session.scalars(
            select(model.id).where(model.id > after, column < self._cutoff(ctx, uow))
            .order_by(model.id).limit(limit)))

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        assert self._target is not None
        model, _ = self._target
        if model.__tablename__ == "automation_runs":
            # Never prune the run in progress (its own row is recent, but be explicit).
            items = [i for i in items if i != ctx.run_id]

            uow.session.execute(delete(AutomationTaskLog).where(AutomationTaskLog.run_id.in_(items)))
        uow.session.execute(delete(model).where(model.id.in_(items)))
        ctx.count(model.__tablename__, len(items))
