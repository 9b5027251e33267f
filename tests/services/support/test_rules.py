"""Support rules outside the wire: auto-close, the client access rule, and the sanitiser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from billow import clock
from billow.db.models import OutboxEvent, Ticket
from billow.errors import BillowError
from billow.services.settings import set_setting
from billow.services.support import (
    auto_close,
    blocklist,
    changes,
    departments,
    lookup,
    mail_fields,
    merge,
    queries,
)
from billow.services.support import opening as ticket_opening
from billow.services.support import replies as ticket_replies
from billow.services.support._render import ALLOWED_TAGS, render_message, sanitise_html
from billow.uow import Actor, UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _client(uow: UnitOfWork, email: str, **flags: Any) -> int:
    from billow.services.clients.accounts import ClientInput, add_client

    values = {
        "firstname": "C",
        "lastname": email.split("@")[0],
        "email": email,
        "address1": "1 Road",
        "city": "London",
        "state": "London",
        "postcode": "N1",
        "country": "GB",
        "phonenumber": "+44 20 7946 0958",
    }
    client = add_client(uow, ClientInput(values=values, custom_fields={}), skip_validation=True)
    for key, value in flags.items():
        setattr(client, key, value)
    return client.id


def _answered(uow: UnitOfWork, dept_id: int, client_id: int, **kw: Any) -> Ticket:
    ticket = ticket_opening.open_ticket(
        uow,
        ticket_opening.NewTicket(department_id=dept_id, subject="s", message="m", client_id=client_id, **kw),
    )
    ticket_replies.add_reply(
        uow, ticket_replies.NewReply(ticket_id=ticket.id, message="answer", admin_username="staff")
    )
    return ticket


# --- CloseInactiveTickets ---------------------------------------------------------------


def test_close_inactive_tickets(db: Any, uow: UnitOfWork) -> None:
    with clock.frozen(T0):
        dept = departments.add_department(uow, "Support", "support@example.net")
        locked = departments.add_department(uow, "Locked", "locked@example.net", prevent_client_closure=True)
        cid = _client(uow, "a@example.com")
        vip = _client(uow, "vip@example.com", overrideautoclose=True)
        answered = _answered(uow, dept.id, cid)
        waiting = ticket_opening.open_ticket(
            uow, ticket_opening.NewTicket(department_id=dept.id, subject="s", message="m", client_id=cid)
        )  # Open: awaiting staff
        prevented = _answered(uow, dept.id, cid, prevent_client_closure=True)
        in_locked = _answered(uow, locked.id, cid)
        allowed_in_locked = _answered(uow, locked.id, cid, prevent_client_closure=False)
        overridden = _answered(uow, dept.id, vip)
        uow.commit()
    with clock.frozen(T0 + timedelta(hours=30)):
        assert auto_close.close_inactive_tickets(uow, clock.now()) == []  # setting off (0)
        set_setting(uow, "CloseInactiveTickets", "48")
        uow.commit()
        assert auto_close.close_inactive_tickets(uow, clock.now()) == []  # not idle long enough
        late = _answered(uow, dept.id, cid)
        uow.commit()
    with clock.frozen(T0 + timedelta(hours=49)):
        closed = auto_close.close_inactive_tickets(uow, clock.now())
        uow.commit()
        assert closed == [answered.id, allowed_in_locked.id]
        assert auto_close.close_inactive_tickets(uow, clock.now()) == []  # idempotent
        statuses = {t.id: t.status for t in uow.session.scalars(select(Ticket))}
        uow.commit()  # end the read transaction before another session reads
    assert statuses[answered.id] == "Closed"
    for kept in (waiting, prevented, in_locked, overridden, late):
        assert statuses[kept.id] != "Closed"
    with db() as session:
        templates = [
            e.payload["template"]
            for e in session.scalars(select(OutboxEvent).where(OutboxEvent.name == "EmailRequested"))
        ]
    assert templates.count("Support Ticket Auto Close Notification") == 2


def test_a_reply_after_listing_keeps_the_ticket_open(uow: UnitOfWork) -> None:
    with clock.frozen(T0):
        dept = departments.add_department(uow, "Support", "support@example.net")
        ticket = _answered(uow, dept.id, _client(uow, "a@example.com"))
        set_setting(uow, "CloseInactiveTickets", "1")
        uow.commit()
    with clock.frozen(T0 + timedelta(hours=2)):
        assert auto_close.inactive_ticket_ids(uow, clock.now()) == [ticket.id]
        ticket_replies.add_reply(
            uow,
            ticket_replies.NewReply(ticket_id=ticket.id, message="me again", client_id=ticket.client_id or 0),
        )
        ticket_replies.add_reply(
            uow, ticket_replies.NewReply(ticket_id=ticket.id, message="answer", admin_username="staff")
        )
        assert auto_close.auto_close_ticket(uow, ticket.id, clock.now()) is False
        assert ticket.status == "Answered"


# --- client access ----------------------------------------------------------------------


def test_client_sees_only_own_tickets(db: Any, uow: UnitOfWork) -> None:
    from billow.db.models import UserClient
    from billow.services.clients.users import create_user

    dept = departments.add_department(uow, "Support", "support@example.net")
    mine, theirs = _client(uow, "me@example.com"), _client(uow, "them@example.com")
    user = create_user(uow, "Me", "Client", "me-login@example.com", "a long password 1")
    uow.session.add(UserClient(user_id=user.id, client_id=mine, owner=True))
    own = ticket_opening.open_ticket(
        uow, ticket_opening.NewTicket(department_id=dept.id, subject="mine", message="m", client_id=mine)
    )
    other = ticket_opening.open_ticket(
        uow, ticket_opening.NewTicket(department_id=dept.id, subject="theirs", message="m", client_id=theirs)
    )
    ticket_replies.add_note(uow, "staff only", ticket_id=own.id)
    guest = ticket_opening.open_ticket(
        uow,
        ticket_opening.NewTicket(
            department_id=dept.id, subject="guest", message="m", name="G", email="g@example.org"
        ),
    )
    uow.commit()
    with UnitOfWork(db, Actor(kind="client", user_id=user.id)) as as_client:
        assert lookup.get_ticket(as_client, own.id).subject == "mine"
        for forbidden in (other.id, guest.id):
            with pytest.raises(BillowError, match="Ticket ID not found"):
                lookup.get_ticket(as_client, forbidden)
        with pytest.raises(BillowError, match="Ticket ID not found"):
            lookup.get_ticket(as_client, tid=other.tid)
        total, rows = queries.list_tickets(as_client, queries.TicketFilter())
        assert (total, [t.id for t in rows]) == (1, [own.id])
        assert queries.list_tickets(as_client, queries.TicketFilter(client_id=theirs))[0] == 0
        assert queries.notes_of(as_client, lookup.get_ticket(as_client, own.id)) == []
        with pytest.raises(BillowError, match="Ticket ID not found"):
            ticket_replies.add_reply(
                as_client, ticket_replies.NewReply(ticket_id=other.id, message="let me in")
            )
        with pytest.raises(BillowError, match="Client ID Not Found"):
            ticket_opening.open_ticket(
                as_client,
                ticket_opening.NewTicket(department_id=dept.id, subject="s", message="m", client_id=theirs),
            )
        reply = ticket_replies.add_reply(
            as_client,
            ticket_replies.NewReply(ticket_id=own.id, message="update", admin_username="pretend-staff"),
        )
        assert (reply.admin, reply.client_id) == ("", mine)
        counts = queries.ticket_counts(as_client)
        assert counts.all_active == 1
        # Staff operations are refused to a client even on its own ticket.
        for attempt in (
            lambda: changes.update_ticket(as_client, own.id, changes.TicketChanges(status="Closed")),
            lambda: changes.delete_ticket(as_client, own.id),
            lambda: merge.merge_tickets(as_client, own.id, [other.id]),
            lambda: blocklist.block_sender(as_client, own.id),
            lambda: ticket_replies.update_reply(as_client, reply.id, "rewritten"),
            lambda: ticket_replies.delete_reply(as_client, own.id, reply.id),
        ):
            with pytest.raises(BillowError):
                attempt()


def test_client_cannot_close_a_prevented_ticket(db: Any, uow: UnitOfWork) -> None:
    from billow.db.models import UserClient
    from billow.services.clients.users import create_user

    dept = departments.add_department(uow, "Support", "support@example.net", prevent_client_closure=True)
    cid = _client(uow, "me@example.com")
    user = create_user(uow, "Me", "Client", "me-login@example.com", "a long password 1")
    uow.session.add(UserClient(user_id=user.id, client_id=cid, owner=True))
    locked = ticket_opening.open_ticket(
        uow, ticket_opening.NewTicket(department_id=dept.id, subject="s", message="m", client_id=cid)
    )
    free = ticket_opening.open_ticket(
        uow,
        ticket_opening.NewTicket(
            department_id=dept.id, subject="s", message="m", client_id=cid, prevent_client_closure=False
        ),
    )
    uow.commit()
    with UnitOfWork(db, Actor(kind="client", user_id=user.id)) as as_client:
        with pytest.raises(BillowError, match="cannot be closed"):
            changes.close_ticket(as_client, locked.id)
        assert changes.close_ticket(as_client, free.id).status == "Closed"


# --- sanitiser --------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[a](vbscript:msgbox(1))",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<form action="https://evil.example"><input name=p></form>',
]


class _Elements(HTMLParser):
    """Collects the real elements and attributes of rendered HTML (escaped text is not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


@pytest.mark.parametrize("source", HOSTILE)
@pytest.mark.parametrize("markdown", [True, False])
def test_hostile_input_renders_inert(source: str, markdown: bool) -> None:
    parser = _Elements()
    parser.feed(render_message(source, markdown=markdown))
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, tag
        assert not [a for a in attrs if a.startswith("on") or a == "style"], attrs
        for key in ("href", "src"):
            url = "".join(attrs.get(key, "").split()).lower()
            assert not url.startswith(("javascript:", "vbscript:", "data:")), attrs


def test_sanitiser_on_raw_html_keeps_harmless_markup() -> None:
    dirty = (
        '<p onclick="x()">Hi <b>there</b> <a href="https://example.com" onmouseover="y()">link</a>'
        '<a href="javascript:alert(1)">bad</a><script>z()</script></p>'
    )
    clean = sanitise_html(dirty)
    assert clean == (
        '<p>Hi <b>there</b> <a href="https://example.com" rel="nofollow noopener noreferrer">link</a>'
        '<a rel="nofollow noopener noreferrer">bad</a></p>'
    )


def test_markdown_renders_formatting() -> None:
    out = render_message("**bold** and [site](https://example.com)\n\n- one\n- two", markdown=True)
    assert "<strong>bold</strong>" in out
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer">site</a>' in out
    assert "<li>one</li>" in out
    assert render_message("a < b\nnext", markdown=False) == "a &lt; b<br>\nnext"


# --- e-mail merge fields ----------------------------------------------------------------


def test_ticket_email_fields_and_reply_round_trip(db: Any, uow: UnitOfWork) -> None:
    from billow.services.support.inbound_mail import import_message

    dept = departments.add_department(uow, "Support", "support@example.net")
    cid = _client(uow, "owner@example.com")
    guest = ticket_opening.open_ticket(
        uow,
        ticket_opening.NewTicket(
            department_id=dept.id,
            subject="Guest q",
            message="hi",
            name="Gail Guest",
            email="gail@example.org",
        ),
    )
    mine = ticket_opening.open_ticket(
        uow,
        ticket_opening.NewTicket(
            department_id=dept.id, subject="Mine", message="m", client_id=cid, cc="boss@example.com"
        ),
    )
    ticket_replies.add_reply(
        uow, ticket_replies.NewReply(ticket_id=guest.id, message="Try again now", admin_username="staff")
    )
    uow.commit()
    fields = mail_fields.ticket_email_fields(uow, guest.id)
    assert fields is not None
    assert fields["merge"]["ticket_id"] == guest.tid and fields["merge"]["ticket_message"] == "Try again now"
    assert fields["merge"]["ticket_message_html"] == "Try again now"
    assert fields["merge"]["ticket_link"].endswith(f"tid={guest.tid}&c={guest.c}")
    assert (fields["client_id"], fields["recipients"]) == (0, [("Gail Guest", "gail@example.org")])
    client_fields = mail_fields.ticket_email_fields(uow, mine.id)
    assert client_fields is not None
    assert client_fields["recipients"] == [("C owner", "owner@example.com"), ("", "boss@example.com")]
    assert mail_fields.ticket_email_fields(uow, 999) is None
    # The subject WHMCS's templates use brings the customer's answer back to the ticket.
    subject = f"Re: [Ticket ID: {fields['merge']['ticket_id']}] {fields['merge']['ticket_subject']}"
    raw = (
        f"From: gail@example.org\r\nTo: support@example.net\r\nSubject: {subject}\r\n\r\nWorks!\r\n"
    ).encode()
    uow.session.commit()
    outcome = import_message(uow, raw)
    uow.commit()
    assert (outcome.status, outcome.ticket_id) == ("Ticket Reply Imported Successfully", guest.id)
