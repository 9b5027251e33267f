"""Ticket e-mail that comes back to the support mailbox is dropped as a loop; real replies import.

Support asked the e-mail sender to mark ticket mail (``X-Loop: billow-support``) and to put
its reply marker above the ticket text. This sends a real ticket reply through aiosmtpd and
pipes what the SMTP server received into ``billow ticket import``.
"""

from __future__ import annotations

import json
from email.message import EmailMessage as Mime
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from billow.cli import app
from billow.db.models import TicketReply
from billow.services.support import departments
from billow.services.support.mail_parsing import LOOP_HEADER, LOOP_VALUE, REPLY_ABOVE_MARKER
from billow.uow import UnitOfWork


def _import(raw: bytes) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["ticket", "import"], input=raw)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _replies(db: Any, ticket_id: int) -> list[str]:
    with UnitOfWork(db) as uow:
        return list(uow.session.scalars(
            select(TicketReply.message).where(TicketReply.ticket_id == ticket_id).order_by(TicketReply.id)))


def test_sent_ticket_reply_fed_back_is_dropped_as_a_loop(api, db, smtp, add_client, drain):
    client_id = add_client()
    with UnitOfWork(db) as uow:
        dept = departments.add_department(uow, "Technical Support", "support@example.net")
        uow.commit()
    ticket = api.ok("OpenTicket", deptid=dept.id, clientid=client_id, subject="Site down",
                    message="My site is down", noemail="true")
    ticket_id = int(ticket["id"])
    api.ok("AddTicketReply", ticketid=ticket_id, message="We restarted the web server.",
           adminusername="apiadmin")
    drain()
    sent = [m for _, m in smtp.box.wait_for(2) if m["X-Billow-Template"] == "Support Ticket Reply"]
    assert len(sent) == 1
    [message] = sent
    assert message[LOOP_HEADER] == LOOP_VALUE
    text = message.get_body(("plain",)).get_content()
    assert text.startswith(REPLY_ABOVE_MARKER)
    assert REPLY_ABOVE_MARKER in message.get_body(("html",)).get_content()
    before = _replies(db, ticket_id)

    # Our own message arriving at the support mailbox (a client address forwarding to it).
    assert _import(message.as_bytes())["status"] == "Blocked Potential Email Loop"
    forwarded = Mime()
    forwarded["From"] = "ada@example.com"
    forwarded["To"] = "support@example.net"
    forwarded["Subject"] = message["Subject"]
    forwarded[LOOP_HEADER] = message[LOOP_HEADER]
    forwarded.set_content(text)
    assert _import(forwarded.as_bytes())["status"] == "Blocked Potential Email Loop"
    assert _replies(db, ticket_id) == before

    # The client answering above the marker: only the answer becomes the reply.
    answer = Mime()
    answer["From"] = "Ada Lovelace <ada@example.com>"
    answer["To"] = "support@example.net"
    answer["Subject"] = "Re: " + str(message["Subject"])
    answer.set_content("Thanks, it works now.\n\n" + text)
    outcome = _import(answer.as_bytes())
    assert outcome["status"] == "Ticket Reply Imported Successfully"
    assert _replies(db, ticket_id) == [*before, "Thanks, it works now."]
    with UnitOfWork(db) as uow:
        assert uow.session.scalar(select(func.count()).select_from(TicketReply)) == len(before) + 1
