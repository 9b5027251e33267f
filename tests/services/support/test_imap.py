"""The IMAP poller against a real IMAP4rev1 server on loopback (tests/support/imap_server.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.services.support.imap_server import ImapServer, Mailbox, StoredMessage

from billow.db.models import Ticket, TicketMailLog
from billow.services.support import departments
from billow.services.support.imap import poll_mailboxes
from billow.uow import UnitOfWork


def _mail(n: int, extra: str = "") -> bytes:
    return (
        f"From: Customer {n} <c{n}@example.org>\r\nTo: support@example.net\r\n{extra}"
        f"Subject: Problem {n}\r\nMessage-ID: <imap-{n}@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease help.\r\n"
    ).encode()


def test_poll_imports_unseen_marks_seen_and_survives_a_broken_mailbox(db: Any, uow: Any) -> None:
    box = Mailbox(
        "support@example.net",
        'p"ss w\\rd',
        [
            StoredMessage(_mail(1)),
            StoredMessage(_mail(2, "Auto-Submitted: auto-replied\r\n")),
            StoredMessage(_mail(3), seen=True),
            StoredMessage(_mail(4)),
        ],
    )
    with ImapServer({box.user: box}) as server:
        departments.add_department(
            uow,
            "Broken",
            "broken@example.net",
            mail_host="127.0.0.1",
            mail_port=server.port,
            mail_ssl=False,
            mail_login="support@example.net",
            mail_password="wrong",
        )
        departments.add_department(
            uow,
            "Technical Support",
            "support@example.net",
            mail_host="127.0.0.1",
            mail_port=server.port,
            mail_ssl=False,
            mail_login="support@example.net",
            mail_password='p"ss w\\rd',
        )
        uow.commit()
        result = poll_mailboxes(lambda: UnitOfWork(db))
        assert (result.fetched, result.imported, result.dropped) == (3, 2, 1)
        assert result.failed_mailboxes == ["support@example.net@127.0.0.1"]
        assert [m.seen for m in box.messages] == [True, True, True, True]
        assert {"CAPABILITY", "LOGIN", "SELECT", "SEARCH", "FETCH", "STORE", "LOGOUT"} <= set(server.commands)
        with db() as session:
            subjects = sorted(t.subject for t in session.scalars(select(Ticket)))
            statuses = sorted(r.status for r in session.scalars(select(TicketMailLog)))
        assert subjects == ["Problem 1", "Problem 4"]
        assert statuses == [
            "Blocked Auto-Responder",
            "Ticket Imported Successfully",
            "Ticket Imported Successfully",
        ]

        again = poll_mailboxes(lambda: UnitOfWork(db))
        assert (again.fetched, again.imported) == (0, 0)

        # A message seen again (e.g. a crash before \\Seen was stored) is not imported twice.
        box.messages[0].seen = False
        third = poll_mailboxes(lambda: UnitOfWork(db))
        assert (third.fetched, third.imported, third.dropped) == (1, 0, 1)
        with db() as session:
            assert len(session.scalars(select(Ticket)).all()) == 2


def test_poll_without_configured_mailboxes_does_nothing(db: Any, uow: Any) -> None:
    departments.add_department(uow, "No mailbox", "x@example.net")
    uow.commit()
    result = poll_mailboxes(lambda: UnitOfWork(db))
    assert (result.fetched, result.failed_mailboxes) == (0, [])
