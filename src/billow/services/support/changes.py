"""Changing a ticket: UpdateTicket's fields, closing and deleting.

Every change raises its WHMCS hook through ``uow.emit`` and asks for the WHMCS e-mail
template through :func:`billow.events.request_email`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from billow.db.models import (
    Admin,
    Client,
    SupportDepartment,
    Ticket,
    TicketAttachment,
    TicketNote,
    TicketReply,
)
from billow.errors import NotAllowed, NotFound
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.support._ticket_common import _admin_display, _staff_only, _valid_email, parse_created
from billow.services.support.departments import get_department
from billow.services.support.lookup import effective_prevent_closure, get_ticket
from billow.services.support.statuses import CLOSED, normalise_priority, normalise_status
from billow.services.support.ticket_attachments import _remove_files_after_commit
from billow.uow import UnitOfWork


@dataclass
class TicketChanges:
    """UpdateTicket's optional fields: None means "not sent, leave as is"."""

    department_id: int | None = None
    status: str | None = None
    subject: str | None = None
    client_id: int | None = None
    name: str | None = None
    email: str | None = None
    cc: str | None = None
    priority: str | None = None
    created: str | None = None
    flag: int | None = None
    remove_flag: bool = False
    message: str | None = None
    markdown: bool | None = None
    custom_fields: dict[str, str] | None = None
    prevent_client_closure: bool | None = None


def update_ticket(uow: UnitOfWork, ticket_id: int, changes: TicketChanges) -> Ticket:
    """Apply UpdateTicket's changes after validating all of them; emit one hook per change."""
    _staff_only(uow, "Ticket ID Not Found")
    ticket = get_ticket(uow, ticket_id, message="Ticket ID Not Found")
    dept = (
        get_department(uow, changes.department_id, "Department ID Not Found")
        if changes.department_id
        else None
    )
    priority = normalise_priority(changes.priority) if changes.priority else None
    status = (
        normalise_status(uow, changes.status, "Invalid Ticket Status. Valid statuses are: xxx")
        if changes.status
        else None
    )
    created = parse_created(
        changes.created or "", future_message="Ticket creation date cannot be in the future", now=uow.now
    )
    client = None
    if changes.client_id:
        client = uow.session.get(Client, changes.client_id)
        if client is None:
            raise NotFound("Client ID Not Found", code="client_not_found")
    email = _valid_email(changes.email) if changes.email else None
    flag_admin = None
    if changes.flag:
        flag_admin = uow.session.get(Admin, changes.flag)
        if flag_admin is None:
            raise NotFound("Admin ID Not Found", code="admin_not_found")
    if changes.custom_fields:
        check_custom_fields(
            uow,
            changes.custom_fields,
            required=False,
            kind="support",
            relid=dept.id if dept else ticket.department_id,
        )
    hooks: list[tuple[str, dict[str, Any]]] = []
    if dept is not None and dept.id != ticket.department_id:
        ticket.department_id = dept.id
        if changes.prevent_client_closure is None:
            ticket.prevent_client_closure = None  # follow the new department's setting
        hooks.append(
            ("TicketDepartmentChange", {"ticketid": ticket.id, "deptid": dept.id, "deptname": dept.name})
        )
    if changes.prevent_client_closure is not None:
        ticket.prevent_client_closure = changes.prevent_client_closure
    if changes.subject is not None and changes.subject.strip() and changes.subject.strip() != ticket.subject:
        ticket.subject = changes.subject.strip()
        hooks.append(("TicketSubjectChange", {"ticketid": ticket.id, "subject": ticket.subject}))
    if priority and priority != ticket.priority:
        ticket.priority = priority
        hooks.append(("TicketPriorityChange", {"ticketid": ticket.id, "priority": priority}))
    if status and status != ticket.status:
        ticket.status = status
        hooks.append(
            (
                "TicketStatusChange",
                {"adminid": uow.actor.admin_id or 0, "status": status, "ticketid": ticket.id},
            )
        )
        if status == CLOSED:
            hooks.append(("TicketClose", {"ticketid": ticket.id}))
    if client is not None:
        ticket.client_id, ticket.contact_id, ticket.name, ticket.email = client.id, 0, "", ""
    if changes.name is not None:
        ticket.name = changes.name.strip()
    if email is not None:
        ticket.email = email
    if changes.cc is not None:
        ticket.cc = changes.cc.strip()
    if created is not None:
        ticket.date = created
    if changes.remove_flag:
        ticket.flag = 0
    elif flag_admin is not None and flag_admin.id != ticket.flag:
        ticket.flag = flag_admin.id
        hooks.append(
            (
                "TicketFlagged",
                {"ticketid": ticket.id, "adminid": flag_admin.id, "adminname": _admin_display(flag_admin)},
            )
        )
    if changes.message is not None and changes.message.strip():
        ticket.message = changes.message.strip()
    if changes.markdown is not None:
        ticket.markdown = changes.markdown
    if changes.custom_fields:
        save_custom_fields(uow, "support", ticket.id, changes.custom_fields)
    for name, variables in hooks:
        uow.emit(name, variables, resource_type="ticket", resource_id=ticket.id)
    if status == CLOSED and any(n == "TicketClose" for n, _ in hooks):
        _closed_feedback(uow, ticket)
    return ticket


def _closed_feedback(uow: UnitOfWork, ticket: Ticket) -> None:
    dept = uow.session.get(SupportDepartment, ticket.department_id)
    if dept is not None and dept.feedback_request:
        request_email(uow, "Support Ticket Feedback Request", ticket.id)


def close_ticket(uow: UnitOfWork, ticket_id: int) -> Ticket:
    """Close a ticket; a client may not when the ticket or its department prevents it."""
    ticket = get_ticket(uow, ticket_id)
    if uow.actor.kind == "client" and effective_prevent_closure(uow, ticket):
        raise NotAllowed("This ticket cannot be closed by the client", code="ticket_closure_prevented")
    if ticket.status != CLOSED:
        ticket.status = CLOSED
        uow.emit("TicketClose", {"ticketid": ticket.id}, resource_type="ticket", resource_id=ticket.id)
        _closed_feedback(uow, ticket)
    return ticket


def delete_ticket(uow: UnitOfWork, ticket_id: int) -> None:
    """Delete a ticket with its replies, notes and files (after commit).

    Tickets merged into it are only shells whose content now lives here, so they go too.
    """
    _staff_only(uow, "Ticket ID not found")
    ticket = get_ticket(uow, ticket_id)
    doomed = [ticket.id]
    frontier = [ticket.id]
    while frontier:
        frontier = list(uow.session.scalars(select(Ticket.id).where(Ticket.merged_ticket_id.in_(frontier))))
        doomed += [i for i in frontier if i not in doomed]
    rows = list(uow.session.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id.in_(doomed))))
    uow.session.execute(delete(TicketAttachment).where(TicketAttachment.ticket_id.in_(doomed)))
    uow.session.execute(delete(TicketReply).where(TicketReply.ticket_id.in_(doomed)))
    uow.session.execute(delete(TicketNote).where(TicketNote.ticket_id.in_(doomed)))
    uow.session.execute(delete(Ticket).where(Ticket.id.in_([i for i in doomed if i != ticket.id])))
    uow.session.delete(ticket)
    _remove_files_after_commit(uow, rows)
    uow.emit(
        "TicketDelete",
        {"ticketId": ticket_id, "adminId": uow.actor.admin_id or 0},
        resource_type="ticket",
        resource_id=ticket_id,
    )
    log_activity(uow, f"Deleted Ticket - Ticket ID: {ticket_id}", client_id=ticket.client_id or 0)
