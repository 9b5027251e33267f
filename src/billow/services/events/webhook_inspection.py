"""Inspecting and replaying webhook deliveries: lists, attempts, counts, retry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from billow.db.models import WebhookAttempt, WebhookDelivery
from billow.db.queries import count_of
from billow.errors import NotAllowed, NotFound, ValidationError
from billow.services.events.webhook_endpoints import DELIVERY_STATUSES, get_endpoint
from billow.uow import UnitOfWork


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
            raise ValidationError(
                f"Invalid status: use one of {', '.join(DELIVERY_STATUSES)}", code="invalid_delivery_status"
            )
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
        raise NotFound("Webhook Delivery ID Not Found", code="webhook_delivery_not_found")
    endpoint = get_endpoint(uow, original.endpoint_id)
    if not endpoint.enabled:
        raise NotAllowed(
            "Webhook endpoint is disabled: enable it before retrying deliveries", code="webhook_disabled"
        )
    replay = WebhookDelivery(
        endpoint_id=original.endpoint_id, event_id=original.event_id, event_uuid=original.event_uuid,
        event_name=original.event_name, resource_key=original.resource_key, status="pending",
        next_attempt_at=uow.now, created_at=uow.now, replay_of=original.id,
    )
    uow.session.add(replay)
    uow.session.flush()
    return replay



def oldest_pending(uow: UnitOfWork) -> datetime | None:
    return uow.session.scalar(select(func.min(WebhookDelivery.created_at)).where(
        WebhookDelivery.status == "pending"))
