"""E-mail: editable Jinja2 templates, a durable send queue over SMTP, and the client's log.

An e-mail is first a row of ``email_messages`` (WHMCS ``tblemails``): rendered, addressed
and ``pending``, written in a transaction (the worker's dispatch of an ``EmailRequested``
event). The worker then sends due rows over SMTP; a failure keeps
the row pending with a later ``next_attempt_at`` (an outage delays mail, never drops it)
until the retry schedule is spent, and only a permanent refusal marks it failed. The same
rows answer ``GetEmails``. ``SendEmail``/``SendAdminEmail`` instead send at once and write
their row only once SMTP accepted it (:func:`send_template` and its siblings).

Templates are rendered in Jinja2's sandbox (admins edit them) with WHMCS's merge-field
names; the HTML part is autoescaped, the subject and text part are not.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid, parseaddr
from html import escape
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select

from billow import events
from billow.config import get_settings
from billow.db.models import Client, EmailMessage, EmailTemplate, Setting
from billow.db.queries import claim_leased, count_of
from billow.errors import BillowError, NotFound, ValidationError
from billow.services.mail import context as email_context
from billow.services.mail.default_templates import BY_NAME, DEFAULTS, ESSENTIAL
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")

TEMPLATE_TYPES = ("general", "product", "domain", "invoice", "support", "affiliate", "admin", "user")
CUSTOM_TYPES = ("general", "product", "domain", "invoice", "support", "affiliate")
ADMIN_TYPES = ("system", "account", "support")
#: Waits after each failed SMTP attempt (about 3 days in all) before mail is given up.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
    timedelta(hours=3), timedelta(hours=6), timedelta(hours=12), timedelta(hours=24),
    timedelta(hours=24),
)
#: The e-mail preference category of each template type (``email_preferences`` keys).
PREFERENCE_OF = {"general": "general", "product": "product", "domain": "domain",
                 "invoice": "invoice", "support": "support", "affiliate": "affiliate"}

_html_env = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)
_text_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


#: WHMCS's answer when ``SendEmail`` could not send (SMTP refused or down, bad related id).
SENDING_FAILED = "Sending Failed. Please see documentation."


class SendingFailed(BillowError):
    code = "sending_failed"


# --- settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str
    user: str
    password: str
    from_address: str
    from_name: str
    timeout: float
    ca_file: str = ""

    def tls_context(self) -> ssl.SSLContext:
        """Verify the server's certificate (against the system CAs, or *ca_file* as well)."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


def smtp_settings(uow: UnitOfWork) -> SmtpSettings:
    """SMTP settings: the settings table (WHMCS ``SMTP*`` keys) over ``BILLOW_SMTP_*``."""
    cfg = get_settings()

    def pick(key: str, default: str) -> str:
        value = get_setting(uow, key)
        return value if value != "" else default

    tls = pick("SMTPSSL", cfg.smtp_tls).lower()
    tls = {"": "none", "tls": "starttls", "ssl": "ssl"}.get(tls, tls)
    if tls not in ("none", "starttls", "ssl"):
        raise ValidationError("SMTPSSL must be none, starttls (tls) or ssl")
    from_address = pick("SystemEmailsFromEmail", cfg.smtp_from) or get_setting(uow, "Email")
    return SmtpSettings(
        host=pick("SMTPHost", cfg.smtp_host), port=int(pick("SMTPPort", str(cfg.smtp_port))),
        tls=tls, user=pick("SMTPUsername", cfg.smtp_user),
        password=pick("SMTPPassword", cfg.smtp_password), from_address=from_address,
        from_name=pick("SystemEmailsFromName", get_setting(uow, "CompanyName")),
        timeout=cfg.smtp_timeout_seconds, ca_file=cfg.smtp_ca_file,
    )


# --- templates ------------------------------------------------------------------------------

def _html_of(body: str) -> str:
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{p.replace(chr(10), '<br>' + chr(10))}</p>" for p in paragraphs) + \
        "\n<p>{{ signature }}</p>\n"


def ensure_templates(uow: UnitOfWork) -> int:
    """Copy every shipped template missing from the table into it; returns how many."""
    present = set(uow.session.scalars(select(EmailTemplate.name).where(EmailTemplate.language == "")))
    added = 0
    for default in DEFAULTS:
        if default.name not in present:
            uow.session.add(_from_default(uow, default.name))
            added += 1
    if added:
        uow.session.flush()
    return added


def _from_default(uow: UnitOfWork, name: str) -> EmailTemplate:
    default = BY_NAME[name]
    return EmailTemplate(
        name=default.name, type=default.type, language="", subject=default.subject,
        html=_html_of(default.body), text=default.body + "\n\n{{ signature }}\n", custom=False,
        attach_invoice_pdf=default.attach_invoice_pdf, created_at=uow.now, updated_at=uow.now,
    )


def get_template(uow: UnitOfWork, name: str, language: str = "") -> EmailTemplate:
    """Find a template by WHMCS name (in *language*, else the default language)."""
    for lang in dict.fromkeys((language, "")):
        row = uow.session.scalar(
            select(EmailTemplate).where(func.lower(EmailTemplate.name) == name.strip().lower(),
                                        EmailTemplate.language == lang)
        )
        if row is not None:
            return row
    if name.strip() in BY_NAME:
        row = _from_default(uow, name.strip())
        uow.session.add(row)
        uow.session.flush()
        return row
    raise NotFound("Email Template not found")


def list_templates(uow: UnitOfWork, *, type_: str = "", language: str = "") -> list[EmailTemplate]:
    """Templates of *type_* in *language*; the installation's default language is ``""``."""
    ensure_templates(uow)
    if language.lower() == get_setting(uow, "Language").lower():
        language = ""
    query = select(EmailTemplate).where(EmailTemplate.language == language)
    if type_:
        query = query.where(EmailTemplate.type == type_)
    return list(uow.session.scalars(query.order_by(EmailTemplate.id)))


def save_template(
    uow: UnitOfWork, name: str, *, type_: str = "", subject: str | None = None,
    html: str | None = None, text: str | None = None, disabled: bool | None = None,
    language: str = "", attach_invoice_pdf: bool | None = None,
) -> EmailTemplate:
    """Edit a template, or add a custom one when *name* is new (then *type_* is needed)."""
    try:
        row = get_template(uow, name, language)
        if row.language != language:
            raise NotFound("Email Template not found")
    except NotFound:
        if type_ not in TEMPLATE_TYPES:
            raise ValidationError(f"Invalid template type: use one of {', '.join(TEMPLATE_TYPES)}") from None
        row = EmailTemplate(name=name.strip(), type=type_, language=language, custom=True,
                            created_at=uow.now, updated_at=uow.now)
        uow.session.add(row)
    for value, label in ((subject, "subject"), (html, "html"), (text, "text")):
        if value is not None:
            _check_syntax(value, label)
            setattr(row, label, value)
    if disabled is not None:
        row.disabled = disabled
    if attach_invoice_pdf is not None:
        row.attach_invoice_pdf = attach_invoice_pdf
    row.updated_at = uow.now
    uow.session.flush()
    return row


def _check_syntax(source: str, label: str) -> None:
    try:
        _text_env.parse(source)
    except TemplateError as exc:
        raise ValidationError(f"Template {label} is not valid: {exc}") from None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def render(subject: str, html: str, text: str, merge: dict[str, Any]) -> Rendered:
    """Render the three parts; an admin's template error is a clear refusal, not a crash."""
    try:
        subject_out = _text_env.from_string(subject).render(merge).strip().replace("\n", " ")
        html_out = _html_env.from_string(html).render(merge) if html else ""
        text_out = _text_env.from_string(text).render(merge) if text else ""
    except TemplateError as exc:
        raise ValidationError(f"Template could not be rendered: {exc}") from None
    if not html_out and text_out:
        html_out = "<pre>" + escape(text_out) + "</pre>"
    return Rendered(subject_out, html_out, text_out)


# --- queueing ------------------------------------------------------------------------------

def _recipients(uow: UnitOfWork, type_: str, ctx: email_context.MailContext) -> list[tuple[str, str]]:
    if ctx.recipients:
        return [(n, a) for n, a in ctx.recipients if a]
    client = uow.session.get(Client, ctx.client_id) if ctx.client_id else None
    if client is None:
        return []
    category = PREFERENCE_OF.get(type_, "general")
    out: list[tuple[str, str]] = []
    if (client.email_preferences or {}).get(category, True) and client.email:
        out.append((client.fullname, client.email))
    out.extend((f"{c.firstname} {c.lastname}".strip(), c.email)
               for c in email_context.contacts_wanting(uow, client.id, category))
    return out


def _opted_out(uow: UnitOfWork, ctx: email_context.MailContext, name: str) -> bool:
    """``emailoptout`` stops every non-essential e-mail to the client (not security notices)."""
    if name in ESSENTIAL or not ctx.client_id:
        return False
    client = uow.session.get(Client, ctx.client_id)
    return bool(client is not None and client.emailoptout)


def _queue(uow: UnitOfWork, **compose: Any) -> list[EmailMessage]:
    """Compose an e-mail and add it, pending, to the send queue (the worker sends it)."""
    message = _compose(uow, **compose)
    if message is None:
        return []
    uow.session.add(message)
    uow.session.flush()
    return [message]


def _not_composed(strict: bool, reason: str, *args: Any) -> None:
    """Log why an e-mail is not sent; a synchronous send (*strict*) fails as WHMCS does."""
    if strict:
        log.warning("e-mail not sent: " + reason, *args)
        raise SendingFailed(SENDING_FAILED)
    log.info("e-mail skipped: " + reason, *args)


def _compose(
    uow: UnitOfWork, *, name: str, type_: str, relid: int, subject: str, html: str, text: str,
    merge_extra: dict[str, Any], attach_invoice_pdf: bool, event_uuid: str | None,
    essential_check: bool = True, ctx: email_context.MailContext | None = None,
    strict: bool = False,
) -> EmailMessage | None:
    """Render and address an e-mail (not yet in the session); None when none is due.

    *ctx* replaces the type's resolver (admin notices to one department). With *strict*,
    the cases WHMCS answers "Sending Failed" for (no such related record, an EmailPreSend
    hook aborted) raise :class:`SendingFailed`; an opted-out client or no recipient
    never does: nothing is due, which is not a failure.
    """
    if ctx is None:
        resolver = email_context.resolver_for(type_)
        if resolver is None:
            return _not_composed(strict, "%r: no resolver for %s e-mails on this installation",
                                 name, type_)
        ctx = resolver(uow, relid)
        if ctx is None:
            return _not_composed(strict, "%r: %s record %s not found", name, type_, relid)
    merge = email_context.common_fields(uow)
    merge.update(ctx.merge)
    merge.update(merge_extra)
    for result in events.run_hooks("EmailPreSend", {"messagename": name, "relid": relid,
                                                     "mergefields": dict(merge)}):
        if isinstance(result, dict):
            if result.get("abortsend"):
                return _not_composed(strict, "%r for %s aborted by an EmailPreSend hook", name, relid)
            merge.update({k: v for k, v in result.items() if k != "abortsend"})
    if essential_check and _opted_out(uow, ctx, name):
        log.info("e-mail %r not sent: client %s opted out of e-mails", name, ctx.client_id)
        return None
    recipients = _recipients(uow, type_, ctx)
    if not recipients:
        log.info("e-mail %r for %s has no recipient that accepts %s e-mails", name, relid, type_)
        return None
    rendered = render(subject, html, text, merge)
    if type_ == "support":
        rendered = _with_reply_marker(rendered)
    attachments = list(ctx.attachments)
    if (attach_invoice_pdf and type_ == "invoice" and _pdf_invoices_enabled(uow)
            and email_context.renderer_for("invoice") is not None):
        attachments.append({"kind": "invoice", "id": relid})
    to_name, to_addr = recipients[0]
    return EmailMessage(
        userid=ctx.client_id, event_uuid=event_uuid, template=name, relid=relid,
        to=formataddr((to_name, to_addr)) if to_name else to_addr,
        cc=", ".join(formataddr((n, a)) if n else a for n, a in recipients[1:]),
        bcc="", subject=rendered.subject, message=rendered.html, text=rendered.text,
        attachments=attachments, date=uow.now, pending=True, next_attempt_at=uow.now,
        retry_count=0, failed=False, failure_reason="",
    )


def _with_reply_marker(rendered: Rendered) -> Rendered:
    """Put support's "reply above this line" marker on top of a ticket e-mail.

    The client types the answer above it; the importer (``support_mail.strip_quoted_reply``)
    cuts the reply there, so the quoted ticket text never comes back as a new reply.
    """
    from billow.services.support.inbound_mail import REPLY_ABOVE_MARKER

    text = f"{REPLY_ABOVE_MARKER}\n\n{rendered.text}" if rendered.text else rendered.text
    html = f"<p>{escape(REPLY_ABOVE_MARKER)}</p>\n{rendered.html}" if rendered.html else rendered.html
    return Rendered(rendered.subject, html, text)


#: Ticket e-mails the system sends on its own, with their RFC 3834 ``Auto-Submitted`` value.
AUTO_SUBMITTED = {
    "Support Ticket Opened": "auto-replied",
    "Support Ticket Auto Close Notification": "auto-generated",
    "Support Ticket Feedback Request": "auto-generated",
}


def _template_type(uow: UnitOfWork, name: str) -> str:
    row_type = uow.session.scalar(select(EmailTemplate.type).where(EmailTemplate.name == name).limit(1))
    if row_type:
        return str(row_type)
    default = BY_NAME.get(name)
    return default.type if default is not None else ""


def _support_headers(uow: UnitOfWork, row: EmailMessage, mime: MimeMessage) -> None:
    """Mark ticket e-mails so the inbound importer drops them if they come back (a loop)."""
    from billow.services.support.inbound_mail import LOOP_HEADER, LOOP_VALUE

    if not row.template or _template_type(uow, row.template) != "support":
        return
    mime[LOOP_HEADER] = LOOP_VALUE
    if row.template in AUTO_SUBMITTED:
        mime["Auto-Submitted"] = AUTO_SUBMITTED[row.template]


def _pdf_invoices_enabled(uow: UnitOfWork) -> bool:
    """WHMCS's ``EnablePDFInvoices`` (on unless set off): attach PDFs to invoice e-mails."""
    row = uow.session.get(Setting, "EnablePDFInvoices")
    return row is None or row.value.strip().lower() not in ("", "0", "off", "false")


def queue_template(
    uow: UnitOfWork, name: str, relid: int, *, extra: dict[str, Any] | None = None,
    event_uuid: str | None = None, require_enabled: bool = True,
) -> list[EmailMessage]:
    """Queue WHMCS template *name* about record *relid*; raises when the template is unusable."""
    template = get_template(uow, name)
    if template.disabled:
        if require_enabled:
            raise ValidationError("Email Template is disabled")
        return []
    return _queue(uow, **_template_parts(template, relid, extra), event_uuid=event_uuid)


def _template_parts(template: EmailTemplate, relid: int, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"name": template.name, "type_": template.type, "relid": relid,
            "subject": template.subject, "html": template.html, "text": template.text,
            "merge_extra": dict(extra or {}), "attach_invoice_pdf": template.attach_invoice_pdf}


def _custom_parts(customtype: str, relid: int, subject: str, message: str,
                  extra: dict[str, Any] | None) -> dict[str, Any]:
    if customtype not in CUSTOM_TYPES:
        raise ValidationError("Invalid message type provided")
    if not subject:
        raise ValidationError("A subject is required for a custom message")
    if not message:
        raise ValidationError("A message body is required for a custom message")
    _check_syntax(subject, "subject")
    _check_syntax(message, "message")
    return {"name": "", "type_": customtype, "relid": relid, "subject": subject, "html": message,
            "text": "", "merge_extra": dict(extra or {}), "attach_invoice_pdf": False}


def _admin_parts(
    uow: UnitOfWork, messagename: str, subject: str, message: str, type_: str,
    merge: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """What an admin notification is made of; None when its template is disabled."""
    if type_ and type_ not in ADMIN_TYPES:
        raise ValidationError("Invalid admin notification type")
    if messagename:
        template = get_template(uow, messagename)
        if template.type != "admin":
            raise NotFound("Email Template not found")
        if template.disabled:
            return None
        subject, html, text = template.subject, template.html, template.text
    else:
        if not subject or not message:
            raise ValidationError("A subject and a message are required for a custom admin e-mail")
        html, text = message, ""
    return {"name": messagename, "type_": "admin", "relid": 0, "subject": subject, "html": html,
            "text": text, "merge_extra": dict(merge or {}), "attach_invoice_pdf": False,
            "essential_check": False}


# --- sending at once (the SendEmail and SendAdminEmail actions) -----------------------------

def send_template(
    uow: UnitOfWork, name: str, relid: int, *, extra: dict[str, Any] | None = None,
) -> EmailMessage | None:
    """Send template *name* about *relid* now, inside the caller's transaction.

    WHMCS's ``SendEmail`` answers whether the mail went out, so it cannot wait for the
    worker: see :func:`_send_composed`.
    """
    template = get_template(uow, name)
    if template.disabled:
        raise ValidationError("Email Template is disabled")
    parts = _template_parts(template, relid, extra)
    return _send_composed(uow, _compose(uow, **parts, event_uuid=None, strict=True))


def send_custom(
    uow: UnitOfWork, customtype: str, relid: int, subject: str, message: str,
    extra: dict[str, Any] | None = None,
) -> EmailMessage | None:
    """Send a one-off message (``SendEmail`` with ``customtype``) now; *message* is HTML."""
    parts = _custom_parts(customtype, relid, subject, message, extra)
    return _send_composed(uow, _compose(uow, **parts, event_uuid=None, strict=True))


def send_admin(
    uow: UnitOfWork, *, messagename: str = "", subject: str = "", message: str = "",
    type_: str = "system", merge: dict[str, Any] | None = None, department_id: int = 0,
) -> EmailMessage | None:
    """Send an admin notification now (``SendAdminEmail``).

    A ``support`` notification with *department_id* goes to the admins assigned to that
    department (WHMCS's ``deptid``), every other one to all enabled admins.
    """
    parts = _admin_parts(uow, messagename, subject, message, type_, merge)
    if parts is None:
        return None
    ctx = None
    if type_ == "support" and department_id:
        ctx = email_context.admin_context(uow, 0, department_id=department_id)
    return _send_composed(uow, _compose(uow, **parts, event_uuid=None, ctx=ctx, strict=True))


def _send_composed(uow: UnitOfWork, row: EmailMessage | None) -> EmailMessage | None:
    """Hand a composed e-mail to SMTP at once; log it only once the server accepted it.

    A refusal or an unreachable server raises :class:`SendingFailed` and adds nothing,
    so the caller's rollback leaves no trace but the log line; there is no retry (the
    caller was told). The row is added only after the send, so a failed send has nothing
    to undo. Nothing due (opted out, no recipient) is not a failure.
    """
    if row is None:
        return None
    mailer = Mailer(smtp_settings(uow))
    try:
        mime = build_mime(uow, row, mailer.settings)
        try:
            mailer.send(mime, _addresses(row))
        except OSError as exc:  # smtplib.SMTPException, refused/timed-out connections, TLS
            log.warning("e-mail %r to %s not sent: %s: %s", row.template or row.subject, row.to,
                        type(exc).__name__, exc)
            raise SendingFailed(SENDING_FAILED) from exc
    finally:
        mailer.close()
    _mark_sent(row, uow.now)
    uow.session.add(row)
    uow.session.flush()
    return row


def handle_email_requested(uow: UnitOfWork, payload: dict[str, Any], event_uuid: str) -> int:
    """Turn an ``EmailRequested`` outbox event into queued e-mails (the dispatcher calls this).

    A template that is unknown or disabled is logged and dropped: the service that asked
    cannot be told any more, and retrying would not change the answer.
    """
    name = str(payload.get("template") or "")
    relid = int(payload.get("relid") or 0)
    extra = {k: v for k, v in payload.items() if k not in ("template", "relid")}
    if "reset_token" in extra and "pw_reset_url" not in extra:
        base = get_setting(uow, "SystemURL").rstrip("/")
        extra["pw_reset_url"] = f"{base}/password/reset/{extra['reset_token']}"
    try:
        return len(queue_template(uow, name, relid, extra=extra, event_uuid=event_uuid,
                                  require_enabled=False))
    except NotFound:
        log.error("e-mail template %r requested for %s does not exist", name, relid)
        return 0


# --- sending ------------------------------------------------------------------------------

def claim_due(uow: UnitOfWork, limit: int) -> list[int]:
    """Lease up to *limit* pending e-mails that are due (SKIP LOCKED on PostgreSQL)."""
    return claim_leased(uow.session, EmailMessage, EmailMessage.pending.is_(True), now=uow.now,
                        lease_seconds=get_settings().worker_lease_seconds, limit=limit)


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
        renderer = email_context.renderer_for(str(spec.get("kind", "")))
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


class Mailer:
    """One SMTP connection reused for a batch; reconnects when the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.host:
            raise smtplib.SMTPException("SMTP is not configured (no host)")
        if s.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=s.tls_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.tls == "starttls":
                smtp.starttls(context=s.tls_context())
        if s.user:
            smtp.login(s.user, s.password)
        return smtp

    def send(self, mime: MimeMessage, recipients: list[str]) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(mime, to_addrs=recipients)
        except smtplib.SMTPServerDisconnected:
            self._smtp = self._connect()
            self._smtp.send_message(mime, to_addrs=recipients)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def deliver(uow: UnitOfWork, email_id: int, mailer: Mailer) -> bool:
    """Send one claimed e-mail and record the outcome in *uow* (the caller commits)."""
    row = uow.session.get(EmailMessage, email_id)
    if row is None or not row.pending:
        return False
    now = uow.now
    row.leased_until = None
    try:
        mime = build_mime(uow, row, mailer.settings)
        mailer.send(mime, _addresses(row))
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        # A permanent refusal of this message: retrying would be refused again.
        _fail(row, f"Refused by the SMTP server: {exc}")
        mailer.close()
        return False
    except Exception as exc:  # noqa: BLE001 - SMTP/network errors and renderer bugs: retried, then failed
        mailer.close()
        row.retry_count += 1
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        row.failure_reason = str(reason)[:1000]
        if row.retry_count > len(RETRY_SCHEDULE):
            _fail(row, row.failure_reason)
        else:
            row.next_attempt_at = now + RETRY_SCHEDULE[row.retry_count - 1]
        log.warning("e-mail %s not sent (attempt %s): %s", row.id, row.retry_count, row.failure_reason)
        return False
    _mark_sent(row, now)
    return True


def _mark_sent(row: EmailMessage, now: datetime) -> None:
    row.pending, row.failed, row.sent_at, row.failure_reason = False, False, now, ""
    row.next_attempt_at = None


def _fail(row: EmailMessage, reason: str) -> None:
    row.pending, row.failed, row.failure_reason, row.next_attempt_at = False, True, reason[:1000], None


# --- the client's log ------------------------------------------------------------------------

def list_client_emails(
    uow: UnitOfWork, client_id: int, *, on_date: date | None = None, subject: str = "",
    offset: int = 0, limit: int = 25,
) -> tuple[int, list[EmailMessage]]:
    if not client_id or uow.session.get(Client, client_id) is None:
        raise NotFound("Client ID Not Found")
    query = select(EmailMessage).where(EmailMessage.userid == client_id)
    if on_date is not None:
        query = query.where(func.date(EmailMessage.date) == on_date)
    if subject:
        query = query.where(EmailMessage.subject.like(f"%{subject}%"))
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(EmailMessage.id.desc()).offset(offset).limit(limit))
    return total, list(rows)
