"""Inbound e-mail with real raw messages: MIME, encodings, charsets, routing and drops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from billow.cli import app
from billow.db.models import (
    OutboxEvent,
    SupportDepartment,
    Ticket,
    TicketAttachment,
    TicketMailLog,
    TicketReply,
)
from billow.services.support import changes, departments
from billow.services.support.inbound_mail import import_message
from billow.services.support.mail_parsing import html_to_text, parse_message, strip_quoted_reply

PLAIN = b"""\
From: Cynthia Reilly <cynthia@example.com>
To: Support <support@example.net>
Subject: Website down
Message-ID: <plain-1@example.com>
Date: Thu, 26 Nov 2026 08:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello, my site is down since this morning.
Thanks
"""

MULTIPART = b"""\
From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>
To: support@example.net
Subject: =?iso-8859-1?q?Gr=FC=DFe_und_Fehler?=
Message-ID: <multi-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Die Seite l=E4dt nicht. Gr=FC=DFe!
--ALT
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>Die Seite l=E4dt nicht.</p>
--ALT--

--OUTER
Content-Type: text/plain; name="error.log"
Content-Disposition: attachment; filename="error.log"
Content-Transfer-Encoding: base64

RmF0YWwgZXJyb3I6IG91dCBvZiBtZW1vcnkK
--OUTER
Content-Type: application/x-msdownload; name="virus.exe"
Content-Disposition: attachment; filename="virus.exe"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA
--OUTER--
"""

HTML_ONLY = b"""\
From: html@example.org
To: Sales <sales@example.net>
Subject: Pricing question
Message-ID: <html-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="REL"

--REL
Content-Type: text/html; charset=windows-1252
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color: red}</style><script>alert(1)</script></head>
<body><p>How much is the =93Pro=94 plan&nbsp;&amp; VAT?</p><div>Logo: <img src=3D"cid:logo1"></div>
</body></html>
--REL
Content-Type: image/png
Content-ID: <logo1>
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--REL--
"""

KOI8 = b"""\
From: ivan@example.org
To: support@example.net
Subject: =?koi8-r?b?8NLJ18XU?=
Message-ID: <koi8-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: 8bit

\xf0\xd2\xc9\xd7\xc5\xd4, \xd3\xc1\xca\xd4 \xce\xc5 \xd2\xc1\xc2\xcf\xd4\xc1\xc5\xd4
"""

UNKNOWN_CHARSET = b"""\
From: odd@example.org
To: support@example.net
Subject: Odd charset
MIME-Version: 1.0
Content-Type: text/plain; charset=x-no-such-charset

caf\xe9 au lait
"""


def _reply_mail(tid: str, sender: str = "cynthia@example.com", extra: str = "") -> bytes:
    return (
        f"From: Cynthia <{sender}>\r\nTo: support@example.net\r\n"
        f"Subject: Re: [Ticket ID: {tid}] Website down\r\nMessage-ID: <reply-{tid}-{sender}@example.com>\r\n"
        f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "It works again, thank you!\r\n\r\n"
        "On Thu, 26 Nov 2026 at 09:00, Billow Support <support@example.net>\r\n"
        "wrote:\r\n> We restarted the server.\r\n> Regards\r\n"
    ).encode()


@pytest.fixture
def desk(uow: Any) -> dict[str, Any]:
    tech = departments.add_department(uow, "Technical Support", "support@example.net")
    sales = departments.add_department(uow, "Sales", "sales@example.net", clients_only=False)
    uow.commit()
    return {"tech": tech.id, "sales": sales.id}


@pytest.fixture
def client(uow: Any) -> int:
    from billow.services.clients.accounts import ClientInput, add_client

    values = {
        "firstname": "Cynthia",
        "lastname": "Reilly",
        "email": "cynthia@example.com",
        "address1": "1 Road",
        "city": "London",
        "state": "London",
        "postcode": "N1",
        "country": "GB",
        "phonenumber": "+44 20 7946 0958",
    }
    row = add_client(uow, ClientInput(values=values, custom_fields={}), skip_validation=True)
    uow.commit()
    return row.id


def _import(db: Any, raw: bytes) -> Any:
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as work:
        outcome = import_message(work, raw)
        work.commit()
    return outcome


def _log(db: Any) -> list[tuple[str, str]]:
    with db() as session:
        return [
            (r.email, r.status) for r in session.scalars(select(TicketMailLog).order_by(TicketMailLog.id))
        ]


# --- parsing ----------------------------------------------------------------------------


def test_parse_multipart_quoted_printable_base64_and_headers():
    mail = parse_message(MULTIPART)
    assert mail.from_name == "Jürgen Müller" and mail.from_email == "juergen@example.org"
    assert mail.subject == "Grüße und Fehler"
    assert mail.body == "Die Seite lädt nicht. Grüße!"
    assert [(a.name, a.data) for a in mail.attachments] == [
        ("error.log", b"Fatal error: out of memory\n"),
        ("virus.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00"),
    ]


def test_parse_html_only_with_inline_image_and_cp1252():
    mail = parse_message(HTML_ONLY)
    assert mail.body == "How much is the \u201cPro\u201d plan & VAT?\n\nLogo:"
    assert "alert" not in mail.body and "color" not in mail.body
    assert [(a.name, a.data) for a in mail.attachments] == [("inline-1.png", b"\x89PNG\r\n\x1a\n")]


def test_parse_koi8_and_unknown_charset():
    assert parse_message(KOI8).subject == "Привет"
    assert parse_message(KOI8).body == "Привет, сайт не работает"
    assert parse_message(UNKNOWN_CHARSET).body == "café au lait"


def test_quoted_reply_stripping():
    assert (
        strip_quoted_reply("Thanks!\n\nOn Mon, 1 Jan 2024, Bob <b@x.org> wrote:\n> old\n> text") == "Thanks!"
    )
    assert strip_quoted_reply("Yes\n##- Please type your reply above this line -##\nold") == "Yes"
    assert strip_quoted_reply("Fine\n-----Original Message-----\nFrom: x") == "Fine"
    assert strip_quoted_reply("Ok\n\nFrom: Support <s@x.org>\nSent: Monday\nSubject: y\n\nold") == "Ok"
    assert strip_quoted_reply("Answer\n> quoted tail\n>\n") == "Answer"
    assert strip_quoted_reply("> only a quote") == "> only a quote"


def test_html_to_text_marks_blockquotes():
    assert html_to_text("<p>New</p><blockquote>Old &lt;text&gt;</blockquote>") == "New\n\n> Old <text>"


# --- importing --------------------------------------------------------------------------


def test_new_ticket_for_known_client_routed_by_address(db, desk, client):
    outcome = _import(db, PLAIN)
    assert outcome.status == "Ticket Imported Successfully"
    with db() as session:
        ticket = session.get(Ticket, outcome.ticket_id)
        assert (ticket.client_id, ticket.department_id, ticket.subject) == (
            client,
            desk["tech"],
            "Website down",
        )
        assert ticket.message == "Hello, my site is down since this morning.\nThanks"
        events = [e.name for e in session.scalars(select(OutboxEvent))]
    assert "TicketOpen" in events
    assert _log(db) == [("cynthia@example.com", "Ticket Imported Successfully")]
    assert _import(db, PLAIN).status == "Duplicate Message"  # same Message-ID: not imported twice


def test_guest_ticket_with_attachments_disallowed_type_dropped(db, desk):
    outcome = _import(db, MULTIPART)
    with db() as session:
        ticket = session.get(Ticket, outcome.ticket_id)
        assert (ticket.client_id, ticket.name, ticket.email) == (None, "Jürgen Müller", "juergen@example.org")
        assert "[Attachments not accepted: virus.exe (File type not allowed" in ticket.message
        files = [a.filename for a in session.scalars(select(TicketAttachment))]
    assert files == ["error.log"]


def test_html_only_mail_to_sales_keeps_inline_image(db, desk):
    outcome = _import(db, HTML_ONLY)
    with db() as session:
        ticket = session.get(Ticket, outcome.ticket_id)
        assert ticket.department_id == desk["sales"]
        assert ticket.message.startswith("How much is the \u201cPro\u201d plan & VAT?")
        assert [a.filename for a in session.scalars(select(TicketAttachment))] == ["inline-1.png"]


def test_reply_by_mask_strips_quote_and_reopens(db, uow, desk, client):
    from billow.services.support.changes import update_ticket
    from billow.services.support.opening import NewTicket, open_ticket

    ticket = open_ticket(
        uow, NewTicket(department_id=desk["tech"], subject="Website down", message="down", client_id=client)
    )
    update_ticket(uow, ticket.id, changes.TicketChanges(status="Closed"))
    uow.commit()
    outcome = _import(db, _reply_mail(ticket.tid))
    assert outcome.status == "Ticket Reply Imported Successfully" and outcome.ticket_id == ticket.id
    with db() as session:
        reply = session.get(TicketReply, outcome.reply_id)
        assert (reply.client_id, reply.message) == (client, "It works again, thank you!")
        assert session.get(Ticket, ticket.id).status == "Customer-Reply"
    # A stranger who knows the mask replies as a guest, never as the client.
    stranger = _import(db, _reply_mail(ticket.tid, sender="other@example.org"))
    with db() as session:
        reply = session.get(TicketReply, stranger.reply_id)
        assert (reply.client_id, reply.email) == (0, "other@example.org")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Blocked Auto-Responder"),
        ("Precedence: bulk\r\n", "Blocked Auto-Responder"),
        ("Precedence: junk\r\n", "Blocked Auto-Responder"),
        ("Precedence: list\r\n", "Blocked Auto-Responder"),
        ("X-Autoreply: yes\r\n", "Blocked Auto-Responder"),
        ("X-Loop: billow-support\r\n", "Blocked Potential Email Loop"),
    ],
)
def test_automatic_mail_and_loops_are_dropped_and_logged(db, desk, headers, status):
    raw = (
        f"From: someone@example.org\r\nTo: support@example.net\r\n{headers}Subject: Out of office\r\n"
        "Content-Type: text/plain\r\n\r\nI am away.\r\n"
    ).encode()
    assert _import(db, raw).status == status
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []
        assert session.scalars(select(OutboxEvent)).all() == []  # nothing is ever answered
    assert _log(db) == [("someone@example.org", status)]


def test_mail_from_our_own_address_is_a_loop(db, desk):
    raw = b"From: support@example.net\r\nTo: support@example.net\r\nSubject: x\r\n\r\nbody\r\n"
    assert _import(db, raw).status == "Blocked Potential Email Loop"


def test_auto_submitted_no_is_a_person(db, desk):
    raw = (
        b"From: p@example.org\r\nTo: support@example.net\r\nAuto-Submitted: no\r\nSubject: hi\r\n\r\nhelp\r\n"
    )
    assert _import(db, raw).status == "Ticket Imported Successfully"


def test_blocked_sender_unknown_department_and_department_rules(db, uow, desk):
    from billow.db.models import TicketBlockedSender

    uow.session.add(TicketBlockedSender(type="sender", content="spam@example.org"))
    strict = departments.add_department(uow, "Clients", "clients@example.net", clients_only=True)
    replies = departments.add_department(uow, "Replies", "replies@example.net", piping_replies_only=True)
    uow.commit()
    del strict, replies
    spam = b"From: Spam@Example.org\r\nTo: support@example.net\r\nSubject: buy\r\n\r\nbuy now\r\n"
    assert _import(db, spam).status == "Blocked Sender"
    nowhere = b"From: a@example.org\r\nTo: nobody@example.net\r\nSubject: hi\r\n\r\nhello\r\n"
    assert _import(db, nowhere).status == "Department Not Found"
    guest = b"From: a@example.org\r\nTo: clients@example.net\r\nSubject: hi\r\n\r\nhello\r\n"
    assert _import(db, guest).status == "Unregistered Email Address"
    new = b"From: a@example.org\r\nTo: replies@example.net\r\nSubject: hi\r\n\r\nhello\r\n"
    assert _import(db, new).status == "Only Replies Allowed by Email"
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_ticket_piping_hook_can_skip(db, desk):
    from billow.events import add_hook

    @add_hook("TicketPiping")
    def skip_marketing(variables: dict[str, Any]) -> dict[str, Any]:
        return {"skipProcessing": "newsletter" in variables["subject"].lower()}

    raw = b"From: a@example.org\r\nTo: support@example.net\r\nSubject: Newsletter\r\n\r\nnews\r\n"
    assert _import(db, raw).status == "Skipped by Hook"


def test_cli_import_reads_stdin(db, desk, data_dir: Path):
    exe = Path(sys.executable).with_name("billow")
    proc = subprocess.run(
        [str(exe), "ticket", "import"], input=PLAIN, capture_output=True, timeout=120, env={**os.environ}
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert '"status": "Ticket Imported Successfully"' in proc.stdout.decode()
    loop = (
        b"From: a@example.org\r\nTo: support@example.net\r\nX-Loop: billow-support\r\nSubject: x\r\n\r\ny\r\n"
    )
    proc = subprocess.run(
        [str(exe), "ticket", "import"], input=loop, capture_output=True, timeout=120, env={**os.environ}
    )
    assert proc.returncode == 0 and "Blocked Potential Email Loop" in proc.stdout.decode()


def test_import_failure_is_logged_and_rolls_back_files(db, desk, data_dir):
    from billow.events import HookAbort, add_hook

    @add_hook("TicketOpen")
    def refuse(variables: dict[str, Any]) -> None:
        raise HookAbort("paused")

    folder = data_dir / "attachments"
    before = set(folder.iterdir()) if folder.exists() else set()
    assert _import(db, MULTIPART).status == "Import Failed: paused"
    assert (set(folder.iterdir()) if folder.exists() else set()) == before
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []
    assert _log(db) == [("juergen@example.org", "Import Failed: paused")]


def test_cli_department_commands(db):
    runner = CliRunner()
    added = runner.invoke(app, ["ticket", "department-add", "Billing", "--email", "billing@example.net",
                                "--imap-host", "127.0.0.1", "--imap-login", "billing",
                                "--imap-password", "pw"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["ticket", "department-list"], env={"COLUMNS": "200"})
    assert "billing@example.net" in listed.stdout and "pw" not in listed.stdout
    with db() as session:
        dept = session.scalars(select(SupportDepartment)).one()
        assert dept.mail_password != "pw" and dept.mail_password  # stored encrypted


def test_flood_of_new_tickets_from_one_sender_is_cut_off(db, desk):
    for n in range(11):
        raw = (
            f"From: loop@example.org\r\nTo: support@example.net\r\nSubject: Alert {n}\r\n"
            f"Message-ID: <flood-{n}@example.org>\r\n\r\nCPU high\r\n"
        ).encode()
        status = _import(db, raw).status
    assert status == "Exceeded Limit of 10 Tickets within 15 Minutes"
    with db() as session:
        assert len(session.scalars(select(Ticket)).all()) == 10
