"""The Activity Log: services record what they did, in their own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from billow.db.models import ActivityLog
from billow.db.queries import count_of
from billow.uow import UnitOfWork


def log_activity(uow: UnitOfWork, description: str, *, client_id: int = 0, user_id: int = 0) -> ActivityLog:
    entry = ActivityLog(**_entry(uow, description, client_id, user_id))
    uow.session.add(entry)
    return entry


def log_activities(uow: UnitOfWork, entries: list[tuple[str, int]]) -> None:
    """:func:`log_activity` for a batch of ``(description, client_id)``: one INSERT."""
    if entries:
        uow.session.flush()
        uow.session.execute(insert(ActivityLog.__table__),
                            [_entry(uow, text, client_id, 0) for text, client_id in entries])


def _entry(uow: UnitOfWork, description: str, client_id: int, user_id: int) -> dict[str, Any]:
    actor = uow.actor
    return {
        "date": uow.now, "description": description, "user": actor.label, "userid": client_id,
        "user_id": user_id or (actor.user_id or 0), "admin_id": actor.admin_id or 0,
        "ipaddr": actor.ip,
    }


def list_activity(
    uow: UnitOfWork,
    *,
    client_id: int | None = None,
    date_from=None,  # type: ignore[no-untyped-def]
    user: str = "",
    description: str = "",
    ipaddress: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[ActivityLog]]:
    query = select(ActivityLog)
    if client_id:
        query = query.where(ActivityLog.userid == client_id)
    if date_from is not None:
        query = query.where(func.date(ActivityLog.date) == date_from)
    if user:
        query = query.where(ActivityLog.user == user)
    if description:
        query = query.where(ActivityLog.description.like(f"%{description}%"))
    if ipaddress:
        query = query.where(ActivityLog.ipaddr == ipaddress)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(
        query.order_by(ActivityLog.id.desc()).offset(offset).limit(limit)
    ).all()
    return total, list(rows)
