"""A ticket's e-mail merge fields (the ``support`` template resolver) and finding a
ticket's mask in an e-mail subject.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from billow.config import get_settings
from billow.db.models import (
    Client,
    Ticket,
    TicketReply,
)
from billow.services.mail.context_registry import MailContext
from billow.services.settings import get_setting
from billow.services.support._render import render_message
from billow.services.support._ticket_common import _dept_name
from billow.services.support.auto_close import inactive_hours
from billow.services.support.lookup import requestor_email
from billow.uow import UnitOfWork

#: Finds a ticket mask in a subject: ``[Ticket ID: ABC-123456]`` or a bare ``ABC-123456``.
MASK_IN_SUBJECT = re.compile(r"\[Ticket ID:\s*#?([A-Za-z0-9-]+)\]|\b([A-Z]{3}-\d{6})\b")


def ticket_email_fields(uow: UnitOfWork, ticket_id: int) -> dict[str, Any] | None:
    """WHMCS's ticket merge fields, the client to log under, and explicit recipients.

    ``ticket_id`` is the public mask (as in WHMCS), so ``[Ticket ID: {{ ticket_id }}]`` in
    a subject routes the customer's answer back to the ticket. Guests (and CC addresses)
    get explicit recipients; a client ticket without CC leaves them empty, so the e-mail
    goes to the client and the contacts that accept support e-mail.
    """
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
    """The e-mail sender's resolver for ``support`` templates (``billow.services.mail.context_registry``)."""
    fields = ticket_email_fields(uow, ticket_id)
    return None if fields is None else MailContext(**fields)


def find_mask_in_subject(subject: str) -> str:
    match = MASK_IN_SUBJECT.search(subject or "")
    if not match:
        return ""
    return (match.group(1) or match.group(2) or "").strip()
