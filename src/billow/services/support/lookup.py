"""Finding a ticket as the acting user may see it.

A client actor (``uow.actor.kind == "client"``) only ever sees tickets of the clients its
user belongs to; anyone else gets "not found", as if the ticket did not exist.
"""

from __future__ import annotations

from sqlalchemy import select

from billow.db.base import Base
from billow.db.models import (
    Client,
    Contact,
    SupportDepartment,
    Ticket,
    UserClient,
)
from billow.errors import NotFound
from billow.uow import UnitOfWork


def _related_owner(uow: UnitOfWork, table_name: str, row_id: int) -> int | None:
    """Client id owning row *row_id* of another area's table (None: no such row/table)."""
    table = Base.metadata.tables.get(table_name)
    if table is None or "userid" not in table.c:
        return None
    return uow.session.execute(select(table.c.userid).where(table.c.id == row_id)).scalar()


def client_ids_for_actor(uow: UnitOfWork) -> list[int] | None:
    """The clients a client actor may see; None for staff and the system (no limit)."""
    if uow.actor.kind != "client":
        return None
    if not uow.actor.user_id:
        return []
    return list(
        uow.session.scalars(select(UserClient.client_id).where(UserClient.user_id == uow.actor.user_id))
    )


def _visible(uow: UnitOfWork, ticket: Ticket | None) -> bool:
    if ticket is None:
        return False
    allowed = client_ids_for_actor(uow)
    return allowed is None or (ticket.client_id is not None and ticket.client_id in allowed)


def get_ticket(
    uow: UnitOfWork,
    ticket_id: int = 0,
    tid: str = "",
    *,
    message: str = "Ticket ID not found",
    follow_merge: bool = False,
) -> Ticket:
    """Load a ticket by id or mask, enforcing the client access rule."""
    ticket = None
    if ticket_id:
        ticket = uow.session.get(Ticket, ticket_id)
    elif tid:
        ticket = uow.session.scalar(select(Ticket).where(Ticket.tid == tid.strip()))
    if follow_merge:
        seen = 0
        while ticket is not None and ticket.merged_ticket_id and seen < 10:
            ticket = uow.session.get(Ticket, ticket.merged_ticket_id)
            seen += 1
    if not _visible(uow, ticket):
        raise NotFound(message, code="ticket_not_found")
    assert ticket is not None
    return ticket


def effective_prevent_closure(uow: UnitOfWork, ticket: Ticket) -> bool:
    if ticket.prevent_client_closure is not None:
        return ticket.prevent_client_closure
    dept = uow.session.get(SupportDepartment, ticket.department_id)
    return bool(dept and dept.prevent_client_closure)


def requestor_email(uow: UnitOfWork, ticket: Ticket) -> str:
    if ticket.contact_id:
        contact = uow.session.get(Contact, ticket.contact_id)
        if contact is not None and contact.email:
            return contact.email
    if ticket.client_id:
        client = uow.session.get(Client, ticket.client_id)
        return client.email if client else ""
    return ticket.email
