"""GET /admin/tickets/attachments/{type}/{relatedid}/{index}: the attachment download route.

Driven through the real app (TestClient) and, for streaming, the real uvicorn server.
"""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.conftest import make_credential
from tests.services.support.conftest import encode_attachments

from billow.db.models import TicketAttachment

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
#: Bigger than one streamed chunk (64 KiB), so the download takes several reads.
BIG_LOG = b"".join(b"line %06d of the server log\n" % i for i in range(9000))


def _auth(identifier: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{identifier}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _url(kind: str, related: Any, index: Any) -> str:
    return f"/admin/tickets/attachments/{kind}/{related}/{index}"


@pytest.fixture
def ticket(api: Any, dept: Any, client_id: int) -> dict[str, Any]:
    """A ticket with two files on its opening message, one on a reply and one on a note."""
    opened = api.ok(
        "OpenTicket", deptid=dept.id, clientid=client_id, subject="Broken", message="See files",
        attachments=encode_attachments(("screen shot.png", PNG), ("server.log", BIG_LOG)),
    )
    api.ok("AddTicketReply", ticketid=opened["id"], clientid=client_id, message="More",
           attachments=encode_attachments(("export.csv", b"a,b\n1,2\n")))
    api.ok("AddTicketNote", ticketid=opened["id"], message="Internal",
           attachments=encode_attachments(("dns.txt", b"A 192.0.2.1")))
    full = api.ok("GetTicket", ticketid=opened["id"])
    return {
        "id": int(opened["id"]),
        "reply": int(full["replies"]["reply"][1]["replyid"]),
        "note": int(full["notes"]["note"][0]["noteid"]),
    }


def _plain_404(response: httpx.Response, message: str) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == message


def test_downloads_each_kind_with_name_type_and_safe_headers(api, ticket):
    good = _auth(api.identifier, api.secret)
    png = api.client.get(_url("ticket", ticket["id"], 0), headers=good)
    assert png.status_code == 200 and png.content == PNG
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-length"] == str(len(PNG))
    assert png.headers["x-content-type-options"] == "nosniff"
    assert png.headers["cache-control"] == "private, no-store"
    assert png.headers["content-disposition"] == (
        "attachment; filename=\"screen shot.png\"; filename*=UTF-8''screen%20shot.png"
    )
    log = api.client.get(_url("ticket", ticket["id"], 1), headers=good)
    assert log.content == BIG_LOG and log.headers["content-type"] == "text/plain; charset=utf-8"
    csv = api.client.get(_url("reply", ticket["reply"], 0), headers=good)
    assert csv.content == b"a,b\n1,2\n" and "filename=\"export.csv\"" in csv.headers["content-disposition"]
    note = api.client.get(_url("NOTE", ticket["note"], 0), headers=good)
    assert note.status_code == 200 and note.content == b"A 192.0.2.1"
    # The same bytes as WHMCS's GetTicketAttachment answers.
    same = api.ok("GetTicketAttachment", type="reply", relatedid=ticket["reply"], index=0)
    assert base64.b64decode(same["data"]) == csv.content and same["filename"] == "export.csv"


def test_original_unicode_name_is_kept_in_filename_star(api, db, ticket):
    """Rows may carry names the upload sanitiser never saw (imports): RFC 6266 still holds."""
    with db() as session:
        session.execute(
            update(TicketAttachment)
            .where(TicketAttachment.kind == "reply")
            .values(filename='Rés"umé\r\nSet-Cookie: x=1.csv')
        )
        session.commit()
    got = api.client.get(_url("reply", ticket["reply"], 0), headers=_auth(api.identifier, api.secret))
    assert got.status_code == 200 and "set-cookie" not in got.headers
    disposition = got.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"Res_ume_Set-Cookie_ x_1.csv\"; "
        "filename*=UTF-8''" + quote('Rés"umé_Set-Cookie: x=1.csv', safe="")
    )
    assert "R%C3%A9s%22um%C3%A9_" in disposition
    assert got.headers["content-type"] == "text/plain; charset=utf-8"


def test_credentials_are_checked_like_the_invoice_pdf(api, db, uow, ticket):
    url = _url("ticket", ticket["id"], 0)
    missing = api.client.get(url)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    assert missing.text == "Authentication Failed" and PNG not in missing.content
    wrong = api.client.get(url, headers=_auth(api.identifier, "wrong"))
    assert wrong.status_code == 401
    garbage = api.client.get(url, headers={"Authorization": "Basic !!!not-base64"})
    assert garbage.status_code == 401

    from billow.services.access import api_roles

    api_roles.create_role(uow, "invoices-only", ["GetInvoice"])
    uow.commit()
    limited = make_credential(db, username="limited", roles=["invoices-only"])
    refused = api.client.get(url, headers=_auth(*limited))
    assert refused.status_code == 403
    assert refused.text == 'Invalid Permissions: API action "getticketattachment" is not allowed'
    # Authentication comes first: a stranger cannot even tell which ids exist.
    assert api.client.get(_url("ticket", 999, 0)).status_code == 401

    with TestClient(api.client.app, client=("198.51.100.7", 50000)) as outside:
        elsewhere = outside.get(url, headers=_auth(api.identifier, api.secret))
    assert elsewhere.status_code == 403 and elsewhere.text == "Invalid IP 198.51.100.7"

    for _ in range(5):  # the failures above count too; these reach the lock-out threshold
        api.client.get(url, headers=_auth(api.identifier, "wrong"))
    banned = api.client.get(url, headers=_auth(api.identifier, api.secret))
    assert banned.status_code == 403 and banned.text == "IP Banned"


#: (type, relatedid, index, message): ids the route must answer with a plain 404.
MISSES = [
    ("ticket", "999", "0", "Related ID Not Found"),
    ("reply", "999", "0", "Related ID Not Found"),
    ("file", "{ticket}", "0", "Invalid Type. Must be one of ticket, reply, note"),
    ("ticket", "abc", "0", "Related ID Not Found"),
    ("ticket", "-1", "0", "Related ID Not Found"),
    ("ticket", "99999999999", "0", "Related ID Not Found"),
    ("ticket", "{ticket}", "2", "Invalid Attachment Index"),
    ("ticket", "{ticket}", "-1", "Invalid Attachment Index"),
    ("ticket", "{ticket}", "1e0", "Invalid Attachment Index"),
    ("ticket", "{ticket}", "0/extra", "Not Found"),
    ("ticket", "{ticket}", "", "Invalid Attachment Index"),
    ("ticket", "", "0", "Related ID Not Found"),
]


def test_unknown_ids_are_plain_404(api, ticket):
    """One ticket for every case (the fixture costs more than the requests)."""
    good = _auth(api.identifier, api.secret)
    for kind, related, index, message in MISSES:
        url = _url(kind, related.format(ticket=ticket["id"]), index)
        _plain_404(api.client.get(url, headers=good), message)


def test_removed_and_vanished_files_are_404(api, db, dept, client_id, ticket, data_dir):
    good = _auth(api.identifier, api.secret)
    bare = api.ok("OpenTicket", deptid=dept.id, clientid=client_id, subject="s", message="m")
    _plain_404(api.client.get(_url("ticket", bare["id"], 0), headers=good), "No Attachments Found")
    with db() as session:
        stored = session.scalar(select(TicketAttachment.stored_name).where(TicketAttachment.kind == "note"))
        session.execute(update(TicketAttachment).where(TicketAttachment.kind == "reply").values(removed=True))
        session.commit()
    _plain_404(api.client.get(_url("reply", ticket["reply"], 0), headers=good), "Attachments Deleted")
    (data_dir / "attachments" / stored).unlink()
    _plain_404(api.client.get(_url("note", ticket["note"], 0), headers=good), "Attachments Deleted")


def test_never_serves_outside_the_attachments_folder(api, db, ticket, data_dir):
    good = _auth(api.identifier, api.secret)
    secret = data_dir / "outside-secret.txt"
    secret.write_bytes(b"TOP SECRET")
    folder = data_dir / "attachments"
    # Through the URL: encoded separators never reach the disk.
    for url in (
        f"/admin/tickets/attachments/ticket/{ticket['id']}/..%2F..%2Foutside-secret.txt",
        "/admin/tickets/attachments/ticket/..%2F..%2Foutside-secret.txt/0",
        "/admin/tickets/attachments/..%2Foutside-secret.txt/1/0",
        f"/admin/tickets/attachments/ticket/{ticket['id']}/0/..%2F..%2F..%2Foutside-secret.txt",
    ):
        _plain_404(api.client.get(url, headers=good), "Not Found")
        assert api.client.get(url).status_code == 401, url
    # Through a crafted row: a name that walks out, an absolute path, a planted symlink.
    os.symlink(secret, folder / "planted.txt")
    os.mkdir(folder / "sub.txt")
    for name in ("../outside-secret.txt", str(secret), "..", "planted.txt", "sub.txt"):
        with db() as session:
            session.execute(
                update(TicketAttachment)
                .where(TicketAttachment.kind == "reply")
                .values(stored_name=name, filename="x.txt")
            )
            session.commit()
        answer = api.client.get(_url("reply", ticket["reply"], 0), headers=good)
        _plain_404(answer, "Attachments Deleted")


def test_streams_through_the_real_server(live_server, api, ticket):
    good = _auth(api.identifier, api.secret)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        with client.stream("GET", _url("ticket", ticket["id"], 1), headers=good) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(BIG_LOG))
            assert response.headers["x-content-type-options"] == "nosniff"
            chunks = list(response.iter_raw())
        assert b"".join(chunks) == BIG_LOG
        refused = client.get(_url("ticket", ticket["id"], 1))
        assert refused.status_code == 401 and refused.headers["content-type"].startswith("text/plain")
        _plain_404(client.get(_url("ticket", 999, 0), headers=good), "Related ID Not Found")
