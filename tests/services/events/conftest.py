"""Real receivers for the events tests: an HTTP server and an SMTP server on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage as Mime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

LOCAL_IP = "127.0.0.1"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((LOCAL_IP, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server recording every POST; ``status`` decides its answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json for r in self.requests]

    def accepted(self) -> list[Received]:
        """Requests answered 2xx, de-duplicated by webhook-id, in arrival order."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for r in self.requests:
                if r.headers.get("x-answered") == "ok" and r.headers["webhook-id"] not in seen:
                    seen.add(r.headers["webhook-id"])
                    out.append(r)
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://{LOCAL_IP}:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            status, delay = state.status, state.delay
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-answered"] = "ok" if 200 <= status < 300 else "error"
            with state.lock:
                state.requests.append(Received(self.path, headers, body))
            if delay:
                time.sleep(delay)
            payload = b'{"received":true}' if status < 300 else b'{"error":"down for maintenance"}'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOCAL_IP, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    """Messages an aiosmtpd server on loopback accepted."""

    host: str
    port: int
    messages: list[tuple[list[str], Mime]] = field(default_factory=list)
    #: Recipient addresses the server refuses (a permanent 550, as for an unknown mailbox).
    refused: set[str] = field(default_factory=set)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[list[str], Mime]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.box.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.box.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    """Start and stop a real SMTP server on one port (stop = an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox(LOCAL_IP, self.port)
        self.controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(_Handler(self.box), hostname=LOCAL_IP, port=self.port)
        self.controller.start()

    def refuse(self, address: str) -> None:
        self.box.refused.add(address.lower())

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, db: Any) -> Iterator[SmtpServer]:
    from billow.config import reset_settings

    server = SmtpServer()
    server.start()
    monkeypatch.setenv("BILLOW_SMTP_HOST", LOCAL_IP)
    monkeypatch.setenv("BILLOW_SMTP_PORT", str(server.port))
    monkeypatch.setenv("BILLOW_SMTP_FROM", "billing@billow.test")
    monkeypatch.setenv("BILLOW_SMTP_TIMEOUT_SECONDS", "3")
    reset_settings()
    yield server
    server.stop()
    reset_settings()


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch, db: Any) -> Iterator[None]:
    """Tests post to receivers on loopback, which the SSRF guard refuses by default."""
    from billow.config import reset_settings

    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("BILLOW_WEBHOOK_TIMEOUT_SECONDS", "3")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def add_client(api: Any) -> Any:
    """Add a client through the API (AddClient emits ClientAdd and asks for the signup e-mail)."""

    def add(email: str = "ada@example.com", **extra: Any) -> int:
        body = api.ok("AddClient", firstname="Ada", lastname="Lovelace", email=email,
                      address1="1 Road", city="London", state="London", postcode="N1",
                      country="GB", phonenumber="+44 20 7946 0958", **extra)
        return int(body["clientid"])

    return add


@pytest.fixture
def drain(db: Any) -> Any:
    """Run the outbox worker once over the test database."""
    from billow.worker import run_once

    return lambda: run_once(db)
