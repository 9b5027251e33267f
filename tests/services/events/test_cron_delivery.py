"""The automation run drains the outbox and prunes delivered history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from billow import clock
from billow.automation.runner import run_cron
from billow.db.models import OutboxEvent
from billow.uow import UnitOfWork


def test_cron_delivers_the_signup_email_and_dispatches_every_event(db, smtp, add_client):
    add_client("grace@example.org")
    report = run_cron(db, only="DeliverOutbox")
    [task] = report.tasks
    assert task.status == "completed", task
    assert task.counts["emails_sent"] == 1
    assert task.counts["dispatched"] >= 2  # ClientAdd and the e-mail request at least
    [(rcpts, _message)] = smtp.box.wait_for(1)
    assert rcpts == ["grace@example.org"]
    with UnitOfWork(db) as uow:
        waiting = uow.session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None)))
    assert waiting == 0
    # A second run finds nothing left to do and sends nothing twice.
    again = run_cron(db, only="DeliverOutbox").tasks[0]
    assert again.counts.get("emails_sent", 0) == 0
    assert len(smtp.box.wait_for(1)) == 1


def test_daily_prune_removes_dispatched_events_past_the_retention(db, smtp, add_client):
    from billow.services.settings import set_setting

    add_client("linus@example.net")
    run_cron(db, only="DeliverOutbox")
    with UnitOfWork(db) as uow:
        set_setting(uow, "LogRetentionDays", "2")
        uow.commit()
    with clock.frozen(clock.now() + timedelta(days=1)):
        kept = run_cron(db, only="PruneDeliveredEvents").tasks[0]
    assert kept.counts.get("events", 0) == 0
    with clock.frozen(clock.now() + timedelta(days=3)):
        pruned = run_cron(db, only="PruneDeliveredEvents").tasks[0]
    assert pruned.status == "completed"
    assert pruned.counts["events"] >= 2
    with UnitOfWork(db) as uow:
        # Only the cron runs' own, not yet delivered, events remain.
        dispatched = uow.session.scalar(select(func.count()).select_from(OutboxEvent)
                                        .where(OutboxEvent.dispatched_at.is_not(None)))
    assert dispatched == 0
