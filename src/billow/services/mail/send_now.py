"""Sending at once (the SendEmail and SendAdminEmail actions).

These send over SMTP straight away and write their ``email_messages`` row only once SMTP
accepted it; a refusal or an unreachable server raises
:class:`~billow.services.mail.composing.SendingFailed` and adds nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from billow.db.models import EmailMessage
from billow.errors import ValidationError
from billow.services.mail import client_contexts
from billow.services.mail._mime import _addresses, build_mime
from billow.services.mail.composing import (
    SENDING_FAILED,
    SendingFailed,
    _admin_parts,
    _compose,
    _custom_parts,
    _template_parts,
)
from billow.services.mail.delivery import _mark_sent
from billow.services.mail.smtp import Mailer, smtp_settings
from billow.services.mail.templates import get_template
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")


def send_template(
    uow: UnitOfWork, name: str, relid: int, *, extra: dict[str, Any] | None = None,
) -> EmailMessage | None:
    """Send template *name* about *relid* now, inside the caller's transaction.

    WHMCS's ``SendEmail`` answers whether the mail went out, so it cannot wait for the
    worker: see :func:`_send_composed`.
    """
    template = get_template(uow, name)
    if template.disabled:
        raise ValidationError("Email Template is disabled", code="email_template_disabled")
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
        ctx = client_contexts.admin_context(uow, 0, department_id=department_id)
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
