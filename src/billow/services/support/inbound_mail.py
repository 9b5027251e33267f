"""Importing inbound support e-mail: a parsed message becomes a ticket or a reply, or is dropped.

Routing, as WHMCS pipes mail:

- the ticket mask in the subject (``[Ticket ID: ABC-123456]``) makes it a reply on that
  ticket (a merged ticket's mask reaches the ticket it was merged into); the quoted
  earlier conversation is cut off;
- otherwise the department is the one whose address the mail was sent to (``To``, ``Cc``,
  ``Delivered-To``, ``X-Original-To``), and the mail opens a ticket there for the client
  (or contact) with that sender address, or for a guest when the department allows;
- auto-responders (``Auto-Submitted``, ``Precedence: bulk/junk/list``, ``X-Autoreply``,
  bounces), mail loops (our own department addresses as sender, our ``X-Loop`` marker)
  and blocked senders are dropped: logged in the ticket mail log, never answered.

Every message, imported or dropped, leaves one row in ``ticket_mail_log``; a Message-ID
imported before is not imported again (IMAP re-polls and MTA retries are harmless).
Parsing itself is :mod:`billow.services.support.mail_parsing`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from billow.config import get_settings
from billow.db.models import Admin, Client, Contact, SupportDepartment, Ticket, TicketMailLog
from billow.errors import BillowError
from billow.services.settings import get_setting
from billow.services.support import blocklist, departments, lookup, mail_fields, opening, replies
from billow.services.support.attachment_files import (
    Upload,
    discard_new_files,
    new_files_mark,
    safe_filename,
    validate_uploads,
)
from billow.services.support.mail_parsing import ParsedMail, parse_message, strip_quoted_reply
from billow.uow import UnitOfWork

log = logging.getLogger("billow.support.mail")


IMPORTED, REPLY_IMPORTED = "Ticket Imported Successfully", "Ticket Reply Imported Successfully"

AUTO_RESPONDER, LOOP, BLOCKED = "Blocked Auto-Responder", "Blocked Potential Email Loop", "Blocked Sender"

NO_DEPARTMENT, REPLIES_ONLY = "Department Not Found", "Only Replies Allowed by Email"

UNREGISTERED, DUPLICATE, SKIPPED = "Unregistered Email Address", "Duplicate Message", "Skipped by Hook"

TOO_LARGE, EMPTY = "Message Too Large", "Empty Message"

#: WHMCS's flood guard: a sender opening this many tickets in the window is a loop.
FLOOD_LIMIT, FLOOD_MINUTES = 10, 15


FLOOD = f"Exceeded Limit of {FLOOD_LIMIT} Tickets within {FLOOD_MINUTES} Minutes"

@dataclass
class ImportResult:
    status: str
    ticket_id: int = 0
    reply_id: int = 0

    @property
    def imported(self) -> bool:
        return self.status in (IMPORTED, REPLY_IMPORTED)


def _log(uow: UnitOfWork, mail: ParsedMail, status: str, ticket_id: int = 0) -> None:
    uow.session.add(
        TicketMailLog(
            date=uow.now,
            to=", ".join(mail.to),
            cc=", ".join(mail.cc),
            name=mail.from_name[:255],
            email=mail.from_email[:255],
            subject=mail.subject,
            message=mail.body[:65535],
            status=status[:100],
            message_id=mail.message_id,
            ticket_id=ticket_id,
        )
    )
    if status not in (IMPORTED, REPLY_IMPORTED):
        log.info("support mail from %s dropped: %s", mail.from_email, status)


def _own_addresses(uow: UnitOfWork) -> set[str]:
    own = {d.email.lower() for d in uow.session.scalars(select(SupportDepartment)) if d.email}
    company = get_setting(uow, "Email").strip().lower()
    if company:
        own.add(company)
    return own


def _keep_allowed(uow: UnitOfWork, uploads: list[Upload]) -> tuple[list[Upload], list[str]]:
    """Attachments that pass the limits, and a line for each one dropped (e-mail cannot be refused)."""
    kept, dropped = [], []
    allowed = get_setting(uow, "TicketAllowedFileTypes")
    for upload in uploads:
        try:
            kept.extend(validate_uploads([upload], allowed))
        except BillowError as exc:
            dropped.append(f"{safe_filename(upload.name)} ({exc.message})")
    return kept, dropped


def import_message(uow: UnitOfWork, raw: bytes) -> ImportResult:
    """Import one raw e-mail into *uow* (the caller commits): a ticket, a reply, or a logged drop."""
    if len(raw) > get_settings().support_mail_max_bytes:
        mail = ParsedMail(subject="(message too large)")
        _log(uow, mail, TOO_LARGE)
        return ImportResult(TOO_LARGE)
    mail = parse_message(raw)
    if mail.message_id and uow.session.scalar(
        select(func.count())
        .select_from(TicketMailLog)
        .where(
            TicketMailLog.message_id == mail.message_id, TicketMailLog.status.in_((IMPORTED, REPLY_IMPORTED))
        )
    ):
        return ImportResult(DUPLICATE)
    status = _refusal(uow, mail)
    if status:
        _log(uow, mail, status)
        return ImportResult(status)
    for result in uow.emit(
        "TicketPiping",
        {
            "to": ", ".join(mail.to),
            "cc": ", ".join(mail.cc),
            "name": mail.from_name,
            "email": mail.from_email,
            "subject": mail.subject,
            "body": mail.body,
            "attachments": [a.name for a in mail.attachments],
        },
        outbox=False,
    ):
        if isinstance(result, dict) and result.get("skipProcessing"):
            _log(uow, mail, SKIPPED)
            return ImportResult(SKIPPED)
    mark = new_files_mark(uow.session)
    savepoint = uow.session.begin_nested()
    try:
        outcome = _import(uow, mail)
        savepoint.commit()
    except BillowError as exc:
        savepoint.rollback()
        discard_new_files(uow.session, mark)
        outcome = ImportResult(f"Import Failed: {exc.message}")
    _log(uow, mail, outcome.status, outcome.ticket_id)
    return outcome


def _refusal(uow: UnitOfWork, mail: ParsedMail) -> str:
    if not mail.from_email:
        return "Invalid Sender Address"
    if mail.automatic:
        return AUTO_RESPONDER
    if mail.loop_marker or mail.from_email in _own_addresses(uow):
        return LOOP
    if blocklist.is_blocked(uow, mail.from_email, mail.subject, mail.body):
        return BLOCKED
    return ""


def _import(uow: UnitOfWork, mail: ParsedMail) -> ImportResult:
    uploads, dropped = _keep_allowed(uow, mail.attachments)
    mask = mail_fields.find_mask_in_subject(mail.subject)
    ticket = None
    if mask:
        try:
            ticket = lookup.get_ticket(uow, tid=mask, follow_merge=True)
        except BillowError:
            ticket = None
    if ticket is not None:
        body = strip_quoted_reply(mail.body)
        if dropped:
            body += "\n\n[Attachments not accepted: " + "; ".join(dropped) + "]"
        if not body.strip() and not uploads:
            return ImportResult(EMPTY, ticket.id)
        reply = replies.add_reply(uow, _reply_for(uow, ticket, mail, body or "(attachment only)", uploads))
        return ImportResult(REPLY_IMPORTED, ticket.id, reply.id)
    dept = departments.department_by_address(uow, [*mail.to, *mail.cc, *mail.delivered_to])
    if dept is None:
        return ImportResult(NO_DEPARTMENT)
    if dept.piping_replies_only:
        return ImportResult(REPLIES_ONLY)
    client, contact = _client_by_email(uow, mail.from_email)
    if client is None and dept.clients_only:
        return ImportResult(UNREGISTERED)
    if _flooding(uow, client, mail.from_email):
        return ImportResult(FLOOD)
    body = mail.body
    if dropped:
        body += "\n\n[Attachments not accepted: " + "; ".join(dropped) + "]"
    if not body.strip() and not uploads:
        return ImportResult(EMPTY)
    ticket = opening.open_ticket(
        uow,
        opening.NewTicket(
            department_id=dept.id,
            subject=mail.subject or "(no subject)",
            message=body or "(attachment only)",
            client_id=client.id if client else 0,
            contact_id=contact.id if contact else 0,
            name="" if client else (mail.from_name or mail.from_email.split("@")[0]),
            email="" if client else mail.from_email,
            cc=", ".join(a for a in mail.cc if a != dept.email.lower()),
            attachments=uploads,
            notify=not dept.no_autoresponder,
            message_id=mail.message_id,
        ),
    )
    return ImportResult(IMPORTED, ticket.id)


def _flooding(uow: UnitOfWork, client: Client | None, address: str) -> bool:
    since = uow.now - timedelta(minutes=FLOOD_MINUTES)
    who = Ticket.client_id == client.id if client is not None else Ticket.email == address
    recent = uow.session.scalar(select(func.count()).select_from(Ticket).where(who, Ticket.date >= since))
    return (recent or 0) >= FLOOD_LIMIT


def _client_by_email(uow: UnitOfWork, address: str) -> tuple[Client | None, Contact | None]:
    client = uow.session.scalar(select(Client).where(func.lower(Client.email) == address).order_by(Client.id))
    if client is not None:
        return client, None
    contact = uow.session.scalar(
        select(Contact).where(func.lower(Contact.email) == address).order_by(Contact.id)
    )
    if contact is not None:
        return uow.session.get(Client, contact.client_id), contact
    return None, None


def _reply_for(
    uow: UnitOfWork, ticket: Ticket, mail: ParsedMail, body: str, uploads: list[Upload]
) -> replies.NewReply:
    admin = uow.session.scalar(
        select(Admin).where(func.lower(Admin.email) == mail.from_email, Admin.disabled.is_(False))
    )
    common = {"ticket_id": ticket.id, "message": body, "attachments": uploads, "message_id": mail.message_id}
    if admin is not None:
        return replies.NewReply(admin_username=admin.username, **common)  # type: ignore[arg-type]
    if ticket.client_id:
        client = uow.session.get(Client, ticket.client_id)
        if client is not None and client.email.lower() == mail.from_email:
            return replies.NewReply(client_id=client.id, **common)  # type: ignore[arg-type]
        contact = uow.session.scalar(
            select(Contact).where(
                Contact.client_id == ticket.client_id, func.lower(Contact.email) == mail.from_email
            )
        )
        if contact is not None:
            return replies.NewReply(client_id=ticket.client_id, contact_id=contact.id, **common)  # type: ignore[arg-type]
    return replies.NewReply(
        name=mail.from_name or mail.from_email.split("@")[0], email=mail.from_email, **common
    )  # type: ignore[arg-type]
