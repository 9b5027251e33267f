"""The support tasks inside the real automation runner (registered in TASKS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from tests.services.support.imap_server import ImapServer, Mailbox, StoredMessage

from billow import clock
from billow.automation.runner import run_cron
from billow.automation.tasks import load_tasks
from billow.db.models import Ticket
from billow.services.settings import set_setting
from billow.services.support import departments
from billow.services.support import opening as ticket_opening
from billow.services.support import replies as ticket_replies

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_support_tasks_are_registered() -> None:
    names = [t.name for t in load_tasks(plugins=False)]
    assert "CloseInactiveTickets" in names and "PollSupportMailboxes" in names


def test_runner_closes_inactive_tickets_once(db: Any, uow: Any) -> None:
    with clock.frozen(T0):
        dept = departments.add_department(uow, "Support", "support@example.net")
        ticket = ticket_opening.open_ticket(
            uow,
            ticket_opening.NewTicket(
                department_id=dept.id, subject="s", message="m", name="G", email="g@example.org"
            ),
        )
        ticket_replies.add_reply(
            uow, ticket_replies.NewReply(ticket_id=ticket.id, message="done?", admin_username="staff")
        )
        set_setting(uow, "CloseInactiveTickets", "24")
        uow.commit()
    with clock.frozen(T0 + timedelta(hours=25)):
        report = run_cron(db, only="CloseInactiveTickets")
        result = report.result("CloseInactiveTickets")
        assert result is not None and result.status == "completed" and result.counts == {"closed": 1}
        again = run_cron(db, only="CloseInactiveTickets").result("CloseInactiveTickets")
        assert again is not None and again.counts.get("closed", 0) == 0
    with db() as session:
        assert session.get(Ticket, ticket.id).status == "Closed"


def test_runner_polls_mailboxes_and_records_a_broken_one(db: Any, uow: Any) -> None:
    raw = (
        b"From: c@example.org\r\nTo: support@example.net\r\nSubject: Help\r\nMessage-ID: <t1@example.org>\r\n"
        b"\r\nPlease help\r\n"
    )
    box = Mailbox("support@example.net", "secret", [StoredMessage(raw)])
    with ImapServer({box.user: box}) as server:
        departments.add_department(
            uow,
            "Support",
            "support@example.net",
            mail_host="127.0.0.1",
            mail_port=server.port,
            mail_ssl=False,
            mail_login=box.user,
            mail_password="secret",
        )
        departments.add_department(
            uow,
            "Broken",
            "broken@example.net",
            mail_host="127.0.0.1",
            mail_port=server.port,
            mail_ssl=False,
            mail_login=box.user,
            mail_password="nope",
        )
        uow.commit()
        result = run_cron(db, only="PollSupportMailboxes").result("PollSupportMailboxes")
    assert result is not None
    assert result.counts.get("imported") == 1 and result.failed == 1
    assert result.failures[0]["item"].startswith("Department ID")
    with db() as session:
        assert [t.subject for t in session.scalars(select(Ticket))] == ["Help"]
