"""Every support action through the real API: WHMCS's shapes, errors and outcomes."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.services.support.conftest import encode_attachments, same_shape

from billow.db.models import OutboxEvent, Ticket, TicketAttachment


def _open(api: Any, dept: Any, **params: Any) -> dict[str, Any]:
    base = {"deptid": dept.id, "subject": "Site down", "message": "My site is **down**"}
    base.update(params)
    return api.ok("OpenTicket", **base)


def _events(db: Any, name: str) -> list[dict[str, Any]]:
    with db() as session:
        return [
            e.payload
            for e in session.scalars(
                select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.id)
            )
        ]


def _admin_id(uow: Any) -> int:
    """The API admin's id, read without keeping SQLite's write lock from the API."""
    from billow.db.models import Admin

    admin_id = uow.session.scalar(select(Admin.id).where(Admin.username == "apiadmin"))
    uow.session.commit()  # ends the read transaction; commit keeps loaded objects usable
    return int(admin_id)


def _emails(db: Any) -> list[str]:
    return [p["template"] for p in _events(db, "EmailRequested")]


# --- OpenTicket -------------------------------------------------------------------------


def test_open_ticket_for_client_shape_mask_event_and_email(api, db, dept, client_id, whmcs_examples):
    body = _open(api, dept, clientid=client_id, priority="high", markdown="1")
    same_shape(body, whmcs_examples["OpenTicket"]["example_response"])
    assert re.fullmatch(r"[A-Z]{3}-\d{6}", body["tid"])
    assert re.fullmatch(r"[A-Za-z0-9]{8}", body["c"])
    opened = _events(db, "TicketOpen")
    assert opened == [
        {
            "ticketid": int(body["id"]),
            "ticketmask": body["tid"],
            "userid": client_id,
            "deptid": dept.id,
            "deptname": "Technical Support",
            "subject": "Site down",
            "message": "My site is **down**",
            "priority": "High",
        }
    ]
    assert "Support Ticket Opened" in _emails(db)
    got = api.ok("GetTicket", ticketid=body["id"])
    assert got["priority"] == "High" and got["status"] == "Open" and got["userid"] == str(client_id)


def test_masks_are_random_and_unique(api, dept, client_id):
    masks = {_open(api, dept, clientid=client_id)["tid"] for _ in range(8)}
    assert len(masks) == 8
    numbers = sorted(int(m.split("-")[1]) for m in masks)
    assert numbers != list(range(numbers[0], numbers[0] + 8)), "masks must not be sequential"


def test_open_ticket_for_guest_and_as_admin(api, db, dept):
    guest = _open(api, dept, name="Guest Person", email="guest@example.org", noemail="1")
    ticket = api.ok("GetTicket", ticketid=guest["id"])
    assert (ticket["name"], ticket["email"], ticket["requestor_type"]) == (
        "Guest Person",
        "guest@example.org",
        "Guest",
    )
    assert "Support Ticket Opened" not in _emails(db)
    staff = _open(api, dept, name="Guest Person", email="guest@example.org", admin="1")
    assert _events(db, "TicketOpenAdmin")[0]["ticketid"] == int(staff["id"])
    assert "Support Ticket Opened by Admin" in _emails(db)
    assert api.ok("GetTicket", ticketid=staff["id"])["admin"] == "apiadmin"


def test_open_ticket_with_attachments_and_custom_fields(api, dept, client_id, data_dir, uow):
    from billow.api.params import encode_php_array
    from billow.db.models import CustomField

    field = CustomField(type="support", relid=dept.id, fieldname="Server")
    uow.session.add(field)
    uow.commit()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    body = _open(
        api,
        dept,
        clientid=client_id,
        attachments=encode_attachments(("../../etc/screen shot.png", png), ("log.txt", b"boom")),
        customfields=encode_php_array({field.id: "web01"}),
    )
    ticket = api.ok("GetTicket", ticketid=body["id"])
    opening = ticket["replies"]["reply"][0]
    assert opening["attachments"] == [
        {"filename": "screen shot.png", "index": 0},
        {"filename": "log.txt", "index": 1},
    ]
    stored = opening["attachment"].split("|")
    assert all(re.fullmatch(r"[0-9a-f]{16}_.+", s) for s in stored)
    folder = data_dir / "attachments"
    assert sorted(p.name for p in folder.iterdir() if p.name in stored) == sorted(stored)
    assert not any(p.stat().st_mode & 0o111 for p in folder.iterdir())
    got = api.ok("GetTicketAttachment", relatedid=body["id"], type="ticket", index=0)
    assert got["filename"] == "screen shot.png" and base64.b64decode(got["data"]) == png
    from billow.services.clients.custom_fields import custom_field_values

    assert [v for _, v in custom_field_values(uow, "support", int(body["id"]), dept.id)] == ["web01"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": 999}, "Client ID Not Found"),
        ({"clientid": "CLIENT", "userid": 999}, "The system cannot find the provided user ID."),
        ({"clientid": "CLIENT", "contactid": 999}, "Contact ID Not Found"),
        ({"name": "No Email"}, "Name and email address are required if not a client"),
        ({"clientid": "CLIENT", "deptid": 999}, "Department ID not found"),
        ({"clientid": "CLIENT", "subject": ""}, "Subject is required"),
        ({"clientid": "CLIENT", "message": ""}, "Message is required"),
        ({"clientid": "CLIENT", "serviceid": 999}, "Service ID Not Found"),
        ({"clientid": "CLIENT", "domainid": 999}, "Domain ID Not Found"),
        ({"name": "Guest", "email": "not-an-address"}, "Email Address Invalid"),
        ({"clientid": "CLIENT", "created": "yesterday"}, "Invalid Date Format"),
        (
            {"clientid": "CLIENT", "created": "2999-01-01 00:00:00"},
            "Ticket creation date cannot be in the future",
        ),
    ],
)
def test_open_ticket_errors_change_nothing(api, db, dept, client_id, params, message):
    params = {k: (client_id if v == "CLIENT" else v) for k, v in params.items()}
    assert api.error("OpenTicket", **{"deptid": dept.id, "subject": "s", "message": "m", **params}) == message
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_unable_to_generate_ticket_number(api, uow, dept, client_id):
    from billow.services.settings import set_setting

    set_setting(uow, "TicketMask", "FIXED")
    uow.commit()
    _open(api, dept, clientid=client_id)
    assert (
        api.error("OpenTicket", deptid=dept.id, subject="s", message="m", clientid=client_id)
        == "Unable to generate ticket number"
    )


def test_attachment_limits(api, dept, client_id, monkeypatch):
    from billow.config import get_settings

    assert api.error(
        "OpenTicket",
        deptid=dept.id,
        subject="s",
        message="m",
        clientid=client_id,
        attachments=encode_attachments(("evil.php", b"<?php")),
    ).startswith("File type not allowed")
    monkeypatch.setattr(get_settings(), "attachment_max_bytes", 10)
    assert "larger than" in api.error(
        "OpenTicket",
        deptid=dept.id,
        subject="s",
        message="m",
        clientid=client_id,
        attachments=encode_attachments(("a.txt", b"x" * 11)),
    )
    assert (
        api.error(
            "OpenTicket", deptid=dept.id, subject="s", message="m", clientid=client_id, attachments="%%%"
        )
        == "Invalid attachments: expected base64 encoded JSON"
    )


# --- replies and notes ------------------------------------------------------------------


def test_replies_statuses_hooks_and_sorting(api, db, dept, client_id, whmcs_examples):
    t = _open(api, dept, clientid=client_id)
    api.ok("AddTicketReply", ticketid=t["id"], message="We are on it", adminusername="apiadmin")
    assert api.ok("GetTicket", ticketid=t["id"])["status"] == "Answered"
    assert _events(db, "TicketAdminReply")[0]["status"] == "Answered"
    assert "Support Ticket Reply" in _emails(db)
    api.ok("AddTicketReply", ticketid=t["id"], message="Still down", clientid=client_id)
    assert api.ok("GetTicket", ticketid=t["id"])["status"] == "Customer-Reply"
    assert _events(db, "TicketUserReply")[0]["userid"] == client_id
    api.ok("AddTicketReply", ticketid=t["id"], message="Fixed", adminusername="apiadmin", status="Closed")
    assert _events(db, "TicketClose") == [{"ticketid": int(t["id"])}]
    asc = api.ok("GetTicket", ticketid=t["id"])
    same_shape(asc, whmcs_examples["GetTicket"]["example_response"])
    assert [r["message"] for r in asc["replies"]["reply"]] == [
        "My site is **down**",
        "We are on it",
        "Still down",
        "Fixed",
    ]
    assert [r["requestor_type"] for r in asc["replies"]["reply"]] == [
        "Owner",
        "Operator",
        "Owner",
        "Operator",
    ]
    desc = api.ok("GetTicket", ticketnum=t["tid"], repliessort="DESC")
    assert [r["message"] for r in desc["replies"]["reply"]][0] == "Fixed"
    assert desc["replies"]["reply"][-1]["replyid"] == "0"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ticketid": 999}, "Ticket ID not found"),
        ({"clientid": 999}, "Client ID Not Found"),
        ({"clientid": "CLIENT", "contactid": 999}, "Contact ID Not Found"),
        ({}, "Name and email address are required if not a client"),
        ({"clientid": "CLIENT", "message": " "}, "Message is required"),
        ({"name": "A", "email": "bad"}, "Email Address Invalid"),
        ({"clientid": "CLIENT", "status": "Nope"}, "Invalid Ticket Status"),
        ({"clientid": "CLIENT", "created": "31/12/2020"}, "Invalid Date Format"),
        (
            {"clientid": "CLIENT", "created": "2999-01-01T00:00:00"},
            "Reply creation date cannot be in the future",
        ),
    ],
)
def test_add_ticket_reply_errors(api, dept, client_id, params, message):
    t = _open(api, dept, clientid=client_id)
    params = {k: (client_id if v == "CLIENT" else v) for k, v in params.items()}
    call = {"ticketid": t["id"], "message": "hello", **params}
    assert api.error("AddTicketReply", **call) == message
    assert len(api.ok("GetTicket", ticketid=t["id"])["replies"]["reply"]) == 1


def test_notes_and_get_ticket_notes(api, db, dept, client_id, whmcs_examples):
    t = _open(api, dept, clientid=client_id)
    api.ok(
        "AddTicketNote",
        ticketnum=t["tid"],
        message="Internal: check DNS",
        attachments=encode_attachments(("dns.txt", b"A 1.2.3.4")),
    )
    notes = api.ok("GetTicketNotes", ticketid=t["id"])
    same_shape(notes, whmcs_examples["GetTicketNotes"]["example_response"])
    assert notes["notes"]["note"][0]["message"] == "Internal: check DNS"
    assert _events(db, "TicketAddNote")[0]["ticketid"] == int(t["id"])
    note_id = notes["notes"]["note"][0]["id"]
    got = api.ok("GetTicketAttachment", relatedid=note_id, type="note", index=0)
    assert base64.b64decode(got["data"]) == b"A 1.2.3.4"
    assert api.error("AddTicketNote", ticketid=999, message="x") == "Ticket ID not found"
    assert api.error("AddTicketNote", ticketid=t["id"], message="") == "Message is required"
    assert api.error("AddTicketNote", ticketid=t["id"], message="x", created="junk") == "Invalid Date Format"
    assert (
        api.error("AddTicketNote", ticketid=t["id"], message="x", created="2999-01-01")
        == "Ticket creation date cannot be in the future"
    )
    api.ok("DeleteTicketNote", noteid=note_id)
    assert api.ok("GetTicketNotes", ticketid=t["id"])["totalresults"] == 0
    assert api.error("DeleteTicketNote", noteid=note_id) == "Note ID Not Found"


# --- listing and counting ---------------------------------------------------------------


def test_get_tickets_filters_and_pseudo_statuses(api, uow, dept, client_id, whmcs_examples):
    from billow.services.support import departments

    other = departments.add_department(uow, "Sales", "sales@example.net")
    uow.commit()
    a = _open(api, dept, clientid=client_id, subject="Alpha outage")
    b = _open(api, dept, name="G", email="g@example.org", subject="Beta question")
    c = _open(api, other, clientid=client_id, subject="Gamma invoice")
    api.ok("AddTicketReply", ticketid=b["id"], message="answer", adminusername="apiadmin")
    api.ok("UpdateTicket", ticketid=c["id"], status="Closed")
    api.ok("UpdateTicket", ticketid=a["id"], flag=_admin_id(uow))

    def ids(**f: Any) -> list[str]:
        return sorted(t["id"] for t in api.ok("GetTickets", **f)["tickets"]["ticket"])

    listed = api.ok("GetTickets", clientid=client_id)
    same_shape(listed, whmcs_examples["GetTickets"]["example_response"])
    assert ids() == sorted([a["id"], b["id"], c["id"]])
    assert ids(deptid=other.id) == [c["id"]]
    assert ids(clientid=client_id) == sorted([a["id"], c["id"]])
    assert ids(email="g@example.org") == [b["id"]]
    assert ids(subject="outage") == [a["id"]]
    assert ids(status="Awaiting Reply") == [a["id"]]
    assert ids(status="All Active Tickets") == sorted([a["id"], b["id"]])
    assert ids(status="My Flagged Tickets") == [a["id"]]
    assert ids(status="Answered") == [b["id"]]
    page = api.ok("GetTickets", limitstart=2, limitnum=2)
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (3, 2, 1)
    assert api.ok("GetTickets", limitstart=3)["tickets"] == {"ticket": []}

    counts = api.ok("GetTicketCounts", includeCountsByStatus="true")
    same_shape(counts, whmcs_examples["GetTicketCounts"]["example_response"])
    assert (counts["allActive"], counts["awaitingReply"], counts["flaggedTickets"]) == (2, 1, 1)
    assert counts["status"]["closed"] == {"title": "Closed", "count": 1}
    assert "status" not in api.ok("GetTicketCounts")

    statuses = api.ok("GetSupportStatuses")
    same_shape(statuses, whmcs_examples["GetSupportStatuses"]["example_response"])
    assert [(s["title"], s["color"]) for s in statuses["statuses"]["status"]] == [
        ("Open", "#779500"),
        ("Answered", "#000000"),
        ("Customer-Reply", "#ff6600"),
        ("On Hold", "#224488"),
        ("In Progress", "#cc0000"),
        ("Closed", "#888888"),
    ]
    assert {
        s["title"]: s["count"] for s in api.ok("GetSupportStatuses", deptid=other.id)["statuses"]["status"]
    }["Closed"] == 1

    depts = api.ok("GetSupportDepartments")
    same_shape(depts, whmcs_examples["GetSupportDepartments"]["example_response"])
    assert depts["departments"]["department"][0] == {
        "id": str(dept.id),
        "name": "Technical Support",
        "awaitingreply": "1",
        "opentickets": "2",
    }


def test_predefined_replies(api, uow, whmcs_examples):
    from billow.services.support import predefined_replies

    sales = predefined_replies.add_predefined_category(uow, "Sales")
    sub = predefined_replies.add_predefined_category(uow, "Sub-Sales", parent_id=sales.id)
    predefined_replies.add_predefined_reply(
        uow, sales.id, "Sample Sales Reply", "Hello [NAME],\r\n\r\nThanks"
    )
    predefined_replies.add_predefined_reply(uow, sub.id, "Sub reply", "Hi")
    uow.commit()
    cats = api.ok("GetTicketPredefinedCats")
    same_shape(cats, whmcs_examples["GetTicketPredefinedCats"]["example_response"])
    assert cats["categories"]["category"][1] == {
        "id": str(sub.id),
        "parentid": str(sales.id),
        "name": "Sub-Sales",
        "replycount": "1",
    }
    replies = api.ok("GetTicketPredefinedReplies", catid=sales.id)
    same_shape(replies, whmcs_examples["GetTicketPredefinedReplies"]["example_response"])
    assert replies["predefinedreplies"]["predefinedreply"] == [
        {"name": "Sample Sales Reply", "reply": "Hello [NAME],\r\n\r\nThanks"}
    ]
    assert api.ok("GetTicketPredefinedReplies")["totalresults"] == 2


# --- attachments ------------------------------------------------------------------------


def test_get_ticket_attachment_errors(api, db, dept, client_id, whmcs_examples):
    t = _open(api, dept, clientid=client_id, attachments=encode_attachments(("a.png", b"png-bytes")))
    plain = _open(api, dept, clientid=client_id)
    ok = api.ok("GetTicketAttachment", relatedid=t["id"], type="ticket", index=0)
    same_shape(ok, whmcs_examples["GetTicketAttachment"]["example_response"])
    assert api.error("GetTicketAttachment", type="ticket", index=0) == "Related ID Required"
    assert (
        api.error("GetTicketAttachment", relatedid=t["id"], type="file", index=0)
        == "Invalid Type. Must be one of ticket, reply, note"
    )
    assert api.error("GetTicketAttachment", relatedid=999, type="ticket", index=0) == "Related ID Not Found"
    assert api.error("GetTicketAttachment", relatedid=t["id"], type="ticket") == "Attachment Index Required"
    assert (
        api.error("GetTicketAttachment", relatedid=plain["id"], type="ticket", index=0)
        == "No Attachments Found"
    )
    assert (
        api.error("GetTicketAttachment", relatedid=t["id"], type="ticket", index=5)
        == "Invalid Attachment Index"
    )
    with db() as session:
        for row in session.scalars(select(TicketAttachment)):
            row.removed = True
        session.commit()
    assert (
        api.error("GetTicketAttachment", relatedid=t["id"], type="ticket", index=0) == "Attachments Deleted"
    )


def test_download_headers_never_inline():
    from billow.services.support.attachment_files import download_headers

    headers = download_headers("page.html")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert download_headers("x.svg")["Content-Type"] == "application/octet-stream"
    assert download_headers('a"b.png')["Content-Disposition"] == (
        "attachment; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png"
    )
    unicode = download_headers("../Résumé 😀.pdf")
    assert unicode["Content-Disposition"].endswith("filename*=UTF-8''R%C3%A9sum%C3%A9%20%F0%9F%98%80.pdf")
    assert unicode["Content-Type"] == "application/pdf"
    assert download_headers("mail.eml")["Content-Type"] == "message/rfc822"


# --- updates ----------------------------------------------------------------------------


def test_update_ticket_changes_and_hooks(api, db, uow, dept, client_id, whmcs_examples):
    from billow.services.support import departments

    other = departments.add_department(uow, "Billing", "billing@example.net", prevent_client_closure=True)
    uow.commit()
    me_id = _admin_id(uow)
    t = _open(api, dept, clientid=client_id, preventClientClosure="0")
    body = api.ok(
        "UpdateTicket",
        ticketid=t["id"],
        deptid=other.id,
        status="In Progress",
        subject="New subj",
        priority="Low",
        flag=me_id,
        cc="boss@example.com",
        message="Edited first message",
    )
    same_shape(body, whmcs_examples["UpdateTicket"]["example_response"])
    got = api.ok("GetTicket", ticketid=t["id"])
    assert (got["deptid"], got["status"], got["subject"], got["priority"], got["flag"], got["cc"]) == (
        str(other.id),
        "In Progress",
        "New subj",
        "Low",
        str(me_id),
        "boss@example.com",
    )
    assert got["replies"]["reply"][0]["message"] == "Edited first message"
    names = [
        e
        for e in (
            "TicketDepartmentChange",
            "TicketStatusChange",
            "TicketSubjectChange",
            "TicketPriorityChange",
            "TicketFlagged",
        )
        if _events(db, e)
    ]
    assert len(names) == 5
    assert _events(db, "TicketStatusChange")[0] == {
        "adminid": me_id,
        "status": "In Progress",
        "ticketid": int(t["id"]),
    }
    with db() as session:
        ticket = session.get(Ticket, int(t["id"]))
        assert ticket.prevent_client_closure is None  # moved department: follows the new one
    api.ok("UpdateTicket", ticketid=t["id"], removeFlag="1")
    assert api.ok("GetTicket", ticketid=t["id"])["flag"] == "0"
    assert api.error("UpdateTicket", ticketid=999) == "Ticket ID Not Found"
    assert api.error("UpdateTicket", ticketid=t["id"], deptid=999) == "Department ID Not Found"
    assert (
        api.error("UpdateTicket", ticketid=t["id"], priority="Urgent")
        == "Invalid Ticket Priority. Valid priorities are: Low,Medium,High"
    )
    assert api.error("UpdateTicket", ticketid=t["id"], status="Gone") == (
        "Invalid Ticket Status. Valid statuses are: Open,Answered,Customer-Reply,On Hold,In Progress,Closed"
    )
    assert api.error("UpdateTicket", ticketid=t["id"], created="soon") == "Invalid Date Format"
    assert (
        api.error("UpdateTicket", ticketid=t["id"], created="2999-01-01 00:00:00")
        == "Ticket creation date cannot be in the future"
    )


def test_update_ticket_reply(api, dept, client_id, whmcs_examples):
    t = _open(api, dept, clientid=client_id)
    api.ok("AddTicketReply", ticketid=t["id"], message="typo", adminusername="apiadmin")
    reply_id = api.ok("GetTicket", ticketid=t["id"])["replies"]["reply"][1]["replyid"]
    body = api.ok("UpdateTicketReply", replyid=reply_id, message="fixed", created="2020-01-02 03:04:05")
    same_shape(body, whmcs_examples["UpdateTicketReply"]["example_response"])
    reply = api.ok("GetTicket", ticketid=t["id"])["replies"]["reply"][1]
    assert (reply["message"], reply["date"]) == ("fixed", "2020-01-02 03:04:05")
    assert api.error("UpdateTicketReply", message="x") == "Reply ID Required"
    assert api.error("UpdateTicketReply", replyid=reply_id) == "Message is Required"
    assert api.error("UpdateTicketReply", replyid=999, message="x") == "Reply ID Not Found"
    assert (
        api.error("UpdateTicketReply", replyid=reply_id, message="x", created="bad") == "Invalid Date Format"
    )
    assert (
        api.error("UpdateTicketReply", replyid=reply_id, message="x", created="2999-01-01")
        == "Reply creation date cannot be in the future"
    )


# --- merge, delete, block ---------------------------------------------------------------


def test_merge_ticket(api, db, dept, client_id, whmcs_examples):
    master = _open(api, dept, clientid=client_id, subject="Master")
    first = _open(
        api,
        dept,
        clientid=client_id,
        subject="Dup 1",
        message="first dup",
        attachments=encode_attachments(("d.txt", b"dup")),
    )
    second = _open(api, dept, clientid=client_id, subject="Dup 2", message="second dup")
    api.ok("AddTicketReply", ticketid=second["id"], message="reply on dup", clientid=client_id)
    body = api.ok(
        "MergeTicket",
        ticketid=master["id"],
        mergeticketids=f"{first['id']},{second['id']}",
        newsubject="Merged",
    )
    same_shape(body, whmcs_examples["MergeTicket"]["example_response"])
    got = api.ok("GetTicket", ticketid=master["id"])
    assert got["subject"] == "Merged"
    messages = [r["message"] for r in got["replies"]["reply"]]
    assert {"first dup", "second dup", "reply on dup"} <= set(messages)
    moved = next(r for r in got["replies"]["reply"] if r["message"] == "first dup")
    assert moved["attachments"] == [{"filename": "d.txt", "index": 0}]
    assert [t["id"] for t in api.ok("GetTickets")["tickets"]["ticket"]] == [master["id"]]
    assert api.ok("GetTicket", ticketnum=first["tid"])["ticketid"] == master["id"]
    assert _events(db, "TicketMerge") == [
        {"mergedTicketIds": [int(first["id"]), int(second["id"])], "masterTicketId": int(master["id"])}
    ]
    assert api.error("MergeTicket", mergeticketids="1") == "Ticket ID Required"
    assert api.error("MergeTicket", ticketid=999, mergeticketids="1") == "Ticket ID Invalid"
    assert api.error("MergeTicket", ticketid=master["id"]) == "Merge Ticket IDs Required"
    assert (
        api.error("MergeTicket", ticketid=master["id"], mergeticketids="998, 999")
        == "Invalid Merge Ticket IDs: 998, 999"
    )
    api.ok("DeleteTicket", ticketid=master["id"])  # the merged shells go with their master
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_delete_ticket_and_reply_remove_files_after_commit(api, db, dept, client_id, data_dir):
    t = _open(api, dept, clientid=client_id, attachments=encode_attachments(("a.txt", b"a")))
    api.ok(
        "AddTicketReply",
        ticketid=t["id"],
        message="r",
        clientid=client_id,
        attachments=encode_attachments(("b.txt", b"b")),
    )
    folder = data_dir / "attachments"
    with db() as session:
        names = [a.stored_name for a in session.scalars(select(TicketAttachment))]
    reply_id = api.ok("GetTicket", ticketid=t["id"])["replies"]["reply"][1]["replyid"]
    assert api.error("DeleteTicketReply", replyid=reply_id) == "Ticket ID Required"
    assert api.error("DeleteTicketReply", ticketid=t["id"]) == "Reply ID Required"
    assert api.error("DeleteTicketReply", ticketid=999, replyid=reply_id) == "Ticket ID Not Found"
    assert api.error("DeleteTicketReply", ticketid=t["id"], replyid=999) == "Reply ID Not Found"
    api.ok("DeleteTicketReply", ticketid=t["id"], replyid=reply_id)
    assert _events(db, "TicketDeleteReply")[0]["replyId"] == int(reply_id)
    assert not (folder / names[1]).exists() and (folder / names[0]).exists()
    api.ok("DeleteTicket", ticketid=t["id"])
    assert not (folder / names[0]).exists()
    assert _events(db, "TicketDelete")[0]["ticketId"] == int(t["id"])
    assert api.error("DeleteTicket", ticketid=t["id"]) == "Ticket ID not found"


def test_block_ticket_sender(api, db, dept, whmcs_examples):
    t = _open(api, dept, name="Spammer", email="Spam@Example.org")
    body = api.ok("BlockTicketSender", ticketid=t["id"], delete="true")
    same_shape(body, whmcs_examples["BlockTicketSender"]["example_response"])
    assert body["deleted"] == "true"
    assert api.ok("GetTickets")["totalresults"] == 0
    from billow.db.models import TicketBlockedSender

    with db() as session:
        assert [b.content for b in session.scalars(select(TicketBlockedSender))] == ["spam@example.org"]
    keep = _open(api, dept, name="Other", email="other@example.org")
    assert api.ok("BlockTicketSender", ticketid=keep["id"])["deleted"] == "false"
    assert api.error("BlockTicketSender") == "Ticket ID Required"
    assert api.error("BlockTicketSender", ticketid=999) == "Ticket ID Not Found"


def test_created_date_is_honoured(api, dept, client_id):
    past = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    t = _open(api, dept, clientid=client_id, created=past.strftime("%Y-%m-%d %H:%M:%S"))
    assert api.ok("GetTicket", ticketid=t["id"])["date"] == past.strftime("%Y-%m-%d %H:%M:%S")


def test_failed_open_leaves_no_attachment_files(api, db, dept, client_id, data_dir):
    from billow.events import HookAbort, add_hook

    @add_hook("TicketOpen")
    def refuse(variables: dict[str, Any]) -> None:
        raise HookAbort("Tickets are paused")

    folder = data_dir / "attachments"
    before = set(folder.iterdir()) if folder.exists() else set()
    assert (
        api.error(
            "OpenTicket",
            deptid=dept.id,
            subject="s",
            message="m",
            clientid=client_id,
            attachments=encode_attachments(("a.txt", b"a")),
        )
        == "Tickets are paused"
    )
    assert (set(folder.iterdir()) if folder.exists() else set()) == before
    with db() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_related_service_must_belong_to_the_client(api, uow, dept, client_id):
    from billow.db.models import Service

    service = Service(userid=client_id, packageid=1)
    uow.session.add(service)
    uow.commit()
    t = _open(api, dept, clientid=client_id, serviceid=service.id)
    assert api.ok("GetTicket", ticketid=t["id"])["service"] == f"S{service.id}"
    other = api.ok(
        "AddClient",
        firstname="O",
        lastname="T",
        email="o@example.com",
        address1="1 Road",
        city="London",
        state="London",
        postcode="N1",
        country="GB",
        phonenumber="+44 20 7946 0958",
        noemail="true",
    )["clientid"]
    assert (
        api.error(
            "OpenTicket", deptid=dept.id, subject="s", message="m", clientid=other, serviceid=service.id
        )
        == "Service ID Not Found"
    )


def test_ticket_open_validation_hook_refuses_with_its_message(api, dept, client_id):
    from billow.events import add_hook

    @add_hook("TicketOpenValidation")
    def need_details(variables: dict[str, Any]) -> str:
        return "Please describe the problem in more detail" if len(variables["message"]) < 10 else ""

    assert (
        api.error("OpenTicket", deptid=dept.id, subject="s", message="help", clientid=client_id)
        == "Please describe the problem in more detail"
    )
    _open(api, dept, clientid=client_id, message="The web server returns 502 since 09:00")
