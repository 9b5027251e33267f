"""Blocked senders: blocking a ticket's requestor and checking an address against the list."""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import (
    TicketBlockedSender,
)
from billow.services.support._ticket_common import _staff_only
from billow.services.support.changes import delete_ticket
from billow.services.support.lookup import get_ticket, requestor_email
from billow.uow import UnitOfWork


def block_sender(uow: UnitOfWork, ticket_id: int, *, delete_ticket_too: bool = False) -> bool:
    """Block the ticket's sender address for inbound e-mail; optionally delete the ticket."""
    _staff_only(uow, "Ticket ID Not Found")
    ticket = get_ticket(uow, ticket_id, message="Ticket ID Not Found")
    address = requestor_email(uow, ticket).strip().lower()
    if address and not is_blocked(uow, address):
        uow.session.add(TicketBlockedSender(type="sender", content=address))
    if delete_ticket_too:
        delete_ticket(uow, ticket.id)
    return delete_ticket_too


def is_blocked(uow: UnitOfWork, address: str, subject: str = "", body: str = "") -> bool:
    address = address.strip().lower()
    for rule in uow.session.scalars(select(TicketBlockedSender)):
        content = rule.content.strip().lower()
        if not content:
            continue
        if rule.type == "sender" and (
            content == address or (content.startswith("@") and address.endswith(content))
        ):
            return True
        if rule.type == "subject" and content in subject.lower():
            return True
        if rule.type == "phrase" and content in body.lower():
            return True
    return False
