"""Small tasks the runner tests drive, importable in-process and runnable as a child process.

``GreetClients`` is idempotent by state (it skips clients already greeted for the day),
``RemindClients`` by idempotency keys (it claims ``client:N:date`` marks). Both write one
activity-log row per client per day, so a duplicate or a gap is visible in one query.

Run as a script (the kill and concurrency tests do) it performs one automation run with
these tasks against ``BILLOW_DATABASE_URL`` and prints the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select

from billow.automation.base import RunContext, Task
from billow.db.models import ActivityLog, Client
from billow.services.activity import log_activity
from billow.uow import UnitOfWork


def _delay() -> float:
    return float(os.environ.get("BILLOW_TEST_TASK_DELAY", "0") or 0)


class GreetClients(Task):
    name = "GreetClients"
    title = "Greet clients"
    daily = True
    order = 10
    batch_size = 4

    def total(self, ctx: RunContext, uow: UnitOfWork) -> int | None:
        return uow.session.scalar(select(func.count(Client.id)))

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        greeted = select(ActivityLog.userid).where(ActivityLog.description == f"greeted {ctx.today}")
        return list(uow.session.scalars(
            select(Client.id).where(Client.id > after, Client.id.not_in(greeted))
            .order_by(Client.id).limit(limit)))

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        client = uow.session.get(Client, item)
        assert client is not None
        if client.notes == "explode":
            raise ValueError(f"client {item} cannot be greeted")
        log_activity(uow, f"greeted {ctx.today}", client_id=item)
        ctx.count("greeted")
        if _delay():
            time.sleep(_delay())


class RemindClients(Task):
    name = "RemindClients"
    title = "Remind clients"
    daily = True
    order = 20
    batch_size = 3

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return list(uow.session.scalars(
            select(Client.id).where(Client.id > after).order_by(Client.id).limit(limit)))

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        fresh = ctx.claim(uow, [f"client:{i}:{ctx.today}" for i in items])
        for item in items:
            if f"client:{item}:{ctx.today}" in fresh:
                self.process(ctx, uow, item)
        if _delay():
            time.sleep(_delay())

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        log_activity(uow, f"reminded {ctx.today}", client_id=item)
        ctx.count("reminded")


class Tick(Task):
    """A frequent task: one activity row per run."""

    name = "Tick"
    title = "Tick"
    daily = False
    order = 5

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return [1] if after == 0 else []

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        log_activity(uow, f"tick {ctx.today}")
        ctx.count("ticks")


def sample_tasks() -> list[Task]:
    return [Tick(), GreetClients(), RemindClients()]


def main() -> None:
    from billow.automation.runner import run_cron

    parser = argparse.ArgumentParser()
    parser.add_argument("--date", required=True)
    args = parser.parse_args()
    report = run_cron(as_of=date.fromisoformat(args.date), tasks=sample_tasks())
    print(json.dumps({"ran": report.ran, "message": report.message,
                      "tasks": {t.name: t.status for t in report.tasks}}), flush=True)


if __name__ == "__main__":
    main()
