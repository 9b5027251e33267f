"""Webhook endpoints: a URL, the WHMCS hook names it wants (empty: every non-Pre event)
and a ``whsec_`` secret; adding, listing, updating and deleting them.
"""

from __future__ import annotations

from sqlalchemy import func, select

from billow import event_catalog
from billow.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billow.errors import NotFound, ValidationError
from billow.security import decrypt, encrypt
from billow.services.events._webhook_signing import _secret_key, generate_secret
from billow.services.events.ssrf_guard import validate_url
from billow.uow import UnitOfWork

DELIVERY_STATUSES = ("pending", "succeeded", "failed")


def _clean_events(events: list[str]) -> list[str]:
    names = sorted({e.strip() for e in events if e and e.strip()})
    unknown = [n for n in names if n != "*" and not event_catalog.is_known(n)]
    if unknown:
        raise ValidationError(f"Unknown event: {', '.join(unknown)}", code="unknown_event")
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
        raise NotFound("Webhook ID Not Found", code="webhook_not_found")
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


def delivery_counts(uow: UnitOfWork, endpoint_id: int) -> dict[str, int]:
    rows = uow.session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .group_by(WebhookDelivery.status)
    ).all()
    counts = {status: 0 for status in DELIVERY_STATUSES}
    counts.update({status: int(n) for status, n in rows})
    return counts
