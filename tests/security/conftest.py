"""Helpers of the security suite: an app built with chosen settings, callers at chosen addresses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from billow.config import reset_settings

URL = "/includes/api.php"


@pytest.fixture
def app_with(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``app_with(BILLOW_X="1", ...)``: a fresh app built under those settings."""
    from billow.api.app import create_app

    def make(**env: str) -> Any:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_settings()
        return create_app()

    yield make
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def client_at() -> Iterator[Callable[[Any, str], TestClient]]:
    """``client_at(app, ip)``: a TestClient whose requests come from that socket address."""
    opened: list[TestClient] = []

    def make(application: Any, ip: str = "127.0.0.1") -> TestClient:
        client = TestClient(application, client=(ip, 50000))
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


CLIENT = {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com", "address1": "1 Road",
          "city": "Town", "state": "ST", "postcode": "12345", "country": "GB",
          "phonenumber": "123456", "password2": "pw-123456"}


@pytest.fixture
def client_id(api: Any) -> str:
    return str(api.ok("AddClient", **CLIENT)["clientid"])


@pytest.fixture
def invoice_id(api: Any, client_id: str) -> str:
    """A 10.00 unpaid invoice of :func:`client_id`."""
    return str(api.ok("CreateInvoice", userid=client_id, itemdescription1="Thing",
                      itemamount1="10.00")["invoiceid"])
