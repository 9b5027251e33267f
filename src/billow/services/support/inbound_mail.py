"""Inbound support e-mail: parse a raw message and turn it into a ticket or a reply.

Parsing uses only the standard library ``email`` package (``policy.default``): MIME trees,
RFC 2047 headers, base64 and quoted-printable bodies, any charset Python knows (unknown
ones fall back to Latin-1 rather than failing), HTML-only mail reduced to text, inline
images and attached files kept as attachments.

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
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from sqlalchemy import func, select

from billow.config import get_settings
from billow.db.models import Admin, Client, Contact, SupportDepartment, Ticket, TicketMailLog
from billow.errors import BillowError
from billow.services.settings import get_setting
from billow.services.support import blocklist, departments, lookup, mail_fields, opening, replies
from billow.services.support.attachments import (
    Upload,
    discard_new_files,
    new_files_mark,
    safe_filename,
    validate_uploads,
)
from billow.uow import UnitOfWork

log = logging.getLogger("billow.support.mail")

__all__ = [
    "LOOP_HEADER",
    "LOOP_VALUE",
    "REPLY_ABOVE_MARKER",
    "ImportResult",
    "ParsedMail",
    "html_to_text",
    "import_message",
    "parse_message",
    "strip_quoted_reply",
]

#: Outgoing ticket e-mail carries ``X-Loop: billow-support``; inbound mail with it is ours.
LOOP_HEADER, LOOP_VALUE = "X-Loop", "billow-support"
#: Line ticket e-mails put above the quoted conversation; replies are cut at it.
REPLY_ABOVE_MARKER = "##- Please type your reply above this line -##"

IMPORTED, REPLY_IMPORTED = "Ticket Imported Successfully", "Ticket Reply Imported Successfully"
AUTO_RESPONDER, LOOP, BLOCKED = "Blocked Auto-Responder", "Blocked Potential Email Loop", "Blocked Sender"
NO_DEPARTMENT, REPLIES_ONLY = "Department Not Found", "Only Replies Allowed by Email"
UNREGISTERED, DUPLICATE, SKIPPED = "Unregistered Email Address", "Duplicate Message", "Skipped by Hook"
TOO_LARGE, EMPTY = "Message Too Large", "Empty Message"
#: WHMCS's flood guard: a sender opening this many tickets in the window is a loop.
FLOOD_LIMIT, FLOOD_MINUTES = 10, 15
FLOOD = f"Exceeded Limit of {FLOOD_LIMIT} Tickets within {FLOOD_MINUTES} Minutes"

_QUOTE_MARKERS = (
    re.compile(r"^\s*##-.*reply above this line.*-##", re.I),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.I),
    re.compile(r"^\s*-{2,}\s*Reply above this line\s*-{2,}", re.I),
    re.compile(r"^_{20,}\s*$"),
    re.compile(r"^\s*On .{1,200}\bwrote:\s*$", re.I | re.S),
    re.compile(r"^\s*Le .{1,200}\ba écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*Am .{1,200}\bschrieb .{0,100}:\s*$", re.I | re.S),
)
_OUTLOOK_HEADER = re.compile(r"^\s*From:\s.+", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*(Sent|Date|To|Subject):\s", re.I)


@dataclass
class ParsedMail:
    message_id: str = ""
    from_name: str = ""
    from_email: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[Upload] = field(default_factory=list)
    #: Why this is an automatic message ("" when a person wrote it).
    automatic: str = ""
    loop_marker: bool = False


@dataclass
class ImportResult:
    status: str
    ticket_id: int = 0
    reply_id: int = 0

    @property
    def imported(self) -> bool:
        return self.status in (IMPORTED, REPLY_IMPORTED)


# --- parsing ----------------------------------------------------------------------------


class _TextFromHtml(HTMLParser):
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "hr",
        "blockquote",
        "pre",
    }
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        if tag == "blockquote":
            self.quote += 1
        if tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"[ \t\r\n\f\u00a0]+", " ", data)
        if self.quote and text.strip():
            text = "> " + text.strip()
        self.parts.append(text)


def html_to_text(markup: str) -> str:
    """Reduce an HTML body to readable text (scripts and styles dropped, quotes marked ``>``)."""
    parser = _TextFromHtml()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_quoted_reply(text: str) -> str:
    """Cut the earlier conversation a mail client quoted below a reply."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        pair = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        if any(m.match(line) for m in _QUOTE_MARKERS) or (
            i + 1 < len(lines) and _QUOTE_MARKERS[4].match(pair) and not line.strip().startswith(">")
        ):
            cut = i
            break
        if _OUTLOOK_HEADER.match(line) and i + 1 < len(lines) and _OUTLOOK_NEXT.match(lines[i + 1]):
            cut = i
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, KeyError):
        content = None  # an unknown charset or a broken encoding: decode by hand below
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def _automatic(msg: Message, sender: str) -> str:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(header) is not None:
            return header
    if msg.get("List-Id") is not None:
        return "List-Id"
    local = sender.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or str(msg.get("Return-Path", "")).strip() == "<>":
        return "bounce"
    return ""


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in (msg.get_all(name) or [])]
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


def parse_message(raw: bytes) -> ParsedMail:
    """Parse a raw RFC 5322 message into the parts a ticket needs."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        from_name, from_email = parseaddr(str(msg.get("From", "")))
    except (IndexError, ValueError):
        from_name, from_email = "", ""
    plain, markup, uploads = "", "", []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if (
            ctype == "message/rfc822"
            or (filename and disposition != "inline" and not ctype.startswith("text/"))
            or disposition == "attachment"
        ):
            data = part.get_payload(decode=True)
            if data is None and ctype == "message/rfc822":
                inner = part.get_payload()
                data = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
            uploads.append(
                Upload(
                    filename or ("message.eml" if ctype == "message/rfc822" else "attachment"), data or b""
                )
            )
        elif ctype.startswith("image/"):
            ext = ctype.split("/", 1)[1].split("+")[0]
            uploads.append(
                Upload(filename or f"inline-{len(uploads) + 1}.{ext}", part.get_payload(decode=True) or b"")
            )
        elif ctype == "text/plain" and not plain:
            plain = _text_of(part)
        elif ctype == "text/html" and not markup:
            markup = _text_of(part)
        elif filename:
            uploads.append(Upload(filename, part.get_payload(decode=True) or b""))
    body = plain if plain.strip() else html_to_text(markup)
    loop = str(msg.get(LOOP_HEADER, "")).strip().lower() == LOOP_VALUE
    return ParsedMail(
        message_id=str(msg.get("Message-ID", "")).strip()[:255],
        from_name=from_name.strip(),
        from_email=from_email.strip().lower(),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        delivered_to=_addresses(msg, "Delivered-To", "X-Original-To", "Envelope-To"),
        subject=" ".join(str(msg.get("Subject", "")).split())[:250],
        body=body.replace("\r\n", "\n").strip(),
        attachments=uploads,
        automatic=_automatic(msg, from_email),
        loop_marker=loop,
    )


# --- importing --------------------------------------------------------------------------


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


def message_of(raw_message: EmailMessage) -> bytes:
    """Bytes of an ``EmailMessage`` as an MTA would pipe them (used by tests and tools)."""
    return raw_message.as_bytes(policy=email.policy.SMTP)
