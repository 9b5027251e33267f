"""Merging tickets into one (MergeTicket)."""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import (
    Ticket,
    TicketAttachment,
    TicketNote,
    TicketReply,
)
from billow.errors import NotFound
from billow.services.support._ticket_common import _staff_only
from billow.services.support.lookup import _visible, get_ticket
from billow.services.support.statuses import CLOSED
from billow.uow import UnitOfWork


def merge_tickets(uow: UnitOfWork, ticket_id: int, merge_ids: list[int], new_subject: str = "") -> Ticket:
    """Fold *merge_ids* into *ticket_id*: their messages become replies, notes and files move.

    The merged tickets stay (closed, pointing at the master) so their masks keep routing
    e-mail replies and links to the master ticket.
    """
    _staff_only(uow, "Ticket ID Invalid")
    master = get_ticket(uow, ticket_id, message="Ticket ID Invalid")
    ids = [i for i in dict.fromkeys(merge_ids) if i != master.id]
    others = {t.id: t for t in uow.session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    missing = [str(i) for i in ids if i not in others or not _visible(uow, others[i])]
    if missing:
        raise NotFound("Invalid Merge Ticket IDs: " + ", ".join(missing), code="merge_ticket_not_found")
    for other in sorted(others.values(), key=lambda t: t.id):
        opening = TicketReply(
            ticket_id=master.id,
            client_id=other.client_id or 0,
            contact_id=other.contact_id,
            requestor_user_id=other.requestor_user_id,
            name=other.name,
            email=other.email,
            date=other.date,
            message=other.message,
            markdown=other.markdown,
            admin=other.admin,
            admin_id=other.admin_id,
            message_id=other.message_id,
        )
        uow.session.add(opening)
        uow.session.flush()
        for att in uow.session.scalars(
            select(TicketAttachment).where(TicketAttachment.ticket_id == other.id)
        ):
            att.ticket_id = master.id
            if att.kind == "ticket":
                att.kind, att.related_id = "reply", opening.id
        uow.session.execute(
            TicketReply.__table__.update()
            .where(TicketReply.ticket_id == other.id)
            .values(ticket_id=master.id)
        )
        uow.session.execute(
            TicketNote.__table__.update().where(TicketNote.ticket_id == other.id).values(ticket_id=master.id)
        )
        master.last_reply = max(master.last_reply, other.last_reply)
        other.merged_ticket_id, other.status = master.id, CLOSED
    if new_subject.strip():
        master.subject = new_subject.strip()
    uow.session.flush()
    uow.emit(
        "TicketMerge",
        {"mergedTicketIds": sorted(others), "masterTicketId": master.id},
        resource_type="ticket",
        resource_id=master.id,
    )
    return master
