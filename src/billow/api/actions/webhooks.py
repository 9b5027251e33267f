"""Billow extension actions for webhook endpoints and their deliveries (see docs/api.md).

WHMCS has no outgoing webhooks; these actions are named and shaped in its style
(``Add``/``Get``/``Update``/``Delete`` + noun, nested ``webhooks.webhook[]`` lists, paging
with ``limitstart``/``limitnum``) so WHMCS client libraries can call them unchanged.
"""

from __future__ import annotations

from typing import Any

from billow.api.actions._shared import page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.db.models import WebhookDelivery, WebhookEndpoint
from billow.errors import ValidationError
from billow.services.events import webhook_endpoints, webhook_inspection


def _events(params: Params) -> list[str] | None:
    if not params.has("events") and not params.has("events[]"):
        return None
    items: list[str] = []
    for value in params.list("events") or params.list("events[]"):
        items.extend(part.strip() for part in str(value).split(",") if part.strip())
    return items


def endpoint_shape(uow: Any, endpoint: WebhookEndpoint) -> dict[str, Any]:
    counts = webhook_endpoints.delivery_counts(uow, endpoint.id)
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or []),
        "enabled": bool(endpoint.enabled),
        "disabledreason": endpoint.disabled_reason,
        "disabledat": whmcs_datetime(endpoint.disabled_at),
        "consecutivefailures": endpoint.consecutive_failures,
        "deliveries": counts,
        "created": whmcs_datetime(endpoint.created_at),
        "updated": whmcs_datetime(endpoint.updated_at),
    }


def add_webhook(ctx: Context, params: Params) -> dict[str, Any]:
    url = params.str("url")
    if not url:
        raise ValidationError("A webhook URL is required")
    endpoint, secret = webhook_endpoints.add_endpoint(
        ctx.uow, url, _events(params) or [], secret=params.str("signingsecret"),
        description=params.str("description"), enabled=params.bool("enabled", True),
    )
    return {"webhookid": endpoint.id, "signingsecret": secret}


def get_webhooks(ctx: Context, params: Params) -> dict[str, Any]:
    webhook_id = params.int("webhookid", error="Webhook ID Not Found")
    if webhook_id:
        rows = [webhook_endpoints.get_endpoint(ctx.uow, webhook_id)]
    else:
        rows = webhook_endpoints.list_endpoints(ctx.uow)
    items = [endpoint_shape(ctx.uow, e) for e in rows]
    return {"totalresults": len(items), "webhooks": {"webhook": items}}


def update_webhook(ctx: Context, params: Params) -> dict[str, Any]:
    endpoint, secret = webhook_endpoints.update_endpoint(
        ctx.uow, params.int("webhookid", error="Webhook ID Not Found"),
        url=params.str("url") if params.has("url") else None,
        events=_events(params),
        secret="new" if params.bool("rotatesecret") else (params.str("signingsecret") or None),
        description=params.str("description") if params.has("description") else None,
        enabled=params.opt_bool("enabled"),
    )
    result: dict[str, Any] = {"webhookid": endpoint.id}
    if secret is not None:
        result["signingsecret"] = secret
    return result


def delete_webhook(ctx: Context, params: Params) -> dict[str, Any]:
    webhook_id = params.int("webhookid", error="Webhook ID Not Found")
    webhook_endpoints.delete_endpoint(ctx.uow, webhook_id)
    return {"webhookid": webhook_id}


def delivery_shape(uow: Any, delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhookid": delivery.endpoint_id,
        "eventid": delivery.event_uuid,
        "event": delivery.event_name,
        "resource": delivery.resource_key,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "responsecode": delivery.response_code,
        "lasterror": delivery.last_error,
        "created": whmcs_datetime(delivery.created_at),
        "lastattempt": whmcs_datetime(delivery.last_attempt_at),
        "nextattempt": whmcs_datetime(delivery.next_attempt_at),
        "completed": whmcs_datetime(delivery.completed_at),
        "replayof": delivery.replay_of,
        "attemptlog": {"attempt": [
            {"date": whmcs_datetime(a.attempted_at), "status": a.status, "responsecode": a.response_code,
             "latency_ms": a.latency_ms, "response": a.response_excerpt, "error": a.error}
            for a in webhook_inspection.attempts_of(uow, delivery.id)
        ]},
    }


def get_webhook_deliveries(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = webhook_inspection.list_deliveries(
        ctx.uow, endpoint_id=params.int("webhookid", error="Webhook ID Not Found"),
        delivery_id=params.int("deliveryid", error="Webhook Delivery ID Not Found"),
        status=params.str("status").lower(), event_name=params.str("event"), offset=start, limit=limit,
    )
    return page(total, start, "deliveries", "delivery", [delivery_shape(ctx.uow, d) for d in rows])


def retry_webhook_delivery(ctx: Context, params: Params) -> dict[str, Any]:
    replay = webhook_inspection.retry_delivery(
        ctx.uow, params.int("deliveryid", error="Webhook Delivery ID Not Found")
    )
    return {"deliveryid": replay.id, "replayof": replay.replay_of}


ACTIONS = [
    Action("AddWebhook", add_webhook, extension=True),
    Action("GetWebhooks", get_webhooks, extension=True),
    Action("UpdateWebhook", update_webhook, extension=True),
    Action("DeleteWebhook", delete_webhook, extension=True),
    Action("GetWebhookDeliveries", get_webhook_deliveries, extension=True),
    Action("RetryWebhookDelivery", retry_webhook_delivery, extension=True),
]
