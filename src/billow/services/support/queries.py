"""Reading tickets: filtered lists, counts by status, and a ticket's replies and notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from billow.db.models import (
    Ticket,
    TicketNote,
    TicketReply,
    TicketStatus,
)
from billow.db.queries import count_of
from billow.services.support.departments import list_departments
from billow.services.support.lookup import client_ids_for_actor
from billow.services.support.statuses import _status_titles, list_statuses
from billow.uow import UnitOfWork

AWAITING_REPLY, ALL_ACTIVE, MY_FLAGGED = "Awaiting Reply", "All Active Tickets", "My Flagged Tickets"

@dataclass
class TicketFilter:
    department_id: int = 0
    client_id: int = 0
    email: str = ""
    status: str = ""
    subject: str = ""


def _filtered(uow: UnitOfWork, flt: TicketFilter) -> Select[Any]:
    query = select(Ticket).where(Ticket.merged_ticket_id == 0)
    allowed = client_ids_for_actor(uow)
    if allowed is not None:
        query = query.where(Ticket.client_id.in_(allowed or [-1]))
    if flt.department_id:
        query = query.where(Ticket.department_id == flt.department_id)
    if flt.client_id:
        query = query.where(Ticket.client_id == flt.client_id)
    if flt.email:
        query = query.where(Ticket.email == flt.email.strip().lower())  # stored lower-cased
    if flt.subject:
        query = query.where(Ticket.subject.ilike(f"%{flt.subject.strip()}%"))
    status = flt.status.strip()
    if status == AWAITING_REPLY:
        query = query.where(Ticket.status.in_(_status_titles(uow, show_awaiting=True)))
    elif status == ALL_ACTIVE:
        query = query.where(Ticket.status.in_(_status_titles(uow, show_active=True)))
    elif status == MY_FLAGGED:
        query = query.where(
            Ticket.flag == (uow.actor.admin_id or -1),
            Ticket.status.in_(_status_titles(uow, show_active=True)),
        )
    elif status:
        query = query.where(Ticket.status == status)
    return query


def list_tickets(
    uow: UnitOfWork, flt: TicketFilter, *, offset: int = 0, limit: int = 25
) -> tuple[int, list[Ticket]]:
    query = _filtered(uow, flt)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(
        query.order_by(Ticket.last_reply.desc(), Ticket.id.desc()).offset(offset).limit(limit)
    ).all()
    return total, list(rows)


@dataclass
class TicketCounts:
    all_active: int
    awaiting_reply: int
    flagged: int
    by_status: list[tuple[TicketStatus, int]]
    departments: list[int]


def ticket_counts(uow: UnitOfWork, *, department_id: int = 0) -> TicketCounts:
    """Counts over visible, unmerged tickets (optionally one department)."""
    sub = _filtered(uow, TicketFilter(department_id=department_id)).subquery()
    per_status = dict(uow.session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)).all())
    statuses = list_statuses(uow)
    flagged = (
        uow.session.scalar(
            select(func.count()).select_from(
                _filtered(uow, TicketFilter(department_id=department_id, status=MY_FLAGGED)).subquery()
            )
        )
        or 0
    )
    return TicketCounts(
        all_active=sum(per_status.get(s.title, 0) for s in statuses if s.show_active),
        awaiting_reply=sum(per_status.get(s.title, 0) for s in statuses if s.show_awaiting),
        flagged=int(flagged),
        by_status=[(s, int(per_status.get(s.title, 0))) for s in statuses],
        departments=[d.id for d in list_departments(uow)],
    )


def replies_of(uow: UnitOfWork, ticket: Ticket, *, descending: bool = False) -> list[TicketReply]:
    order = (
        (TicketReply.date.desc(), TicketReply.id.desc()) if descending else (TicketReply.date, TicketReply.id)
    )
    return list(
        uow.session.scalars(select(TicketReply).where(TicketReply.ticket_id == ticket.id).order_by(*order))
    )


def notes_of(uow: UnitOfWork, ticket: Ticket) -> list[TicketNote]:
    if uow.actor.kind == "client":
        return []
    return list(
        uow.session.scalars(
            select(TicketNote)
            .where(TicketNote.ticket_id == ticket.id)
            .order_by(TicketNote.date, TicketNote.id)
        )
    )
