"""Webhook endpoints and deliveries: signed, retried, ordered per resource, replayable.

An endpoint names a URL, the WHMCS hook names it wants (empty: every non-Pre event) and a
``whsec_`` secret. The worker turns each outbox event into one :class:`WebhookDelivery`
per matching endpoint (:func:`fan_out`, inside the dispatch transaction), then POSTs due
deliveries (:func:`claim_due` → :func:`send` → :func:`record_attempt`), each step in its
own short transaction so no HTTP call ever runs while a database lock is held.

Signing follows the Standard Webhooks specification: ``webhook-id`` is the event's uuid
(stable across retries and replays, so receivers de-duplicate on it), ``webhook-timestamp``
the attempt's Unix time, and ``webhook-signature`` ``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body`` keyed with the base64 part of the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from billow import event_catalog
from billow.config import get_settings
from billow.db.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billow.db.queries import count_of
from billow.errors import NotAllowed, NotFound, ValidationError
from billow.security import decrypt, encrypt
from billow.uow import UnitOfWork

log = logging.getLogger("billow.webhooks")

SECRET_PREFIX = "whsec_"
#: Waits after each failed attempt: about 3.5 days in all before a delivery is failed
#: (the Standard Webhooks schedule, stretched to cover a long weekend outage).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10), timedelta(hours=14),
    timedelta(hours=20), timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
EXCERPT_CHARS = 1000
DELIVERY_STATUSES = ("pending", "succeeded", "failed")
USER_AGENT = "Billow-Webhooks/1"


# --- secrets and signatures -------------------------------------------------------------

def generate_secret() -> str:
    """Return a new ``whsec_`` secret: 24 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ValidationError("Webhook secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValidationError("Webhook secret must hold at least 16 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` header value for one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- SSRF guard ---------------------------------------------------------------------------

def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def validate_url(url: str, *, resolve: bool = False) -> str:
    """Check a webhook URL: http(s), a host, and no private target unless allowed.

    Use ``resolve=True`` right before sending, so a name that now points at a private
    address is refused too.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Webhook URL must be an absolute http or https URL")
    if parts.username or parts.password:
        raise ValidationError("Webhook URL must not contain credentials")
    if get_settings().webhook_allow_private:
        return url
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise ValidationError("Webhook URL targets a private or loopback address")
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise ValidationError(f"Webhook host {host} does not resolve: {exc}") from None
            addresses = [str(info[4][0]) for info in infos]
    if any(_address_refused(a) for a in addresses):
        raise ValidationError("Webhook URL targets a private or loopback address")
    return url


# --- endpoints ------------------------------------------------------------------------------

def _clean_events(events: list[str]) -> list[str]:
    names = sorted({e.strip() for e in events if e and e.strip()})
    unknown = [n for n in names if n != "*" and not event_catalog.is_known(n)]
    if unknown:
        raise ValidationError(f"Unknown event: {', '.join(unknown)}")
    return [] if "*" in names else names


def add_endpoint(
    uow: UnitOfWork, url: str, events: list[str], *, secret: str = "", description: str = "",
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its secret (generated when none is given)."""
    url = validate_url(url)
    secret = secret.strip() or generate_secret()
    _secret_key(secret)
    endpoint = WebhookEndpoint(
        url=url, events=_clean_events(events), secret_encrypted=encrypt(secret),
        description=description, enabled=enabled, created_at=uow.now, updated_at=uow.now,
    )
    uow.session.add(endpoint)
    uow.session.flush()
    return endpoint, secret


def get_endpoint(uow: UnitOfWork, endpoint_id: int) -> WebhookEndpoint:
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id) if endpoint_id else None
    if endpoint is None:
        raise NotFound("Webhook ID Not Found")
    return endpoint


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return decrypt(endpoint.secret_encrypted)


def list_endpoints(uow: UnitOfWork) -> list[WebhookEndpoint]:
    return list(uow.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def update_endpoint(
    uow: UnitOfWork, endpoint_id: int, *, url: str | None = None, events: list[str] | None = None,
    secret: str | None = None, description: str | None = None, enabled: bool | None = None,
) -> tuple[WebhookEndpoint, str | None]:
    """Change an endpoint; a given *secret* (``"new"`` rotates) is returned, else None."""
    endpoint = get_endpoint(uow, endpoint_id)
    if url is not None:
        endpoint.url = validate_url(url)
    if events is not None:
        endpoint.events = _clean_events(events)
    new_secret: str | None = None
    if secret is not None and secret.strip():
        new_secret = generate_secret() if secret.strip() == "new" else secret.strip()
        _secret_key(new_secret)
        endpoint.secret_encrypted = encrypt(new_secret)
    if description is not None:
        endpoint.description = description
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason, endpoint.disabled_at = "", None
            endpoint.consecutive_failures = 0
        else:
            endpoint.disabled_reason, endpoint.disabled_at = "Disabled by an administrator", uow.now
    endpoint.updated_at = uow.now
    return endpoint, new_secret


def delete_endpoint(uow: UnitOfWork, endpoint_id: int) -> None:
    endpoint = get_endpoint(uow, endpoint_id)
    uow.session.execute(
        WebhookAttempt.__table__.delete().where(
            WebhookAttempt.delivery_id.in_(
                select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
        )
    )
    uow.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.endpoint_id == endpoint.id))
    uow.session.delete(endpoint)


def wants(endpoint: WebhookEndpoint, event_name: str) -> bool:
    if event_name in event_catalog.INTERNAL_EVENTS:
        return False
    if endpoint.events:
        return event_name in endpoint.events
    return event_catalog.is_known(event_name) and not event_catalog.CATALOGUE[event_name].is_pre


# --- fan-out, claim, send, record -------------------------------------------------------------

def fan_out(uow: UnitOfWork, event: OutboxEvent, endpoints: list[WebhookEndpoint]) -> int:
    """Create a delivery of *event* for every enabled endpoint that wants it."""
    created = 0
    key = f"{event.resource_type}:{event.resource_id}" if event.resource_type else ""
    for endpoint in endpoints:
        if endpoint.enabled and wants(endpoint, event.name):
            uow.session.add(WebhookDelivery(
                endpoint_id=endpoint.id, event_id=event.id, event_uuid=event.uuid,
                event_name=event.name, resource_key=key, status="pending",
                next_attempt_at=uow.now, created_at=uow.now,
            ))
            created += 1
    return created


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


# --- inspection and replay ---------------------------------------------------------------------

def list_deliveries(
    uow: UnitOfWork, *, endpoint_id: int = 0, delivery_id: int = 0, status: str = "",
    event_name: str = "", offset: int = 0, limit: int = 25,
) -> tuple[int, list[WebhookDelivery]]:
    query = select(WebhookDelivery)
    if endpoint_id:
        get_endpoint(uow, endpoint_id)
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if delivery_id:
        query = query.where(WebhookDelivery.id == delivery_id)
    if status:
        if status not in DELIVERY_STATUSES:
            raise ValidationError(f"Invalid status: use one of {', '.join(DELIVERY_STATUSES)}")
        query = query.where(WebhookDelivery.status == status)
    if event_name:
        query = query.where(WebhookDelivery.event_name == event_name)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(WebhookDelivery.id.desc()).offset(offset).limit(limit))
    return total, list(rows)


def attempts_of(uow: UnitOfWork, delivery_id: int) -> list[WebhookAttempt]:
    return list(uow.session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    ))


def retry_delivery(uow: UnitOfWork, delivery_id: int) -> WebhookDelivery:
    """Replay a delivery as a new one (same event, same ``webhook-id``), due now."""
    original = uow.session.get(WebhookDelivery, delivery_id) if delivery_id else None
    if original is None:
        raise NotFound("Webhook Delivery ID Not Found")
    endpoint = get_endpoint(uow, original.endpoint_id)
    if not endpoint.enabled:
        raise NotAllowed("Webhook endpoint is disabled: enable it before retrying deliveries")
    replay = WebhookDelivery(
        endpoint_id=original.endpoint_id, event_id=original.event_id, event_uuid=original.event_uuid,
        event_name=original.event_name, resource_key=original.resource_key, status="pending",
        next_attempt_at=uow.now, created_at=uow.now, replay_of=original.id,
    )
    uow.session.add(replay)
    uow.session.flush()
    return replay


def delivery_counts(uow: UnitOfWork, endpoint_id: int) -> dict[str, int]:
    rows = uow.session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .group_by(WebhookDelivery.status)
    ).all()
    counts = {status: 0 for status in DELIVERY_STATUSES}
    counts.update({status: int(n) for status, n in rows})
    return counts


def oldest_pending(uow: UnitOfWork) -> datetime | None:
    return uow.session.scalar(select(func.min(WebhookDelivery.created_at)).where(
        WebhookDelivery.status == "pending"))


class _GuardedBackend(httpcore.SyncBackend):
    """Connect only to public addresses, checked on the address actually connected to.

    Resolving once to check and letting the HTTP library resolve again to connect would let a
    name re-point to an internal address in between (DNS rebinding); here the checked address
    is the one used. TLS still verifies the certificate against the URL's host name.
    """

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:
        if not get_settings().webhook_allow_private:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
            public = [str(info[4][0]) for info in infos if not _address_refused(str(info[4][0]))]
            if not public:
                raise httpcore.ConnectError(f"{host} resolves only to private or loopback addresses")
            host = public[0]
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # Same pool httpx builds, with the guarded network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_GuardedBackend(),
        )


def new_client() -> httpx.Client:
    """The HTTP client of one worker: timeouts, no redirects, no proxies, public targets only."""
    timeout = get_settings().webhook_timeout_seconds
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False,
        trust_env=False, transport=_GuardedTransport(limits),
    )
