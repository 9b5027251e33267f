"""Delivering webhooks: claiming due deliveries, POSTing them signed, recording the attempt.

The worker runs :func:`claim_due` → :func:`send` → :func:`record_attempts`, each step in
its own short transaction, so no HTTP call ever runs while a database lock is held. A
failed attempt is retried on :data:`RETRY_SCHEDULE`; deliveries of one resource keep
their order.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from billow.config import get_settings
from billow.db.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billow.errors import ValidationError
from billow.services.events._webhook_signing import sign
from billow.services.events.ssrf_guard import validate_url
from billow.services.events.webhook_endpoints import endpoint_secret
from billow.uow import UnitOfWork

log = logging.getLogger("billow.webhooks")


#: Waits after each failed attempt: about 3.5 days in all before a delivery is failed
#: (the Standard Webhooks schedule, stretched to cover a long weekend outage).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10), timedelta(hours=14),
    timedelta(hours=20), timedelta(hours=24),
)


MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1

EXCERPT_CHARS = 1000

USER_AGENT = "Billow-Webhooks/1"

@dataclass(frozen=True)
class Job:
    """Everything one HTTP attempt needs, read in the claiming transaction."""

    delivery_id: int
    url: str
    secret: str
    msg_id: str
    body: bytes


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body receivers get: WHMCS hook name, its variables, the affected resource."""
    document = {
        "type": event.name,
        "timestamp": event.created_at.isoformat(),
        "data": {
            "hook": event.name,
            "variables": event.payload,
            "resource": {"type": event.resource_type, "id": event.resource_id},
        },
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def claim_due(uow: UnitOfWork, limit: int) -> list[Job]:
    """Lease up to *limit* due deliveries, the oldest first of each endpoint and resource.

    A delivery waits while an earlier one of the same endpoint and resource is unfinished,
    which keeps per-resource order across retries. On PostgreSQL rows are locked with
    ``FOR UPDATE SKIP LOCKED`` so parallel workers never claim the same delivery; SQLite's
    ``BEGIN IMMEDIATE`` serialises claimers.
    """
    now = uow.now
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(and_(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.resource_key == WebhookDelivery.resource_key,
        earlier.status == "pending",
        earlier.id < WebhookDelivery.id,
    ))
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now),
            WebhookDelivery.endpoint_id.in_(
                select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True))
            ),
            or_(WebhookDelivery.resource_key == "", ~blocked),
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    deliveries = list(uow.session.scalars(query))
    lease = now + timedelta(seconds=get_settings().worker_lease_seconds)
    if not deliveries:
        return []
    with uow.session.no_autoflush:
        endpoints = {e.id: (e.url, endpoint_secret(e)) for e in uow.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_({d.endpoint_id for d in deliveries})))}
        events = {e.id: e for e in uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_({d.event_id for d in deliveries})))}
    jobs: list[Job] = []
    for delivery in deliveries:
        endpoint, event = endpoints.get(delivery.endpoint_id), events.get(delivery.event_id)
        if endpoint is None or event is None:
            continue
        delivery.leased_until = lease
        jobs.append(Job(delivery.id, endpoint[0], endpoint[1], event.uuid, event_body(event)))
    return jobs


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    response_code: int
    latency_ms: int
    excerpt: str
    error: str


def send(client: httpx.Client, job: Job) -> AttemptResult:
    """POST one delivery; never raises (every failure becomes a failed attempt)."""
    settings = get_settings()
    started = time.perf_counter()
    try:
        validate_url(job.url, resolve=True)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": job.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(job.secret, job.msg_id, timestamp, job.body),
        }
        with client.stream("POST", job.url, content=job.body, headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= settings.webhook_max_response_bytes:
                    break
            code = response.status_code
        latency = int((time.perf_counter() - started) * 1000)
        excerpt = b"".join(chunks)[:EXCERPT_CHARS].decode("utf-8", "replace")
        if 200 <= code < 300:
            return AttemptResult(True, code, latency, excerpt, "")
        reason = "redirect not followed" if 300 <= code < 400 else f"HTTP {code}"
        return AttemptResult(False, code, latency, excerpt, reason)
    except ValidationError as exc:
        return AttemptResult(False, 0, int((time.perf_counter() - started) * 1000), "", exc.message)
    except Exception as exc:  # noqa: BLE001 - transport errors and anything odd are a failed attempt
        latency = int((time.perf_counter() - started) * 1000)
        return AttemptResult(False, 0, latency, "", f"{type(exc).__name__}: {exc}"[:500])


def record_attempt(uow: UnitOfWork, delivery_id: int, result: AttemptResult) -> WebhookDelivery | None:
    """Store one attempt and move its delivery on (see :func:`record_attempts`)."""
    return record_attempts(uow, [(delivery_id, result)]).get(delivery_id)


def record_attempts(
    uow: UnitOfWork, outcomes: list[tuple[int, AttemptResult]]
) -> dict[int, WebhookDelivery]:
    """Store attempts and move each delivery on: done, retried later, or failed for good.

    One query loads (and on PostgreSQL locks) every delivery of the batch; a delivery
    missing here had its endpoint deleted while the request was in flight.
    """
    ids = [delivery_id for delivery_id, _ in outcomes]
    query = select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    with uow.session.no_autoflush:
        deliveries = {d.id: d for d in uow.session.scalars(query)}
        endpoint_ids = {d.endpoint_id for d in deliveries.values()}
        endpoints = {e.id: e for e in uow.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))}
        for delivery_id, result in outcomes:
            delivery = deliveries.get(delivery_id)
            if delivery is not None:
                _apply(uow, delivery, endpoints.get(delivery.endpoint_id), result)
    return deliveries


def _apply(
    uow: UnitOfWork, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, result: AttemptResult
) -> None:
    now = uow.now
    uow.session.add(WebhookAttempt(
        delivery_id=delivery.id, attempted_at=now, status="succeeded" if result.ok else "failed",
        response_code=result.response_code, latency_ms=result.latency_ms,
        response_excerpt=result.excerpt, error=result.error,
    ))
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = result.response_code
    delivery.last_error = result.error
    delivery.leased_until = None
    if result.ok:
        delivery.status, delivery.completed_at, delivery.next_attempt_at = "succeeded", now, None
        if endpoint is not None:
            endpoint.consecutive_failures = 0
        return
    if delivery.attempts < MAX_ATTEMPTS:
        delivery.next_attempt_at = now + RETRY_SCHEDULE[delivery.attempts - 1]
        return
    delivery.status, delivery.completed_at, delivery.next_attempt_at = "failed", now, None
    if endpoint is None:
        return
    endpoint.consecutive_failures += 1
    threshold = get_settings().webhook_disable_after
    if endpoint.enabled and endpoint.consecutive_failures >= threshold:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"Disabled after {endpoint.consecutive_failures} deliveries in a row failed "
            f"all {MAX_ATTEMPTS} attempts; last error: {result.error or 'unknown'}"
        )
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)
