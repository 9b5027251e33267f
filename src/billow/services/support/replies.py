"""Replies and staff notes on a ticket: adding, editing and deleting them.

A staff reply sets the ticket to ``Answered``, a customer reply to ``Customer-Reply``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from billow.db.models import (
    Admin,
    Ticket,
    TicketNote,
    TicketReply,
)
from billow.errors import NotAllowed, NotFound, ValidationError
from billow.events import request_email
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.support._ticket_common import (
    _actor_admin_name,
    _admin_display,
    _hook_vars,
    _staff_only,
    parse_created,
)
from billow.services.support.attachment_files import Upload
from billow.services.support.lookup import _visible, get_ticket
from billow.services.support.opening import _resolve_requestor
from billow.services.support.statuses import CLOSED, normalise_status
from billow.services.support.ticket_attachments import (
    _remove_files_after_commit,
    _store_attachments,
    attachments_of,
    check_uploads,
)
from billow.uow import UnitOfWork


@dataclass
class NewReply:
    ticket_id: int
    message: str
    client_id: int = 0
    contact_id: int = 0
    admin_username: str = ""
    name: str = ""
    email: str = ""
    status: str = ""
    markdown: bool = False
    created: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    attachments: list[Upload] = field(default_factory=list)
    notify: bool = True
    message_id: str = ""


def add_reply(uow: UnitOfWork, new: NewReply) -> TicketReply:
    """Add a staff, client or guest reply; set the status WHMCS sets after it."""
    ticket = get_ticket(uow, new.ticket_id)
    if uow.actor.kind == "client":
        new.admin_username = ""
        new.client_id = ticket.client_id or 0
    is_admin = bool(new.admin_username)
    client = contact = None
    name, email = new.name.strip(), new.email.strip()
    if not is_admin:
        client, contact, name, email = _resolve_requestor(uow, new.client_id, new.contact_id, name, email)
    message = new.message.strip()
    if not message:
        raise ValidationError("Message is required", code="message_required")
    status = (
        normalise_status(uow, new.status, "Invalid Ticket Status")
        if new.status
        else ("Answered" if is_admin else "Customer-Reply")
    )
    created = (
        parse_created(new.created, future_message="Reply creation date cannot be in the future", now=uow.now)
        or uow.now
    )
    if new.custom_fields:
        check_custom_fields(
            uow, new.custom_fields, required=False, kind="support", relid=ticket.department_id
        )
    uploads = check_uploads(uow, new.attachments)
    admin = None
    if is_admin:
        admin = uow.session.scalar(select(Admin).where(Admin.username == new.admin_username))
    reply = TicketReply(
        ticket_id=ticket.id,
        client_id=client.id if client else 0,
        contact_id=contact.id if contact else 0,
        requestor_user_id=uow.actor.user_id or 0 if uow.actor.kind == "client" else 0,
        name="" if client or is_admin else name,
        email="" if client or is_admin else email,
        date=created,
        message=message,
        markdown=new.markdown,
        admin=_admin_display(admin) if admin else new.admin_username,
        admin_id=admin.id if admin else 0,
        message_id=new.message_id[:255],
    )
    uow.session.add(reply)
    uow.session.flush()
    if new.custom_fields:
        save_custom_fields(uow, "support", ticket.id, new.custom_fields)
    _store_attachments(uow, ticket, "reply", reply.id, uploads)
    previous = ticket.status
    ticket.status = status
    ticket.last_reply = max(ticket.last_reply, created)
    variables = _hook_vars(uow, ticket, replyid=reply.id, message=message, status=status)
    if is_admin:
        variables["admin"] = reply.admin
        variables.pop("ticketmask")
        variables.pop("userid")
        uow.emit("TicketAdminReply", variables, resource_type="ticket", resource_id=ticket.id)
        if new.notify:
            request_email(uow, "Support Ticket Reply", ticket.id, reply_id=reply.id)
    else:
        variables.pop("ticketmask")
        uow.emit("TicketUserReply", variables, resource_type="ticket", resource_id=ticket.id)
    if status == CLOSED and previous != CLOSED:
        uow.emit("TicketClose", {"ticketid": ticket.id}, resource_type="ticket", resource_id=ticket.id)
    return reply


def add_note(
    uow: UnitOfWork,
    message: str,
    *,
    ticket_id: int = 0,
    tid: str = "",
    markdown: bool = False,
    created: str = "",
    attachments: list[Upload] | None = None,
) -> TicketNote:
    """Add a staff-only note (never shown to the client, never e-mailed)."""
    if uow.actor.kind == "client":
        raise NotAllowed("Ticket ID not found", code="ticket_not_found")
    ticket = get_ticket(uow, ticket_id, tid)
    if not message.strip():
        raise ValidationError("Message is required", code="message_required")
    when = (
        parse_created(created, future_message="Ticket creation date cannot be in the future", now=uow.now)
        or uow.now
    )
    uploads = check_uploads(uow, attachments or [])
    note = TicketNote(
        ticket_id=ticket.id,
        admin=_actor_admin_name(uow),
        admin_id=uow.actor.admin_id or 0,
        date=when,
        message=message.strip(),
        markdown=markdown,
    )
    uow.session.add(note)
    uow.session.flush()
    stored = _store_attachments(uow, ticket, "note", note.id, uploads)
    uow.emit(
        "TicketAddNote",
        {
            "ticketid": ticket.id,
            "message": note.message,
            "adminid": note.admin_id,
            "attachments": "|".join(a.stored_name for a in stored),
        },
        resource_type="ticket",
        resource_id=ticket.id,
    )
    return note


def update_reply(
    uow: UnitOfWork, reply_id: int, message: str, *, markdown: bool | None = None, created: str = ""
) -> TicketReply:
    _staff_only(uow, "Reply ID Not Found", code="reply_not_found")
    reply = uow.session.get(TicketReply, reply_id)
    if reply is None or not _visible(uow, uow.session.get(Ticket, reply.ticket_id)):
        raise NotFound("Reply ID Not Found", code="reply_not_found")
    when = parse_created(created, future_message="Reply creation date cannot be in the future", now=uow.now)
    reply.message = message.strip()
    if markdown is not None:
        reply.markdown = markdown
    if when is not None:
        reply.date = when
    return reply


def delete_reply(uow: UnitOfWork, ticket_id: int, reply_id: int) -> None:
    _staff_only(uow, "Ticket ID Not Found")
    ticket = get_ticket(uow, ticket_id, message="Ticket ID Not Found")
    reply = uow.session.get(TicketReply, reply_id)
    if reply is None or reply.ticket_id != ticket.id:
        raise NotFound("Reply ID Not Found", code="reply_not_found")
    rows = attachments_of(uow, "reply", [reply.id])[reply.id]
    for row in rows:
        uow.session.delete(row)
    uow.session.delete(reply)
    _remove_files_after_commit(uow, rows)
    uow.emit(
        "TicketDeleteReply",
        {"ticketId": ticket.id, "replyId": reply_id, "adminId": uow.actor.admin_id or 0},
        resource_type="ticket",
        resource_id=ticket.id,
    )


def delete_note(uow: UnitOfWork, note_id: int) -> None:
    note = uow.session.get(TicketNote, note_id)
    if note is None or uow.actor.kind == "client":
        raise NotFound("Note ID Not Found", code="note_not_found")
    rows = attachments_of(uow, "note", [note.id])[note.id]
    for row in rows:
        uow.session.delete(row)
    uow.session.delete(note)
    _remove_files_after_commit(uow, rows)
