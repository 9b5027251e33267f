"""The module queue: failed module calls, listed and retried (services and addons)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.db.models import ModuleQueueEntry
from billow.errors import NotFound, ValidationError
from billow.modules.servers.base import ModuleResult
from billow.services.hosting import addon_provisioning
from billow.services.hosting._exchange import BY_FUNCTION
from billow.services.hosting.provisioning import get_service, run
from billow.uow import UnitOfWork


def list_queue(
    uow: UnitOfWork,
    *,
    service_type: str = "",
    related_id: int = 0,
    module: str = "",
    action: str = "",
    since: Any = None,
    include_completed: bool = False,
) -> list[ModuleQueueEntry]:
    query = select(ModuleQueueEntry).order_by(ModuleQueueEntry.id)
    if not include_completed:
        query = query.where(ModuleQueueEntry.completed.is_(False))
    if service_type:
        query = query.where(ModuleQueueEntry.service_type == service_type)
    if related_id:
        query = query.where(ModuleQueueEntry.service_id == related_id)
    if module:
        query = query.where(ModuleQueueEntry.module_name == module)
    if action:
        query = query.where(ModuleQueueEntry.module_action == action)
    if since is not None:
        query = query.where(ModuleQueueEntry.last_attempt >= since)
    return list(uow.session.scalars(query))


def retry(uow: UnitOfWork, entry_id: int) -> ModuleResult:
    """Run a queued failed action again; success marks the entry completed."""
    entry = uow.session.get(ModuleQueueEntry, entry_id)
    if entry is None:
        raise NotFound("Module queue entry not found", code="module_queue_entry_not_found")
    if entry.completed:
        return ModuleResult.ok()
    key = BY_FUNCTION.get(entry.module_action)
    if key is None:
        raise ValidationError(f"Cannot retry {entry.module_action}", code="module_action_not_retryable")
    if entry.service_type == "addon":
        return addon_provisioning.retry(uow, entry, key)
    service = get_service(uow, entry.service_id)
    return run(uow, service, key, reason=str((entry.arguments or {}).get("reason", "")))
