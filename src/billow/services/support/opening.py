"""Opening a ticket (OpenTicket, inbound e-mail, staff): one shape, :class:`NewTicket`.

Masks (``tid``) are random from the ``TicketMask`` setting (``%A`` letter, ``%n`` digit),
unique, and say nothing about the row id.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from billow.db.models import (
    Client,
    Contact,
    Ticket,
    User,
    UserClient,
)
from billow.errors import NotFound, ValidationError
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.support._ticket_common import (
    _actor_admin_name,
    _dept_name,
    _hook_vars,
    _valid_email,
    generate_mask,
    parse_created,
)
from billow.services.support.attachment_files import Upload
from billow.services.support.departments import get_department
from billow.services.support.lookup import _related_owner, client_ids_for_actor
from billow.services.support.statuses import normalise_priority
from billow.services.support.ticket_attachments import _store_attachments, check_uploads
from billow.uow import UnitOfWork


@dataclass
class NewTicket:
    """What opening a ticket needs; one shape for the API, e-mail import and staff."""

    department_id: int
    subject: str
    message: str
    client_id: int = 0
    user_id: int = 0
    contact_id: int = 0
    name: str = ""
    email: str = ""
    priority: str = "Medium"
    created: str = ""
    service_id: int = 0
    domain_id: int = 0
    admin: bool = False
    markdown: bool = False
    cc: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    attachments: list[Upload] = field(default_factory=list)
    prevent_client_closure: bool | None = None
    notify: bool = True
    message_id: str = ""


def _resolve_requestor(
    uow: UnitOfWork, client_id: int, contact_id: int, name: str, email: str
) -> tuple[Client | None, Contact | None, str, str]:
    client = contact = None
    if client_id:
        client = uow.session.get(Client, client_id)
        if client is None:
            raise NotFound("Client ID Not Found", code="client_not_found")
    if contact_id:
        contact = uow.session.get(Contact, contact_id)
        if contact is None or client is None or contact.client_id != client.id:
            raise NotFound("Contact ID Not Found", code="contact_not_found")
    if client is None:
        if not name.strip() or not email.strip():
            raise ValidationError(
                "Name and email address are required if not a client", code="guest_name_and_email_required"
            )
        email = _valid_email(email)
    return client, contact, name.strip(), email.strip()


def open_ticket(uow: UnitOfWork, new: NewTicket) -> Ticket:
    """Open a ticket for a client or a guest (name + e-mail), or as staff (``admin``)."""
    allowed = client_ids_for_actor(uow)
    if allowed is not None and new.client_id not in allowed:
        raise NotFound("Client ID Not Found", code="client_not_found")
    client, contact, name, email = _resolve_requestor(uow, new.client_id, new.contact_id, new.name, new.email)
    if new.user_id:
        linked = client is not None and uow.session.get(UserClient, (new.user_id, client.id)) is not None
        if uow.session.get(User, new.user_id) is None or not linked:
            raise NotFound("The system cannot find the provided user ID.", code="user_not_found")
    dept = get_department(uow, new.department_id)
    subject, message = new.subject.strip(), new.message.strip()
    if not subject:
        raise ValidationError("Subject is required", code="subject_required")
    if not message:
        raise ValidationError("Message is required", code="message_required")
    for id_, table, error, code in (
        (new.service_id, "services", "Service ID Not Found", "service_not_found"),
        (new.domain_id, "domains", "Domain ID Not Found", "domain_not_found"),
    ):
        if id_:
            owner = _related_owner(uow, table, id_)
            if owner is None or (client is not None and owner != client.id):
                raise NotFound(error, code=code)
    priority = normalise_priority(new.priority or "Medium")
    created = (
        parse_created(new.created, future_message="Ticket creation date cannot be in the future", now=uow.now)
        or uow.now
    )
    if new.custom_fields:
        check_custom_fields(uow, new.custom_fields, required=False, kind="support", relid=dept.id)
    uploads = check_uploads(uow, new.attachments)
    for result in uow.emit(
        "TicketOpenValidation",
        {
            "clientId": client.id if client else 0,
            "contactId": contact.id if contact else 0,
            "name": name,
            "email": email,
            "isAdmin": new.admin,
            "departmentId": dept.id,
            "subject": subject,
            "message": message,
            "priority": priority,
            "relatedService": f"S{new.service_id}"
            if new.service_id
            else (f"D{new.domain_id}" if new.domain_id else ""),
            "customfields": new.custom_fields,
        },
        outbox=False,
    ):
        if isinstance(result, str) and result.strip():
            raise ValidationError(result.strip(), code="rejected_by_hook")
    actor = uow.actor
    ticket = Ticket(
        tid=generate_mask(uow),
        c="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8)),
        department_id=dept.id,
        client_id=client.id if client else None,
        contact_id=contact.id if contact else 0,
        requestor_user_id=new.user_id or (actor.user_id or 0 if actor.kind == "client" else 0),
        name="" if client else name,
        email="" if client else email,
        cc=new.cc,
        date=created,
        subject=subject,
        message=message,
        markdown=new.markdown,
        status="Open",
        priority=priority,
        admin=_actor_admin_name(uow) if new.admin and actor.kind == "admin" else "",
        admin_id=actor.admin_id or 0 if new.admin else 0,
        last_reply=created,
        service_id=new.service_id,
        domain_id=new.domain_id,
        prevent_client_closure=new.prevent_client_closure,
        message_id=new.message_id[:255],
    )
    uow.session.add(ticket)
    uow.session.flush()
    if new.custom_fields:
        save_custom_fields(uow, "support", ticket.id, new.custom_fields)
    _store_attachments(uow, ticket, "ticket", ticket.id, uploads)
    uow.emit(
        "TicketOpenAdmin" if new.admin else "TicketOpen",
        _hook_vars(uow, ticket),
        resource_type="ticket",
        resource_id=ticket.id,
    )
    if new.notify:
        request_email(
            uow, "Support Ticket Opened by Admin" if new.admin else "Support Ticket Opened", ticket.id
        )
    if not new.admin:
        # An admin template: the admin resolver knows no ticket, so the fields travel along.
        request_email(uow, "Support Ticket Created", ticket.id, ticket_id=ticket.tid,
                      ticket_subject=ticket.subject, ticket_priority=ticket.priority,
                      ticket_department=_dept_name(uow, ticket.department_id),
                      client_name=client.fullname if client is not None else name)
    log_activity(uow, f"New Support Ticket Opened - Ticket ID: {ticket.id}", client_id=ticket.client_id or 0)
    return ticket
