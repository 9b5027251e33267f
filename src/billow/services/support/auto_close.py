"""Closing inactive tickets (the ``CloseInactiveTickets`` automation).

Tickets in auto-close statuses (``Answered``) that saw no reply for ``CloseInactiveTickets``
hours are closed, except those the client may not close and clients with "override auto
close".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select

from billow.db.models import (
    Client,
    SupportDepartment,
    Ticket,
)
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.settings import get_setting
from billow.services.support.statuses import CLOSED, _status_titles
from billow.uow import UnitOfWork


def close_inactive_tickets(uow: UnitOfWork, now: datetime) -> list[int]:
    """WHMCS CloseInactiveTickets: close tickets idle in an auto-close status for N hours.

    N is the ``CloseInactiveTickets`` setting (0 or empty: off). Only statuses marked
    auto-close (``Answered`` by default: waiting for the client) qualify, so a ticket
    awaiting staff is never closed. Skipped: tickets the client may not close
    (``preventClientClosure`` on the ticket or its department) and clients with
    "override auto close". Idempotent: a second run finds nothing left to close.
    """
    closed = []
    for ticket_id in inactive_ticket_ids(uow, now):
        if auto_close_ticket(uow, ticket_id, now):
            closed.append(ticket_id)
    return closed


def inactive_hours(uow: UnitOfWork) -> int:
    try:
        return max(int(get_setting(uow, "CloseInactiveTickets") or 0), 0)
    except ValueError:
        return 0


def _inactive_query(uow: UnitOfWork, now: datetime) -> Select[Any] | None:
    hours = inactive_hours(uow)
    statuses = _status_titles(uow, auto_close=True)
    if hours <= 0 or not statuses:
        return None
    return (
        select(Ticket.id)
        .join(SupportDepartment, SupportDepartment.id == Ticket.department_id)
        .outerjoin(Client, Client.id == Ticket.client_id)
        .where(
            Ticket.status.in_(statuses),
            Ticket.merged_ticket_id == 0,
            Ticket.last_reply <= now - timedelta(hours=hours),
            or_(Client.id.is_(None), Client.overrideautoclose.is_(False)),
            or_(
                Ticket.prevent_client_closure.is_(False),
                and_(
                    Ticket.prevent_client_closure.is_(None),
                    SupportDepartment.prevent_client_closure.is_(False),
                ),
            ),
        )
    )


def inactive_ticket_ids(
    uow: UnitOfWork, now: datetime, *, after: int = 0, limit: int | None = None
) -> list[int]:
    """Ids of tickets :func:`auto_close_ticket` would close now, ascending, above *after*."""
    query = _inactive_query(uow, now)
    if query is None:
        return []
    query = query.where(Ticket.id > after).order_by(Ticket.id)
    if limit is not None:
        query = query.limit(limit)
    return list(uow.session.scalars(query))


def auto_close_ticket(uow: UnitOfWork, ticket_id: int, now: datetime) -> bool:
    """Close one inactive ticket (re-checked here, so a reply since listing keeps it open)."""
    query = _inactive_query(uow, now)
    if query is None or uow.session.scalar(query.where(Ticket.id == ticket_id)) is None:
        return False
    ticket = uow.session.get(Ticket, ticket_id)
    assert ticket is not None
    ticket.status = CLOSED
    uow.emit("TicketClose", {"ticketid": ticket.id}, resource_type="ticket", resource_id=ticket.id)
    request_email(uow, "Support Ticket Auto Close Notification", ticket.id)
    log_activity(
        uow, f"Ticket Auto Closed For Inactivity - Ticket ID: {ticket.id}", client_id=ticket.client_id or 0
    )
    return True
