"""The outbox worker: fan committed events out, deliver webhooks, send e-mail.

Three steps, each in short transactions of its own, so a worker can die anywhere and the
next run picks up where it stopped:

1. :func:`dispatch_outbox` claims undispatched outbox events (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises), creates their webhook deliveries
   and e-mails and sets ``dispatched_at`` — all in one transaction, so an event is fanned
   out exactly once or not at all.
2. :func:`deliver_webhooks` leases due deliveries, POSTs them outside any transaction (a
   thread pool), and records each attempt. A worker killed mid-request leaves a lease that
   expires, and the delivery is sent again (at-least-once; receivers de-duplicate on the
   stable ``webhook-id``).
3. :func:`send_emails` does the same for queued e-mails over SMTP.

The outbox table is the queue: no second system can disagree with the database about
what happened (a separate broker would need its own outbox to stay consistent), SQLite
needs nothing else, and on PostgreSQL any number of workers share the work.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from billow import events
from billow.bootstrap import wire
from billow.config import get_settings
from billow.db.engine import session_factory
from billow.db.models import (
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from billow.events import EMAIL_REQUESTED
from billow.services.events import ssrf_guard, webhook_delivery, webhook_fan_out, webhook_inspection
from billow.services.mail import composing, delivery, smtp
from billow.uow import UnitOfWork

log = logging.getLogger("billow.worker")

DISPATCH_BATCH = 200
DELIVERY_BATCH = 200
EMAIL_BATCH = 50
#: Fan-outs of one event that may fail before it is parked (``dispatch_error`` says why).
MAX_DISPATCH_ATTEMPTS = 5


@dataclass
class RunStats:
    """What one :func:`run_once` did."""

    dispatched: int = 0
    deliveries_created: int = 0
    emails_queued: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.dispatched or self.webhooks_sent or self.webhooks_failed or self.emails_sent)


def dispatch_outbox(factory: sessionmaker[Session], stats: RunStats, batch: int = DISPATCH_BATCH) -> int:
    """Fan out one batch of undispatched events; returns how many were dispatched.

    The batch is first fanned out in one go. If any event fails (a broken template, a
    failing resolver), the batch is rolled back and redone with a savepoint per event, so
    the failing event is counted and later parked while the others go out.
    """
    try:
        return _dispatch_batch(factory, stats, batch, isolate=False)
    except Exception:  # noqa: BLE001 - redone event by event just below
        log.warning("dispatch batch failed; redoing it event by event", exc_info=True)
        return _dispatch_batch(factory, stats, batch, isolate=True)


def _dispatch_batch(factory: sessionmaker[Session], stats: RunStats, batch: int, *, isolate: bool) -> int:
    local = RunStats()
    with UnitOfWork(factory) as uow:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None),
                   OutboxEvent.dispatch_attempts < MAX_DISPATCH_ATTEMPTS)
            .order_by(OutboxEvent.id).limit(batch)
        )
        if uow.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(uow.session.scalars(query))
        if not rows:
            return 0
        endpoints = list(uow.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)).order_by(WebhookEndpoint.id)
        ))
        for event in rows:
            if not isolate:
                _fan_out(uow, event, endpoints, local)
                event.dispatched_at = uow.now
                continue
            try:
                with uow.session.begin_nested():
                    _fan_out(uow, event, endpoints, local)
                    event.dispatched_at = uow.now
            except Exception as exc:  # noqa: BLE001 - recorded on the event, retried, then parked
                event.dispatch_attempts += 1
                event.dispatch_error = f"{type(exc).__name__}: {exc}"[:2000]
                local.errors.append(f"event {event.uuid} ({event.name}): {event.dispatch_error}")
                log.exception("event %s (%s) could not be dispatched", event.uuid, event.name)
        uow.commit()
    done = sum(1 for event in rows if event.dispatched_at is not None)
    stats.dispatched += done
    stats.deliveries_created += local.deliveries_created
    stats.emails_queued += local.emails_queued
    stats.errors.extend(local.errors)
    return done


def _fan_out(uow: UnitOfWork, event: OutboxEvent, endpoints: list[WebhookEndpoint], stats: RunStats) -> None:
    if event.name == EMAIL_REQUESTED:
        stats.emails_queued += composing.handle_email_requested(uow, dict(event.payload or {}), event.uuid)
    else:
        stats.deliveries_created += webhook_fan_out.fan_out(uow, event, endpoints)


def deliver_webhooks(
    factory: sessionmaker[Session], stats: RunStats, client: httpx.Client,
    pool: ThreadPoolExecutor | None = None, batch: int = DELIVERY_BATCH,
) -> int:
    """Send one batch of due deliveries; returns how many attempts were made."""
    with UnitOfWork(factory) as uow:
        jobs = webhook_delivery.claim_due(uow, batch)
        uow.commit()
    if not jobs:
        return 0
    if pool is None:
        results = [webhook_delivery.send(client, job) for job in jobs]
    else:
        results = list(pool.map(lambda job: webhook_delivery.send(client, job), jobs))
    with UnitOfWork(factory) as uow:
        outcomes = [(job.delivery_id, result) for job, result in zip(jobs, results, strict=True)]
        webhook_delivery.record_attempts(uow, outcomes)
        uow.commit()
    for result in results:
        if result.ok:
            stats.webhooks_sent += 1
        else:
            stats.webhooks_failed += 1
    return len(jobs)


def send_emails(factory: sessionmaker[Session], stats: RunStats, batch: int = EMAIL_BATCH) -> int:
    """Send one batch of due e-mails over one SMTP connection; returns attempts made."""
    with UnitOfWork(factory) as uow:
        ids = delivery.claim_due(uow, batch)
        uow.commit()
    if not ids:
        return 0
    with UnitOfWork(factory) as uow:
        mailer = smtp.Mailer(smtp.smtp_settings(uow))
    try:
        for email_id in ids:
            # One transaction per message: a crash never forgets that a message went out.
            with UnitOfWork(factory) as uow:
                if delivery.deliver(uow, email_id, mailer):
                    stats.emails_sent += 1
                else:
                    stats.emails_failed += 1
                uow.commit()
    finally:
        mailer.close()
    return len(ids)


class Worker:
    """A worker with its HTTP client and thread pool; :meth:`run_once` drains what is due."""

    def __init__(self, factory: sessionmaker[Session] | None = None) -> None:
        wire()
        self.factory = factory or session_factory()
        self.client = ssrf_guard.new_client()
        self.pool = ThreadPoolExecutor(max_workers=max(1, get_settings().webhook_concurrency),
                                       thread_name_prefix="billow-webhook")
        self._stop = threading.Event()

    def run_once(self, *, max_rounds: int = 50) -> RunStats:
        """Dispatch, deliver and send until nothing more is due now (or *max_rounds*)."""
        stats = RunStats()
        for _ in range(max_rounds):
            done = 0
            for step in (
                lambda: dispatch_outbox(self.factory, stats),
                lambda: deliver_webhooks(self.factory, stats, self.client, self.pool),
                lambda: send_emails(self.factory, stats),
            ):
                try:
                    done += step()
                except Exception as exc:  # noqa: BLE001 - one failing step must not stop the others
                    log.exception("worker step failed")
                    stats.errors.append(f"{type(exc).__name__}: {exc}")
            if not done:
                break
        return stats

    def run_forever(self, *, interval: float = 1.0) -> None:
        """Run until :meth:`stop`: drain, then wait up to *interval* seconds when idle.

        A commit in this process that wrote outbox events ends the wait at once; events
        committed by other processes are picked up at the next poll.
        """
        while not self._stop.is_set():
            events.outbox_committed.clear()
            stats = self.run_once()
            if not stats.busy and not self._stop.is_set():
                events.outbox_committed.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        events.outbox_committed.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        self.client.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_once(factory: sessionmaker[Session] | None = None) -> RunStats:
    """Drain the outbox once: the step the daily automation run calls on every run."""
    with Worker(factory) as worker:
        return worker.run_once()


def start_in_thread(factory: sessionmaker[Session] | None = None, interval: float = 1.0) -> Worker:
    """Run a worker in a daemon thread (``billow serve`` in the embedded set-up)."""
    worker = Worker(factory)
    threading.Thread(target=worker.run_forever, kwargs={"interval": interval}, daemon=True,
                     name="billow-worker").start()
    return worker


def wait_until_idle(factory: sessionmaker[Session], timeout: float = 10.0) -> RunStats:
    """Run the worker until nothing is pending or due (tests and the ``--once`` CLI)."""
    total = RunStats()
    deadline = time.monotonic() + timeout
    with Worker(factory) as worker:
        while time.monotonic() < deadline:
            stats = worker.run_once()
            for name in ("dispatched", "deliveries_created", "emails_queued", "webhooks_sent",
                         "webhooks_failed", "emails_sent", "emails_failed"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            total.errors.extend(stats.errors)
            if not stats.busy:
                break
    return total


# --- operating the outbox --------------------------------------------------------------------

def outbox_status(factory: sessionmaker[Session]) -> dict[str, object]:
    """Counts an operator needs: undispatched and parked events, pending deliveries."""
    with UnitOfWork(factory) as uow:
        session = uow.session
        waiting = session.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.dispatched_at.is_(None), OutboxEvent.dispatch_attempts < MAX_DISPATCH_ATTEMPTS))
        parked = list(session.execute(
            select(OutboxEvent.id, OutboxEvent.uuid, OutboxEvent.name, OutboxEvent.dispatch_error)
            .where(OutboxEvent.dispatched_at.is_(None),
                   OutboxEvent.dispatch_attempts >= MAX_DISPATCH_ATTEMPTS)
            .order_by(OutboxEvent.id)
        ))
        pending = session.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.status == "pending"))
        oldest = webhook_inspection.oldest_pending(uow)
    return {
        "undispatched": int(waiting or 0),
        "parked": [{"id": r.id, "uuid": r.uuid, "name": r.name, "error": r.dispatch_error} for r in parked],
        "pending_deliveries": int(pending or 0),
        "oldest_pending_delivery": oldest.isoformat() if oldest else None,
    }


def retry_parked(factory: sessionmaker[Session]) -> int:
    """Give parked events a fresh set of attempts (after the bug that parked them is fixed)."""
    with UnitOfWork(factory) as uow:
        result = uow.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None),
                   OutboxEvent.dispatch_attempts >= MAX_DISPATCH_ATTEMPTS)
            .values(dispatch_attempts=0, dispatch_error="")
        )
        uow.commit()
    return int(result.rowcount or 0)


def purge_history(factory: sessionmaker[Session], older_than: timedelta) -> dict[str, int]:
    """Delete finished webhook deliveries and dispatched events older than *older_than*.

    Pending deliveries and their events are kept whatever their age; the e-mail log is the
    client's history (WHMCS keeps it) and is not touched. Suitable as a daily automation step.
    """
    with UnitOfWork(factory) as uow:
        cutoff = uow.now - older_than
        finished = select(WebhookDelivery.id).where(
            WebhookDelivery.status != "pending", WebhookDelivery.completed_at < cutoff)
        attempts = uow.session.execute(
            delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(finished)))
        deliveries = uow.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.id.in_(finished.scalar_subquery())))
        still_needed = select(WebhookDelivery.event_id).where(WebhookDelivery.event_id == OutboxEvent.id)
        old_events = uow.session.execute(
            delete(OutboxEvent).where(OutboxEvent.dispatched_at.is_not(None),
                                      OutboxEvent.dispatched_at < cutoff, ~still_needed.exists()))
        uow.commit()
    return {"attempts": int(attempts.rowcount or 0), "deliveries": int(deliveries.rowcount or 0),
            "events": int(old_events.rowcount or 0)}
