"""Finding 1: a forged X-Forwarded-For must not pass the IP allow-list.

Against the real server (uvicorn on 127.0.0.1, run with ``serve``'s options): the
credential is allowed only from 10.9.9.9, and a request from 127.0.0.1 claiming to be
10.9.9.9 is refused, on the API and on the document routes alike.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from tests.conftest import make_credential

from billow.cli import system

FORGED = {"X-Forwarded-For": "10.9.9.9"}


@pytest.fixture
def far_credential(db: Any) -> tuple[str, str]:
    return make_credential(db, username="faradmin", allow=("10.9.9.9/32",))


def test_forged_forwarded_for_is_not_believed_on_the_api(live_server: str, far_credential: Any) -> None:
    identifier, secret = far_credential
    with httpx.Client(base_url=live_server, timeout=30) as http:
        response = http.post("/includes/api.php", headers=FORGED, data={
            "action": "GetClients", "identifier": identifier, "secret": secret, "responsetype": "json"})
    assert (response.status_code, response.json()) == (
        403, {"result": "error", "message": "Invalid IP 127.0.0.1"})


def test_forged_forwarded_for_is_not_believed_on_documents(live_server: str, far_credential: Any) -> None:
    token = base64.b64encode(":".join(far_credential).encode()).decode()
    with httpx.Client(base_url=live_server, timeout=30) as http:
        response = http.get("/admin/invoices/1.pdf",
                            headers={**FORGED, "Authorization": f"Basic {token}"})
    assert response.status_code == 403 and response.text == "Invalid IP 127.0.0.1"


def test_serve_and_quickstart_run_uvicorn_without_proxy_headers(monkeypatch: pytest.MonkeyPatch,
                                                                 database_url: str) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(system.uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    system.serve(host="127.0.0.1", port=1, workers=1, with_worker=False)
    assert calls[0]["proxy_headers"] is False and calls[0]["forwarded_allow_ips"] == ""
    assert calls[0]["access_log"] is False
