"""The support desk: departments, statuses, tickets, replies, notes, merges and auto-close.

One place for every ticket rule, whichever face calls it (the API, inbound e-mail, the
automation run, a future client area):

- masks (``tid``) are random from the ``TicketMask`` setting (``%A`` letter, ``%n`` digit),
  unique, and say nothing about the row id;
- a client actor (``uow.actor.kind == "client"``) only ever sees tickets of the clients its
  user belongs to; anyone else gets "not found", as if the ticket did not exist;
- a staff reply sets the ticket to ``Answered``, a customer reply to ``Customer-Reply``;
  ``CloseInactiveTickets`` (hours) closes tickets in auto-close statuses (``Answered``)
  that saw no reply for that long, except those the client may not close and clients
  with "override auto close";
- every change raises its WHMCS hook through ``uow.emit`` and asks for the WHMCS e-mail
  template through :func:`billow.events.request_email`.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, and_, delete, func, or_, select

from billow.db.base import Base
from billow.db.models import (
    Admin,
    Client,
    Contact,
    PredefinedReply,
    PredefinedReplyCategory,
    SupportDepartment,
    Ticket,
    TicketAttachment,
    TicketBlockedSender,
    TicketNote,
    TicketReply,
    TicketStatus,
    User,
    UserClient,
)
from billow.db.queries import count_of
from billow.errors import BillowError, NotAllowed, NotFound, ValidationError
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.clients.accounts import _check_custom_fields, save_custom_fields
from billow.services.settings import get_setting
from billow.services.support import attachments as support_files
from billow.services.support.attachments import Upload
from billow.services.support.render import render_message
from billow.uow import UnitOfWork

PRIORITIES = ("Low", "Medium", "High")
CLOSED = "Closed"
#: WHMCS's shipped statuses: title, colour, sort order, active, awaiting reply, auto-close.
DEFAULT_STATUSES = (
    ("Open", "#779500", 1, True, True, False),
    ("Answered", "#000000", 2, True, False, True),
    ("Customer-Reply", "#ff6600", 3, True, True, False),
    ("On Hold", "#224488", 4, True, False, False),
    ("In Progress", "#cc0000", 5, True, False, False),
    ("Closed", "#888888", 10, False, False, False),
)
AWAITING_REPLY, ALL_ACTIVE, MY_FLAGGED = "Awaiting Reply", "All Active Tickets", "My Flagged Tickets"
DEFAULT_MASK = "%A%A%A-%n%n%n%n%n%n"
MASK_ATTEMPTS = 25
#: Finds a ticket mask in a subject: ``[Ticket ID: ABC-123456]`` or a bare ``ABC-123456``.
MASK_IN_SUBJECT = re.compile(r"\[Ticket ID:\s*#?([A-Za-z0-9-]+)\]|\b([A-Z]{3}-\d{6})\b")


# --- statuses, priorities, departments, predefined replies ------------------------------


def ensure_default_statuses(uow: UnitOfWork) -> None:
    """Create WHMCS's default statuses when none exist (fresh install, emptied table)."""
    if uow.session.scalar(select(func.count()).select_from(TicketStatus)):
        return
    for title, color, order, active, awaiting, auto_close in DEFAULT_STATUSES:
        uow.session.add(
            TicketStatus(
                title=title,
                color=color,
                sort_order=order,
                show_active=active,
                show_awaiting=awaiting,
                auto_close=auto_close,
            )
        )
    uow.session.flush()


def list_statuses(uow: UnitOfWork) -> list[TicketStatus]:
    ensure_default_statuses(uow)
    return list(uow.session.scalars(select(TicketStatus).order_by(TicketStatus.sort_order, TicketStatus.id)))


def _status_titles(uow: UnitOfWork, **flag: bool) -> list[str]:
    rows = list_statuses(uow)
    return [s.title for s in rows if all(getattr(s, k) == v for k, v in flag.items())]


def normalise_status(uow: UnitOfWork, status: str, message: str) -> str:
    """Return the configured status spelled as configured, or refuse with *message*."""
    for title in _status_titles(uow):
        if title.lower() == status.strip().lower():
            return title
    raise ValidationError(message.replace("xxx", ",".join(_status_titles(uow))))


def normalise_priority(priority: str) -> str:
    for known in PRIORITIES:
        if known.lower() == priority.strip().lower():
            return known
    raise ValidationError("Invalid Ticket Priority. Valid priorities are: " + ",".join(PRIORITIES))


def add_department(uow: UnitOfWork, name: str, email: str = "", **options: Any) -> SupportDepartment:
    """Create a support department; ``mail_password`` is stored encrypted."""
    from billow import security

    if not name.strip():
        raise ValidationError("Department name is required")
    if email:
        email = _valid_email(email)
    if "mail_password" in options:
        options["mail_password"] = (
            security.encrypt(options["mail_password"]) if options["mail_password"] else ""
        )
    dept = SupportDepartment(name=name.strip(), email=email, **options)
    uow.session.add(dept)
    uow.session.flush()
    return dept


def get_department(
    uow: UnitOfWork, dept_id: int, message: str = "Department ID not found"
) -> SupportDepartment:
    dept = uow.session.get(SupportDepartment, dept_id) if dept_id else None
    if dept is None:
        raise NotFound(message)
    return dept


def list_departments(uow: UnitOfWork) -> list[SupportDepartment]:
    return list(
        uow.session.scalars(
            select(SupportDepartment).order_by(SupportDepartment.sort_order, SupportDepartment.id)
        )
    )


def department_by_address(uow: UnitOfWork, addresses: Iterable[str]) -> SupportDepartment | None:
    wanted = [a.strip().lower() for a in addresses if a and a.strip()]
    if not wanted:
        return None
    for dept in list_departments(uow):
        if dept.email and dept.email.lower() in wanted:
            return dept
    return None


def department_counts(uow: UnitOfWork) -> dict[int, tuple[int, int]]:
    """``{dept_id: (awaiting reply, active)}`` over tickets not merged away."""
    awaiting = set(_status_titles(uow, show_awaiting=True))
    active = set(_status_titles(uow, show_active=True))
    rows = uow.session.execute(
        select(Ticket.department_id, Ticket.status, func.count())
        .where(Ticket.merged_ticket_id == 0)
        .group_by(Ticket.department_id, Ticket.status)
    ).all()
    out: dict[int, list[int]] = {}
    for dept_id, status, count in rows:
        entry = out.setdefault(dept_id, [0, 0])
        entry[0] += count if status in awaiting else 0
        entry[1] += count if status in active else 0
    return {k: (v[0], v[1]) for k, v in out.items()}


def add_predefined_category(uow: UnitOfWork, name: str, parent_id: int = 0) -> PredefinedReplyCategory:
    if not name.strip():
        raise ValidationError("Category name is required")
    cat = PredefinedReplyCategory(name=name.strip(), parent_id=parent_id)
    uow.session.add(cat)
    uow.session.flush()
    return cat


def add_predefined_reply(uow: UnitOfWork, category_id: int, name: str, reply: str) -> PredefinedReply:
    if uow.session.get(PredefinedReplyCategory, category_id) is None:
        raise NotFound("Category ID Not Found")
    row = PredefinedReply(category_id=category_id, name=name.strip(), reply=reply)
    uow.session.add(row)
    uow.session.flush()
    return row


def list_predefined_categories(uow: UnitOfWork) -> list[tuple[PredefinedReplyCategory, int]]:
    counts = dict(
        uow.session.execute(
            select(PredefinedReply.category_id, func.count()).group_by(PredefinedReply.category_id)
        ).all()
    )
    cats = uow.session.scalars(select(PredefinedReplyCategory).order_by(PredefinedReplyCategory.name))
    return [(c, int(counts.get(c.id, 0))) for c in cats]


def list_predefined_replies(uow: UnitOfWork, category_id: int = 0) -> list[PredefinedReply]:
    query = select(PredefinedReply).order_by(PredefinedReply.name, PredefinedReply.id)
    if category_id:
        query = query.where(PredefinedReply.category_id == category_id)
    return list(uow.session.scalars(query))


# --- helpers ----------------------------------------------------------------------------


def _valid_email(email: str, message: str = "Email Address Invalid") -> str:
    try:
        # Lower-cased whole: addresses are matched case-insensitively (filters, e-mail routing).
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationError(message) from None


def parse_created(value: str, *, future_message: str, now: datetime) -> datetime | None:
    """Read WHMCS's ``created`` (ISO 8601 or ``YYYY-MM-DD HH:mm:ss``, UTC when naive)."""
    from datetime import UTC

    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("Invalid Date Format") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ValidationError(future_message)
    return moment


def generate_mask(uow: UnitOfWork) -> str:
    """Return a fresh random ticket mask, unique among tickets."""
    pattern = get_setting(uow, "TicketMask") or DEFAULT_MASK
    for _ in range(MASK_ATTEMPTS):
        mask = _fill_mask(pattern)
        if uow.session.scalar(select(Ticket.id).where(Ticket.tid == mask)) is None:
            return mask
    raise BillowError("Unable to generate ticket number")


def _fill_mask(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "%" and i + 1 < len(pattern):
            code = pattern[i + 1]
            alphabet = {"A": string.ascii_uppercase, "a": string.ascii_lowercase, "n": string.digits}.get(
                code
            )
            if alphabet is not None:
                out.append(secrets.choice(alphabet))
                i += 2
                continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


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
        raise NotFound(message)
    assert ticket is not None
    return ticket


def effective_prevent_closure(uow: UnitOfWork, ticket: Ticket) -> bool:
    if ticket.prevent_client_closure is not None:
        return ticket.prevent_client_closure
    dept = uow.session.get(SupportDepartment, ticket.department_id)
    return bool(dept and dept.prevent_client_closure)


def _dept_name(uow: UnitOfWork, dept_id: int) -> str:
    dept = uow.session.get(SupportDepartment, dept_id)
    return dept.name if dept else ""


def _store_attachments(
    uow: UnitOfWork, ticket: Ticket, kind: str, related_id: int, uploads: list[Upload]
) -> list[TicketAttachment]:
    rows = []
    for position, upload in enumerate(uploads):
        stored = support_files.new_stored_name(upload.name)
        digest = support_files.write_file(stored, upload.data)
        support_files.track_new_file(uow.session, stored)
        row = TicketAttachment(
            ticket_id=ticket.id,
            kind=kind,
            related_id=related_id,
            position=position,
            filename=upload.name,
            stored_name=stored,
            size=len(upload.data),
            sha256=digest,
            created_at=uow.now,
        )
        uow.session.add(row)
        rows.append(row)
    return rows


def check_uploads(uow: UnitOfWork, uploads: list[Upload]) -> list[Upload]:
    return support_files.validate_uploads(uploads, get_setting(uow, "TicketAllowedFileTypes"))


def attachments_of(
    uow: UnitOfWork, kind: str, related_ids: Iterable[int]
) -> dict[int, list[TicketAttachment]]:
    ids = list(related_ids)
    out: dict[int, list[TicketAttachment]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = uow.session.scalars(
        select(TicketAttachment)
        .where(TicketAttachment.kind == kind, TicketAttachment.related_id.in_(ids))
        .order_by(TicketAttachment.position, TicketAttachment.id)
    )
    for row in rows:
        out.setdefault(row.related_id, []).append(row)
    return out


def _remove_files_after_commit(uow: UnitOfWork, rows: Iterable[TicketAttachment]) -> None:
    names = [r.stored_name for r in rows]
    if names:
        uow.after_commit.append(lambda: [support_files.remove_file(n) for n in names] and None)


def _hook_vars(uow: UnitOfWork, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ticketid": ticket.id,
        "ticketmask": ticket.tid,
        "userid": ticket.client_id or 0,
        "deptid": ticket.department_id,
        "deptname": _dept_name(uow, ticket.department_id),
        "subject": ticket.subject,
        "message": ticket.message,
        "priority": ticket.priority,
    }
    data.update(extra)
    return data


# --- opening ----------------------------------------------------------------------------


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
            raise NotFound("Client ID Not Found")
    if contact_id:
        contact = uow.session.get(Contact, contact_id)
        if contact is None or client is None or contact.client_id != client.id:
            raise NotFound("Contact ID Not Found")
    if client is None:
        if not name.strip() or not email.strip():
            raise ValidationError("Name and email address are required if not a client")
        email = _valid_email(email)
    return client, contact, name.strip(), email.strip()


def open_ticket(uow: UnitOfWork, new: NewTicket) -> Ticket:
    """Open a ticket for a client or a guest (name + e-mail), or as staff (``admin``)."""
    allowed = client_ids_for_actor(uow)
    if allowed is not None and new.client_id not in allowed:
        raise NotFound("Client ID Not Found")
    client, contact, name, email = _resolve_requestor(uow, new.client_id, new.contact_id, new.name, new.email)
    if new.user_id:
        linked = client is not None and uow.session.get(UserClient, (new.user_id, client.id)) is not None
        if uow.session.get(User, new.user_id) is None or not linked:
            raise NotFound("The system cannot find the provided user ID.")
    dept = get_department(uow, new.department_id)
    subject, message = new.subject.strip(), new.message.strip()
    if not subject:
        raise ValidationError("Subject is required")
    if not message:
        raise ValidationError("Message is required")
    for id_, table, error in (
        (new.service_id, "services", "Service ID Not Found"),
        (new.domain_id, "domains", "Domain ID Not Found"),
    ):
        if id_:
            owner = _related_owner(uow, table, id_)
            if owner is None or (client is not None and owner != client.id):
                raise NotFound(error)
    priority = normalise_priority(new.priority or "Medium")
    created = (
        parse_created(new.created, future_message="Ticket creation date cannot be in the future", now=uow.now)
        or uow.now
    )
    if new.custom_fields:
        _check_custom_fields(uow, new.custom_fields, required=False, kind="support", relid=dept.id)
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
            raise ValidationError(result.strip())
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


# --- replies and notes ------------------------------------------------------------------


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
        raise ValidationError("Message is required")
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
        _check_custom_fields(
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


def _admin_display(admin: Admin) -> str:
    return f"{admin.firstname} {admin.lastname}".strip() or admin.username


def _actor_admin_name(uow: UnitOfWork) -> str:
    """How WHMCS names the acting admin on tickets: full name, else the username."""
    admin = uow.session.get(Admin, uow.actor.admin_id) if uow.actor.admin_id else None
    return _admin_display(admin) if admin is not None else uow.actor.admin_username


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
        raise NotAllowed("Ticket ID not found")
    ticket = get_ticket(uow, ticket_id, tid)
    if not message.strip():
        raise ValidationError("Message is required")
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


# --- reading ----------------------------------------------------------------------------


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


def _attachment_row(uow: UnitOfWork, kind: str, related_id: int, index: int) -> TicketAttachment:
    """Attachment *index* of a ticket, reply or note the actor may see, or WHMCS's error."""
    if kind not in ("ticket", "reply", "note"):
        raise ValidationError("Invalid Type. Must be one of ticket, reply, note")
    model = {"ticket": Ticket, "reply": TicketReply, "note": TicketNote}[kind]
    owner = uow.session.get(model, related_id)
    ticket_id = owner.id if isinstance(owner, Ticket) else getattr(owner, "ticket_id", 0)
    if (
        owner is None
        or not _visible(uow, uow.session.get(Ticket, ticket_id))
        or (kind == "note" and uow.actor.kind == "client")
    ):
        raise NotFound("Related ID Not Found")
    rows = attachments_of(uow, kind, [related_id])[related_id]
    if not rows:
        raise NotFound("No Attachments Found")
    if all(r.removed for r in rows):
        raise NotFound("Attachments Deleted")
    if index < 0 or index >= len(rows):
        raise NotFound("Invalid Attachment Index")
    row = rows[index]
    if row.removed:
        raise NotFound("Attachments Deleted")
    return row


def get_attachment(uow: UnitOfWork, kind: str, related_id: int, index: int) -> tuple[str, bytes]:
    """Return (filename, bytes) of attachment *index* of a ticket, reply or note."""
    row = _attachment_row(uow, kind, related_id, index)
    data = support_files.read_file(row.stored_name)
    if data is None:
        raise NotFound("Attachments Deleted")
    return row.filename, data


def open_attachment(
    uow: UnitOfWork, kind: str, related_id: int, index: int
) -> tuple[str, IO[bytes], int]:
    """Open attachment *index* for streaming: (filename, binary handle, size).

    Same rules and errors as :func:`get_attachment`; the caller closes the handle. The file
    is opened here, inside the access check, so a download never reads a path that was not
    checked.
    """
    row = _attachment_row(uow, kind, related_id, index)
    opened = support_files.open_file(row.stored_name)
    if opened is None:
        raise NotFound("Attachments Deleted")
    return row.filename, *opened


# --- changing ---------------------------------------------------------------------------


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
            raise NotFound("Client ID Not Found")
    email = _valid_email(changes.email) if changes.email else None
    flag_admin = None
    if changes.flag:
        flag_admin = uow.session.get(Admin, changes.flag)
        if flag_admin is None:
            raise NotFound("Admin ID Not Found")
    if changes.custom_fields:
        _check_custom_fields(
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


def _staff_only(uow: UnitOfWork, message: str) -> None:
    """Refuse staff operations to a client actor, answering as if the record did not exist."""
    if uow.actor.kind == "client":
        raise NotFound(message)


def close_ticket(uow: UnitOfWork, ticket_id: int) -> Ticket:
    """Close a ticket; a client may not when the ticket or its department prevents it."""
    ticket = get_ticket(uow, ticket_id)
    if uow.actor.kind == "client" and effective_prevent_closure(uow, ticket):
        raise NotAllowed("This ticket cannot be closed by the client")
    if ticket.status != CLOSED:
        ticket.status = CLOSED
        uow.emit("TicketClose", {"ticketid": ticket.id}, resource_type="ticket", resource_id=ticket.id)
        _closed_feedback(uow, ticket)
    return ticket


def update_reply(
    uow: UnitOfWork, reply_id: int, message: str, *, markdown: bool | None = None, created: str = ""
) -> TicketReply:
    _staff_only(uow, "Reply ID Not Found")
    reply = uow.session.get(TicketReply, reply_id)
    if reply is None or not _visible(uow, uow.session.get(Ticket, reply.ticket_id)):
        raise NotFound("Reply ID Not Found")
    when = parse_created(created, future_message="Reply creation date cannot be in the future", now=uow.now)
    reply.message = message.strip()
    if markdown is not None:
        reply.markdown = markdown
    if when is not None:
        reply.date = when
    return reply


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
        raise NotFound("Invalid Merge Ticket IDs: " + ", ".join(missing))
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


def delete_reply(uow: UnitOfWork, ticket_id: int, reply_id: int) -> None:
    _staff_only(uow, "Ticket ID Not Found")
    ticket = get_ticket(uow, ticket_id, message="Ticket ID Not Found")
    reply = uow.session.get(TicketReply, reply_id)
    if reply is None or reply.ticket_id != ticket.id:
        raise NotFound("Reply ID Not Found")
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
        raise NotFound("Note ID Not Found")
    rows = attachments_of(uow, "note", [note.id])[note.id]
    for row in rows:
        uow.session.delete(row)
    uow.session.delete(note)
    _remove_files_after_commit(uow, rows)


# --- blocked senders --------------------------------------------------------------------


def requestor_email(uow: UnitOfWork, ticket: Ticket) -> str:
    if ticket.contact_id:
        contact = uow.session.get(Contact, ticket.contact_id)
        if contact is not None and contact.email:
            return contact.email
    if ticket.client_id:
        client = uow.session.get(Client, ticket.client_id)
        return client.email if client else ""
    return ticket.email


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


# --- automation -------------------------------------------------------------------------


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


# --- e-mail merge fields ----------------------------------------------------------------


def ticket_email_fields(uow: UnitOfWork, ticket_id: int) -> dict[str, Any] | None:
    """WHMCS's ticket merge fields, the client to log under, and explicit recipients.

    ``ticket_id`` is the public mask (as in WHMCS), so ``[Ticket ID: {{ ticket_id }}]`` in
    a subject routes the customer's answer back to the ticket. Guests (and CC addresses)
    get explicit recipients; a client ticket without CC leaves them empty, so the e-mail
    goes to the client and the contacts that accept support e-mail.
    """
    from billow.config import get_settings

    ticket = uow.session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        return None
    client = uow.session.get(Client, ticket.client_id) if ticket.client_id else None
    latest = uow.session.scalar(
        select(TicketReply)
        .where(TicketReply.ticket_id == ticket.id)
        .order_by(TicketReply.date.desc(), TicketReply.id.desc())
        .limit(1)
    )
    message = latest.message if latest is not None else ticket.message
    markdown = latest.markdown if latest is not None else ticket.markdown
    base = (get_setting(uow, "SystemURL") or get_settings().system_url).rstrip("/")
    link = f"{base}/viewticket.php?tid={ticket.tid}&c={ticket.c}"
    merge: dict[str, Any] = {
        "ticket_id": ticket.tid,
        "ticket_db_id": ticket.id,
        "ticket_reply_id": latest.id if latest else 0,
        "ticket_department": _dept_name(uow, ticket.department_id),
        "ticket_date_opened": ticket.date.strftime("%Y-%m-%d %H:%M:%S"),
        "ticket_subject": ticket.subject,
        "ticket_message": message,
        # Markdown or text rendered through the sanitiser: safe to mark |safe in an HTML template.
        "ticket_message_html": render_message(message, markdown=markdown),
        "ticket_status": ticket.status,
        "ticket_priority": ticket.priority,
        "ticket_url": link,
        "ticket_link": link,
        "ticket_auto_close_time": inactive_hours(uow),
        "client_name": client.fullname if client else ticket.name,
        "client_email": client.email if client else ticket.email,
    }
    if client is not None:
        merge["client_first_name"], merge["client_id"] = client.firstname, client.id
    cc = [a.strip() for a in ticket.cc.replace(";", ",").split(",") if "@" in a]
    recipients: list[tuple[str, str]] = []
    if client is None:
        recipients = [(ticket.name, ticket.email)]
    elif cc:
        recipients = [(client.fullname, requestor_email(uow, ticket))]
    recipients += [("", a) for a in cc]
    return {"merge": merge, "client_id": client.id if client else 0, "recipients": recipients}


def ticket_email_context(uow: UnitOfWork, ticket_id: int) -> Any:
    """The e-mail sender's resolver for ``support`` templates (``billow.services.mail.context``)."""
    from billow.services.mail.context import MailContext  # the events area's type

    fields = ticket_email_fields(uow, ticket_id)
    return None if fields is None else MailContext(**fields)


def find_mask_in_subject(subject: str) -> str:
    match = MASK_IN_SUBJECT.search(subject or "")
    if not match:
        return ""
    return (match.group(1) or match.group(2) or "").strip()
