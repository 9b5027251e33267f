"""Finding 2: a body limit counted while streaming, strangers refused before their body
is read, and caps on stored text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

LIMIT = 4096
TOO_LARGE = {"result": "error", "message": f"Request body too large: at most {LIMIT} bytes are accepted"}


def _form(size: int) -> bytes:
    return b"action=GetClients&pad=" + b"x" * size


def test_declared_oversize_body_is_413_on_every_route(app_with: Any, client_at: Any) -> None:
    client = client_at(app_with(BILLOW_MAX_BODY_BYTES=str(LIMIT)))
    for method, path in (("POST", "/includes/api.php"), ("POST", "/healthz"),
                         ("GET", "/admin/invoices/1.pdf"), ("POST", "/no/such/route")):
        response = client.request(method, path, content=_form(LIMIT * 2),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
        assert (response.status_code, response.json()) == (413, TOO_LARGE), path


def test_chunked_body_without_length_is_stopped_at_the_limit(app_with: Any, client_at: Any,
                                                              api: Any) -> None:
    client = client_at(app_with(BILLOW_MAX_BODY_BYTES=str(LIMIT)))

    def chunks() -> Iterator[bytes]:
        yield b"action=GetClients&pad="
        for _ in range(64):
            yield b"x" * 1024

    response = client.post("/includes/api.php", content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_a_lying_content_length_is_still_counted() -> None:
    from billow.api.body_limit import BodyLimit

    pulled: list[int] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            pulled.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    parts = [b"x" * 1000] * 10

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": parts.pop(), "more_body": bool(parts)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimit(app, LIMIT)(scope, receive, send))
    assert sent[0]["status"] == 413 and sum(pulled) <= LIMIT


def test_a_stranger_is_refused_before_its_body_is_read(app_with: Any, client_at: Any) -> None:
    app = app_with()
    pulled: list[int] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            pulled.append(len(message.get("body", b"")))
            return message
        await app(scope, counted, send)

    client = client_at(counting, "10.1.2.3")
    response = client.post("/includes/api.php", content=_form(512 * 1024),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.json()) == (
        403, {"result": "error", "message": "Invalid IP 10.1.2.3"})
    assert sum(pulled) == 0


def test_default_limit_leaves_room_for_an_attachment(app_with: Any) -> None:
    from billow.config import get_settings

    app_with(BILLOW_ATTACHMENT_MAX_BYTES=str(3 * 1024 * 1024))
    assert get_settings().resolved_max_body_bytes() == 2 * 1024 * 1024 + 4 * 1024 * 1024


def test_stored_text_is_capped(api: Any) -> None:
    client_id = api.ok("AddClient", firstname="Ada", lastname="L", email="ada@example.com",
                       address1="1 Road", city="Town", state="ST", postcode="12345", country="GB",
                       phonenumber="123456", password2="pw-123456")["clientid"]
    assert api.error("AddClientNote", userid=client_id, notes="n" * 70_000) == (
        "The notes may be at most 65535 characters long")
    assert api.ok("AddClientNote", userid=client_id, notes="n" * 65_535)
    assert api.error("OpenTicket", deptid="1", clientid=client_id, subject="Hi", message="m" * 70_000) == (
        "The message may be at most 65535 characters long")
    assert api.error("AddProduct", name="p" * 300, gid="99") == "The name may be at most 255 characters long"
