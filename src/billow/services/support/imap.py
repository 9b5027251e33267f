"""Poll each department's IMAP mailbox and import unseen messages as tickets or replies.

Called by the automation run (and ``billow ticket poll``). Per message: fetch, import in
its own unit of work, commit, then mark it ``\\Seen``. A crash between the commit and the
flag only means the message is fetched again next time, and the import skips a
Message-ID it already imported, so nothing is imported twice or lost. A mailbox that
fails (unreachable, bad login) is logged and the others are still polled.
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from billow import security
from billow.services.support import departments
from billow.services.support.inbound_mail import import_message
from billow.uow import UnitOfWork

log = logging.getLogger("billow.support.imap")

__all__ = ["Mailbox", "PollResult", "mailbox_department_ids", "poll_department", "poll_mailboxes"]


@dataclass(frozen=True)
class Mailbox:
    department_id: int
    host: str
    port: int
    ssl: bool
    login: str
    password: str
    folder: str


@dataclass
class PollResult:
    fetched: int = 0
    imported: int = 0
    dropped: int = 0
    failed_mailboxes: list[str] = field(default_factory=list)


def configured_mailboxes(uow: UnitOfWork) -> list[Mailbox]:
    return [
        Mailbox(
            d.id,
            d.mail_host,
            d.mail_port,
            d.mail_ssl,
            d.mail_login,
            security.decrypt(d.mail_password),
            d.mail_folder or "INBOX",
        )
        for d in departments.list_departments(uow)
        if d.mail_host.strip()
    ]


def mailbox_department_ids(uow: UnitOfWork, *, after: int = 0, limit: int | None = None) -> list[int]:
    """Ids of departments with an IMAP mailbox configured, ascending, above *after*."""
    ids = [d.id for d in departments.list_departments(uow) if d.mail_host.strip() and d.id > after]
    return sorted(ids)[:limit] if limit is not None else sorted(ids)


def poll_department(
    uow_factory: Callable[[], UnitOfWork], department_id: int, *, limit: int = 500, timeout: float = 30.0
) -> PollResult:
    """Poll one department's mailbox; connection and login failures propagate to the caller."""
    with uow_factory() as uow:
        boxes = [b for b in configured_mailboxes(uow) if b.department_id == department_id]
    result = PollResult()
    for box in boxes:
        _poll_one(box, uow_factory, result, limit, timeout)
    return result


def poll_mailboxes(
    uow_factory: Callable[[], UnitOfWork], *, limit_per_mailbox: int = 500, timeout: float = 30.0
) -> PollResult:
    """Import every unseen message of every department mailbox; return what happened."""
    with uow_factory() as uow:
        mailboxes = configured_mailboxes(uow)
    result = PollResult()
    for box in mailboxes:
        try:
            _poll_one(box, uow_factory, result, limit_per_mailbox, timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            log.error("polling %s@%s failed: %s", box.login, box.host, exc)
            result.failed_mailboxes.append(f"{box.login}@{box.host}")
    return result


def _poll_one(
    box: Mailbox, uow_factory: Callable[[], UnitOfWork], result: PollResult, limit: int, timeout: float
) -> None:
    cls = imaplib.IMAP4_SSL if box.ssl else imaplib.IMAP4
    conn = cls(box.host, box.port, timeout=timeout)
    try:
        conn.login(box.login, box.password)
        status, _ = conn.select(box.folder)
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot select {box.folder}")
        status, data = conn.search(None, "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error("SEARCH UNSEEN failed")
        for number in (data[0] or b"").split()[:limit]:
            status, parts = conn.fetch(number, "(RFC822)")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
            if status != "OK" or raw is None:
                log.warning("fetching message %s from %s failed", number, box.host)
                continue
            result.fetched += 1
            with uow_factory() as uow:
                outcome = import_message(uow, raw)
                uow.commit()
            if outcome.imported:
                result.imported += 1
            else:
                result.dropped += 1
            conn.store(number, "+FLAGS", "\\Seen")
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            log.debug("logout from %s failed", box.host)
