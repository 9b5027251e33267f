"""The runner: daily vs frequent tasks, crash and resume, item failures, the lock as a fence."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from billow import clock
from billow.automation.base import Task
from billow.automation.lock import RunLock
from billow.automation.runner import run_cron
from billow.db.models import (
    ActivityLog,
    AutomationLock,
    AutomationRun,
    AutomationTaskDay,
    AutomationTaskLog,
    Client,
    Currency,
)
from billow.errors import ValidationError
from billow.events import HookAbort, add_hook
from billow.uow import UnitOfWork

from .sample_tasks import sample_tasks

DAY = date(2027, 3, 1)


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches it as an item error."""


def make_clients(db, n: int, **overrides) -> list[int]:
    with UnitOfWork(db) as uow:
        currency = uow.session.scalar(select(Currency).where(Currency.code == "USD"))
        if currency is None:
            currency = Currency(code="USD", prefix="$", is_default=True)
            uow.session.add(currency)
            uow.session.flush()
        clients = [Client(firstname=f"C{i}", email=f"c{i}-{id(uow)}@example.com", currency_id=currency.id,
                          **overrides) for i in range(n)]
        uow.session.add_all(clients)
        uow.commit()
        return [c.id for c in clients]


def activity(db, prefix: str) -> Counter[int]:
    with db() as session:
        rows = session.scalars(select(ActivityLog.userid).where(ActivityLog.description.like(f"{prefix}%")))
        return Counter(rows)


def test_daily_tasks_run_once_per_day_from_the_configured_hour(db):
    ids = make_clients(db, 6)
    with clock.frozen(datetime(2027, 3, 1, 8, 30, tzinfo=UTC)):
        early = run_cron(db, tasks=sample_tasks())
    assert [t.name for t in early.tasks] == ["Tick"]  # before 09:00 only the frequent task
    assert not early.daily
    with clock.frozen(datetime(2027, 3, 1, 9, 5, tzinfo=UTC)):
        first = run_cron(db, tasks=sample_tasks())
        second = run_cron(db, tasks=sample_tasks())
    assert [t.name for t in first.tasks] == ["Tick", "GreetClients", "RemindClients"]
    assert first.daily and not second.daily
    assert [t.name for t in second.tasks] == ["Tick"]
    assert first.result("GreetClients").counts == {"greeted": 6}
    assert activity(db, "greeted") == Counter({i: 1 for i in ids})
    assert activity(db, "reminded") == Counter({i: 1 for i in ids})
    assert sum(activity(db, "tick").values()) == 3
    with clock.frozen(datetime(2027, 3, 2, 10, 0, tzinfo=UTC)):
        next_day = run_cron(db, tasks=sample_tasks())
    assert next_day.daily
    assert activity(db, "greeted 2027-03-02") == Counter({i: 1 for i in ids})


def test_hour_setting_is_read_from_the_database(db, uow):
    from billow.services.settings import set_setting

    set_setting(uow, "DailyCronExecutionHour", "14")
    uow.commit()
    make_clients(db, 2)
    with clock.frozen(datetime(2027, 3, 1, 13, 59, tzinfo=UTC)):
        assert not run_cron(db, tasks=sample_tasks()).daily
    with clock.frozen(datetime(2027, 3, 1, 14, 0, tzinfo=UTC)):
        assert run_cron(db, tasks=sample_tasks()).daily


@pytest.mark.parametrize("crash_at_batch", [1, 2, 4, 6])
def test_a_crash_mid_task_then_rerun_does_everything_exactly_once(db, crash_at_batch):
    ids = make_clients(db, 10)
    seen = {"n": 0}

    def crash(task: Task, items) -> None:
        seen["n"] += 1
        if seen["n"] == crash_at_batch:
            raise SimulatedCrash

    with pytest.raises(SimulatedCrash):
        run_cron(db, as_of=DAY, tasks=sample_tasks(), before_batch=crash)
    assert all(n == 1 for n in activity(db, "greeted").values())
    assert all(n == 1 for n in activity(db, "reminded").values())
    report = run_cron(db, as_of=DAY, tasks=sample_tasks())
    assert report.ran
    assert activity(db, "greeted") == Counter({i: 1 for i in ids})
    assert activity(db, "reminded") == Counter({i: 1 for i in ids})
    with db() as session:
        statuses = [r.status for r in session.scalars(select(AutomationRun).order_by(AutomationRun.id))]
        assert statuses == ["interrupted", "completed"]
        interrupted = session.scalars(
            select(AutomationTaskLog).where(AutomationTaskLog.status == "interrupted"))
        assert len(list(interrupted)) == 1
        days = set(session.scalars(select(AutomationTaskDay.task).where(AutomationTaskDay.run_date == DAY)))
        assert days == {"GreetClients", "RemindClients"}
        # Counts in the log add up across the interrupted and the resumed run.
        greeted = sum((r.counts or {}).get("greeted", 0) for r in session.scalars(
            select(AutomationTaskLog).where(AutomationTaskLog.task == "GreetClients")))
        assert greeted == 10
    # A third run that day has nothing left to do.
    third = run_cron(db, as_of=DAY, tasks=sample_tasks())
    assert [t.name for t in third.tasks] == ["Tick"]


def test_a_failing_item_is_recorded_and_does_not_stop_the_others(db):
    good = make_clients(db, 5)
    bad = make_clients(db, 1, notes="explode")[0]
    more = make_clients(db, 3)
    report = run_cron(db, as_of=DAY, tasks=sample_tasks())
    result = report.result("GreetClients")
    assert result.status == "completed"
    assert result.failed == 1
    assert result.failures == [{"item": f"GreetClients:{bad}", "reason": f"client {bad} cannot be greeted"}]
    assert activity(db, "greeted") == Counter({i: 1 for i in good + more})
    # Fixed, the item is picked up by the next run of the task (forced here: same day).
    with db() as session:
        session.execute(update(Client).where(Client.id == bad).values(notes=""))
        session.commit()
    again = run_cron(db, as_of=DAY, tasks=sample_tasks(), only="greetclients", force=True)
    assert again.result("GreetClients").counts == {"greeted": 1}
    assert activity(db, "greeted") == Counter({i: 1 for i in good + more + [bad]})


def test_a_task_that_breaks_is_logged_failed_and_its_day_stays_open(db):
    class Broken(Task):
        name = "Broken"
        daily = True

        def pending(self, ctx, uow, after, limit):
            raise RuntimeError("database says no")

        def process(self, ctx, uow, item):
            raise AssertionError("never reached")

    make_clients(db, 2)
    posted = []
    add_hook("PostAutomationTask")(posted.append)
    report = run_cron(db, as_of=DAY, tasks=[Broken(), *sample_tasks()])
    assert {"task": "Broken", "completed": False} in posted
    assert report.result("Broken").status == "failed"
    assert "database says no" in report.result("Broken").message
    assert report.result("GreetClients").status == "completed"
    with db() as session:
        assert session.get(AutomationTaskDay, ("Broken", DAY)) is None
        assert session.get(AutomationTaskDay, ("GreetClients", DAY)) is not None
    assert [t.name for t in run_cron(db, as_of=DAY, tasks=[Broken(), *sample_tasks()]).tasks] == [
        "Broken", "Tick"]


def test_only_and_unknown_task(db):
    make_clients(db, 2)
    report = run_cron(db, only="RemindClients", tasks=sample_tasks())  # any hour
    assert [t.name for t in report.tasks] == ["RemindClients"]
    with pytest.raises(ValidationError, match="Unknown automation task 'nope'"):
        run_cron(db, only="nope", tasks=sample_tasks())


def test_disabled_task_is_skipped_and_logged(db, uow):
    from billow.services.settings import set_setting

    class Optional(Task):
        name = "OptionalThing"
        setting = "AutoTermination"

        def pending(self, ctx, uow, after, limit):
            return []

        def process(self, ctx, uow, item):
            raise AssertionError("never reached")

    set_setting(uow, "AutoTermination", "")
    uow.commit()
    report = run_cron(db, as_of=DAY, tasks=[Optional()])
    assert report.result("OptionalThing").status == "skipped"
    assert report.result("OptionalThing").message == "disabled by setting AutoTermination"


def test_hooks_wrap_the_run_and_each_task(db):
    calls: list[tuple[str, dict]] = []
    for name in ("PreCronJob", "PreAutomationTask", "PostAutomationTask", "DailyCronJob", "AfterCronJob"):
        add_hook(name)(lambda vars, name=name: calls.append((name, vars)))
    make_clients(db, 1)
    run_cron(db, as_of=DAY, tasks=sample_tasks())
    names = [c[0] for c in calls]
    assert names[0] == "PreCronJob" and names[-2:] == ["DailyCronJob", "AfterCronJob"]
    assert ("PreAutomationTask", {"task": "GreetClients"}) in calls
    assert ("PostAutomationTask", {"task": "GreetClients", "completed": True}) in calls


def test_pre_automation_task_hook_can_skip_a_task(db):
    @add_hook("PreAutomationTask")
    def veto(vars):
        if vars["task"] == "GreetClients":
            raise HookAbort("maintenance window")

    make_clients(db, 2)
    report = run_cron(db, as_of=DAY, tasks=sample_tasks())
    assert report.result("GreetClients").status == "skipped"
    assert activity(db, "greeted") == Counter()
    assert sum(activity(db, "reminded").values()) == 2


def test_second_run_is_refused_while_the_lock_is_held(db):
    make_clients(db, 2)
    other = RunLock(db, owner="elsewhere:1:abc")
    assert other.acquire()
    report = run_cron(db, as_of=DAY, tasks=sample_tasks())
    assert not report.ran and "elsewhere:1:abc" in report.message
    assert activity(db, "greeted") == Counter()
    other.release()
    assert run_cron(db, as_of=DAY, tasks=sample_tasks()).ran


def test_a_lapsed_lease_is_taken_over(db):
    other = RunLock(db, owner="elsewhere:1:abc", ttl=timedelta(seconds=-1))
    assert other.acquire()
    mine = RunLock(db)
    assert mine.acquire()
    assert mine.took_over_from == "elsewhere:1:abc"
    with db() as session:
        assert not other.renew(session)  # the old holder is fenced off


def test_losing_the_lock_mid_run_rolls_the_page_back(db):
    ids = make_clients(db, 8)

    def steal(task: Task, items) -> None:
        if task.name == "GreetClients" and items[0] != ids[0]:
            with db() as session:
                session.execute(update(AutomationLock).values(owner="thief:1:x"))
                session.commit()

    from billow.automation.base import LockLost

    with pytest.raises(LockLost):
        run_cron(db, as_of=DAY, tasks=sample_tasks(), before_batch=steal)
    assert activity(db, "greeted") == Counter({i: 1 for i in ids[:4]})  # only the first page
