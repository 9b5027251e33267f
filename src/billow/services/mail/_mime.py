"""Building the MIME message of a queued e-mail row (parts, attachments, support headers)."""

from __future__ import annotations

import logging
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid, parseaddr

from billow.db.models import EmailMessage
from billow.services.mail import context_registry
from billow.services.mail.smtp import SmtpSettings
from billow.services.mail.templates import _template_type
from billow.services.support.mail_parsing import LOOP_HEADER, LOOP_VALUE
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")


#: Ticket e-mails the system sends on its own, with their RFC 3834 ``Auto-Submitted`` value.
AUTO_SUBMITTED = {
    "Support Ticket Opened": "auto-replied",
    "Support Ticket Auto Close Notification": "auto-generated",
    "Support Ticket Feedback Request": "auto-generated",
}


def _support_headers(uow: UnitOfWork, row: EmailMessage, mime: MimeMessage) -> None:
    """Mark ticket e-mails so the inbound importer drops them if they come back (a loop)."""
    if not row.template or _template_type(uow, row.template) != "support":
        return
    mime[LOOP_HEADER] = LOOP_VALUE
    if row.template in AUTO_SUBMITTED:
        mime["Auto-Submitted"] = AUTO_SUBMITTED[row.template]


def build_mime(uow: UnitOfWork, row: EmailMessage, settings: SmtpSettings) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = formataddr((settings.from_name, settings.from_address))
    mime["To"] = row.to
    if row.cc:
        mime["Cc"] = row.cc
    mime["Subject"] = row.subject
    mime["Date"] = row.date.strftime("%a, %d %b %Y %H:%M:%S +0000")
    mime["Message-ID"] = make_msgid(domain=(settings.from_address.rpartition("@")[2] or None))
    if row.template:
        mime["X-Billow-Template"] = row.template
        _support_headers(uow, row, mime)
    mime.set_content(row.text or _strip_tags(row.message))
    if row.message:
        mime.add_alternative(row.message, subtype="html")
    for spec in row.attachments or []:
        renderer = context_registry.renderer_for(str(spec.get("kind", "")))
        if renderer is None:
            log.warning("attachment %s of e-mail %s skipped: no renderer", spec, row.id)
            continue
        filename, data = renderer(uow, int(spec.get("id") or 0))
        maintype, _, subtype = _mime_type(filename).partition("/")
        mime.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mime


def _mime_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _strip_tags(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html)


def _addresses(row: EmailMessage) -> list[str]:
    out = [parseaddr(row.to)[1]]
    for field in (row.cc, row.bcc):
        out.extend(parseaddr(part)[1] for part in field.split(",") if part.strip())
    return [a for a in out if a]
