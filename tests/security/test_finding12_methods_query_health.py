"""Finding 12: every method gets WHMCS's envelope, query-string credentials can be refused
and are never logged, and /healthz answers while the database writer lock is held."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import pytest

from billow.api import dispatch
from billow.cli import system

URL = "/includes/api.php"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_answer_the_envelope(api: Any, method: str) -> None:
    response = api.client.request(method, URL)
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert response.json() == {"result": "error",
                               "message": f"Invalid request method {method}: use POST (or GET)"}


def test_head_is_refused_without_a_body(api: Any) -> None:
    response = api.client.head(URL)
    assert response.status_code == 405 and response.content == b""


def _query(api: Any) -> dict[str, str]:
    return {"action": "GetClients", "identifier": api.identifier, "secret": api.secret}


def test_query_credentials_still_work_and_are_never_logged(api: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert api.client.get(URL, params=_query(api)).json()["result"] == "success"
        api.client.get(URL, params={**_query(api), "action": "NoSuchAction"})
    # The test's own HTTP client (httpx) logs its URLs; the server's loggers must not.
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert not [m for m in server_side if api.secret in m]
    assert system.SERVER_OPTIONS["access_log"] is False


def test_query_credentials_can_be_refused(api: Any, app_with: Any, client_at: Any) -> None:
    client = client_at(app_with(BILLOW_API_REFUSE_QUERY_CREDENTIALS="true"))
    response = client.get(URL, params=_query(api))
    assert (response.status_code, response.json()) == (403, {
        "result": "error", "message": "Credentials are not accepted in the URL: send them in the POST body"})
    body = client.post(URL, data=_query(api)).json()
    assert body["result"] == "success"


def test_healthz_answers_while_the_writer_lock_is_held(live_server: str, api: Any) -> None:
    # Another call holds the writer lock (waiting on SQLite, or a slow write); a read
    # arriving meanwhile must not wait for it on the event loop.
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with dispatch._SQLITE_WRITER:
            held.set()
            release.wait(20)

    threading.Thread(target=holder, daemon=True).start()
    held.wait(5)
    answers: list[Any] = []

    def read() -> None:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            answers.append(http.post(URL, data=_query(api)).json())

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        reader.join(0.5)
        with httpx.Client(base_url=live_server, timeout=3) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
    finally:
        release.set()
        reader.join(20)
    assert answers and answers[0]["result"] == "success"
