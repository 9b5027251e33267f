"""Fan-out: one :class:`WebhookDelivery` per endpoint that wants an outbox event, written
inside the worker's dispatch transaction.
"""

from __future__ import annotations

from billow.db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from billow.services.events.webhook_endpoints import wants
from billow.uow import UnitOfWork


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
