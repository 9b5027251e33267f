"""Composing e-mails into the queue: recipients, preferences, merge fields, the rendered row.

An e-mail is first a row of ``email_messages`` (WHMCS ``tblemails``): rendered, addressed
and ``pending``, written in a transaction (the worker's dispatch of an ``EmailRequested``
event, :func:`handle_email_requested`). :mod:`billow.services.mail.delivery` sends it.
"""

from __future__ import annotations

import logging
from email.utils import formataddr
from html import escape
from typing import Any

from billow import events
from billow.db.models import Client, EmailMessage, EmailTemplate
from billow.errors import BillowError, NotFound, ValidationError
from billow.services.mail import client_contexts, context_registry
from billow.services.mail._default_templates import ESSENTIAL
from billow.services.mail.templates import (
    ADMIN_TYPES,
    CUSTOM_TYPES,
    Rendered,
    _check_syntax,
    get_template,
    render,
)
from billow.services.settings import get_setting, setting_on
from billow.services.support.mail_parsing import REPLY_ABOVE_MARKER
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")


#: The e-mail preference category of each template type (``email_preferences`` keys).
PREFERENCE_OF = {"general": "general", "product": "product", "domain": "domain",
                 "invoice": "invoice", "support": "support", "affiliate": "affiliate"}


#: WHMCS's answer when ``SendEmail`` could not send (SMTP refused or down, bad related id).
SENDING_FAILED = "Sending Failed. Please see documentation."


class SendingFailed(BillowError):
    code = "sending_failed"


def _recipients(uow: UnitOfWork, type_: str, ctx: context_registry.MailContext) -> list[tuple[str, str]]:
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
               for c in client_contexts.contacts_wanting(uow, client.id, category))
    return out


def _opted_out(uow: UnitOfWork, ctx: context_registry.MailContext, name: str) -> bool:
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
    essential_check: bool = True, ctx: context_registry.MailContext | None = None,
    strict: bool = False,
) -> EmailMessage | None:
    """Render and address an e-mail (not yet in the session); None when none is due.

    *ctx* replaces the type's resolver (admin notices to one department). With *strict*,
    the cases WHMCS answers "Sending Failed" for (no such related record, an EmailPreSend
    hook aborted) raise :class:`SendingFailed`; an opted-out client or no recipient
    never does: nothing is due, which is not a failure.
    """
    if ctx is None:
        resolver = context_registry.resolver_for(type_)
        if resolver is None:
            return _not_composed(strict, "%r: no resolver for %s e-mails on this installation",
                                 name, type_)
        ctx = resolver(uow, relid)
        if ctx is None:
            return _not_composed(strict, "%r: %s record %s not found", name, type_, relid)
    merge = context_registry.common_fields(uow)
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
    if (attach_invoice_pdf and type_ == "invoice" and setting_on(uow, "EnablePDFInvoices")
            and context_registry.renderer_for("invoice") is not None):
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
    text = f"{REPLY_ABOVE_MARKER}\n\n{rendered.text}" if rendered.text else rendered.text
    html = f"<p>{escape(REPLY_ABOVE_MARKER)}</p>\n{rendered.html}" if rendered.html else rendered.html
    return Rendered(rendered.subject, html, text)


def queue_template(
    uow: UnitOfWork, name: str, relid: int, *, extra: dict[str, Any] | None = None,
    event_uuid: str | None = None, require_enabled: bool = True,
) -> list[EmailMessage]:
    """Queue WHMCS template *name* about record *relid*; raises when the template is unusable."""
    template = get_template(uow, name)
    if template.disabled:
        if require_enabled:
            raise ValidationError("Email Template is disabled", code="email_template_disabled")
        return []
    return _queue(uow, **_template_parts(template, relid, extra), event_uuid=event_uuid)


def _template_parts(template: EmailTemplate, relid: int, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"name": template.name, "type_": template.type, "relid": relid,
            "subject": template.subject, "html": template.html, "text": template.text,
            "merge_extra": dict(extra or {}), "attach_invoice_pdf": template.attach_invoice_pdf}


def _custom_parts(customtype: str, relid: int, subject: str, message: str,
                  extra: dict[str, Any] | None) -> dict[str, Any]:
    if customtype not in CUSTOM_TYPES:
        raise ValidationError("Invalid message type provided", code="invalid_message_type")
    if not subject:
        raise ValidationError("A subject is required for a custom message", code="subject_required")
    if not message:
        raise ValidationError("A message body is required for a custom message", code="message_required")
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
        raise ValidationError("Invalid admin notification type", code="invalid_admin_notification_type")
    if messagename:
        template = get_template(uow, messagename)
        if template.type != "admin":
            raise NotFound("Email Template not found", code="email_template_not_found")
        if template.disabled:
            return None
        subject, html, text = template.subject, template.html, template.text
    else:
        if not subject or not message:
            raise ValidationError(
                "A subject and a message are required for a custom admin e-mail",
                code="subject_and_message_required",
            )
        html, text = message, ""
    return {"name": messagename, "type_": "admin", "relid": 0, "subject": subject, "html": html,
            "text": text, "merge_extra": dict(merge or {}), "attach_invoice_pdf": False,
            "essential_check": False}


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
