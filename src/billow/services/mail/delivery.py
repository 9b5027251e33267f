"""Delivering the queue: claiming due rows, sending each, and the retry schedule.

The worker sends due rows over SMTP; a failure keeps the row pending with a later
``next_attempt_at`` (an outage delays mail, never drops it) until the retry schedule is
spent, and only a permanent refusal marks it failed.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from billow.config import get_settings
from billow.db.models import EmailMessage
from billow.db.queries import claim_leased
from billow.services.mail._mime import _addresses, build_mime
from billow.services.mail.smtp import Mailer
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")


#: Waits after each failed SMTP attempt (about 3 days in all) before mail is given up.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
    timedelta(hours=3), timedelta(hours=6), timedelta(hours=12), timedelta(hours=24),
    timedelta(hours=24),
)


def claim_due(uow: UnitOfWork, limit: int) -> list[int]:
    """Lease up to *limit* pending e-mails that are due (SKIP LOCKED on PostgreSQL)."""
    return claim_leased(uow.session, EmailMessage, EmailMessage.pending.is_(True), now=uow.now,
                        lease_seconds=get_settings().worker_lease_seconds, limit=limit)


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
