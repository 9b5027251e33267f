"""Issue 12, finding 11: webhook URLs are read as the HTTP client reads them (IDNA,
Unicode digits, every numeric IPv4 form, IPv6 with an embedded IPv4, metadata names) and
refused when private, loopback, link-local or metadata, at creation and at send; at send
the connection goes only to the address that was checked (no DNS-rebinding window).

The send-time tests post to a receiver on 127.0.0.1; private targets are allowed
(``BILLOW_WEBHOOK_ALLOW_PRIVATE``) only where a test says so, to prove the spelling
really reaches the receiver when the guard is off.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from billow.config import reset_settings
from billow.services.events import ssrf_guard, webhook_delivery
from billow.services.events._webhook_signing import generate_secret

NOT_PUBLIC = "Webhook URL targets a private or loopback address"

#: Spellings of loopback, unspecified, private, link-local and metadata targets.
REFUSED = [
    "http://127.0.0.1/", "http://127.1/", "http://0x7f000001/", "http://2130706433/",
    "http://0177.0.0.1/", "http://017700000001/", "http://0x7f.0.0.1/", "http://127.0.0.1./",
    "http://127.000.000.001/", "http://①②⑦.0.0.1/", "http://１２７.０.０.１/",
    "http://localhost/", "http://LOCALHOST./", "http://ＬＯＣＡＬＨＯＳＴ/", "http://foo.localhost/",
    "http://[::1]/", "http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/",
    "http://0/", "http://0.0.0.0/", "http://[::]/", "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/", "http://2852039166/", "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://metadata/", "http://instance-data/",
    "http://10.0.0.1/", "http://012.0.0.1/", "https://192.168.1.1:8443/", "http://172.16.0.1/",
    "http://100.64.0.1/", "http://[fe80::1]/", "http://[fe80::1%25eth0]/", "http://[fd00::1]/",
    "http://intranet/",
]

ACCEPTED = ["https://example.com/hook", "http://93.184.216.34:8080/x", "https://bücher.de/hook"]


@pytest.fixture
def guard_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "0")
    monkeypatch.setenv("BILLOW_WEBHOOK_TIMEOUT_SECONDS", "3")
    reset_settings()
    yield
    reset_settings()


def test_the_spelling_list_is_long_enough() -> None:
    assert len(REFUSED) >= 27


@pytest.mark.parametrize("url", REFUSED)
def test_add_webhook_refuses_every_spelling(api: Any, guard_on: None, url: str) -> None:
    assert api.error("AddWebhook", url=url) == NOT_PUBLIC


def test_update_webhook_refuses_them_too(api: Any, guard_on: None) -> None:
    webhook_id = api.ok("AddWebhook", url=ACCEPTED[0])["webhookid"]
    for url in ("http://0x7f000001/", "http://[::127.0.0.1]/", "http://metadata.google.internal/"):
        assert api.error("UpdateWebhook", webhookid=webhook_id, url=url) == NOT_PUBLIC


def test_public_urls_are_still_accepted(api: Any, guard_on: None) -> None:
    for url in ACCEPTED:
        api.ok("AddWebhook", url=url)


# --- send time, against a receiver on 127.0.0.1 ----------------------------------------

class _Receiver(ThreadingHTTPServer):
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _job(url: str) -> webhook_delivery.Job:
    return webhook_delivery.Job(1, url, generate_secret(), "msg_1", b"{}")


def _send(url: str) -> webhook_delivery.AttemptResult:
    with ssrf_guard.new_client() as client:
        return webhook_delivery.send(client, _job(url))


#: Spellings the HTTP client really connects to 127.0.0.1 with (checked with the guard off).
LOOPBACK_AT_SEND = ["127.0.0.1", "127.1", "0x7f000001", "2130706433", "0x7f.1", "localhost",
                    "[::ffff:127.0.0.1]"]


@pytest.mark.parametrize("host", LOOPBACK_AT_SEND)
def test_send_refuses_loopback_spellings_that_would_reach_the_receiver(
    receiver: _Receiver, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    url = f"http://{host}:{receiver.server_port}/hook"
    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "1")  # only here: prove it reaches it
    reset_settings()
    assert _send(url).ok and receiver.requests == ["/hook"]
    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "0")
    reset_settings()
    refused = _send(url)
    assert not refused.ok and refused.error == NOT_PUBLIC
    assert receiver.requests == ["/hook"], "nothing more reached the receiver"
    reset_settings()


@pytest.mark.parametrize("url", REFUSED)
def test_send_refuses_every_spelling(guard_on: None, url: str) -> None:
    result = _send(url)
    assert not result.ok and result.response_code == 0 and result.error == NOT_PUBLIC


def test_the_transport_alone_refuses_what_it_connects_to(
    receiver: _Receiver, guard_on: None
) -> None:
    """Even without the URL check, the client's connection refuses every spelling."""
    import httpx

    port = receiver.server_port
    for host in (*LOOPBACK_AT_SEND, "[::127.0.0.1]", "0177.0.0.1", "①②⑦.0.0.1"):
        with ssrf_guard.new_client() as client, pytest.raises((httpx.ConnectError, Exception)):
            client.post(f"http://{host}:{port}/direct", content=b"{}")
    assert receiver.requests == []


def test_a_name_rebound_to_loopback_after_the_check_is_not_connected(
    receiver: _Receiver, guard_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check resolves to a public address, the next lookup to 127.0.0.1: the
    connection uses only an address it checked, so it never reaches the receiver."""
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 10)
    real = socket.getaddrinfo

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(ssrf_guard.socket, "getaddrinfo", rebinding)
    result = _send(f"http://rebind.example:{receiver.server_port}/rebound")
    assert not result.ok and "private or loopback" in result.error
    assert receiver.requests == []
