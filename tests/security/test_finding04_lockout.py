"""Issue 12, finding 4: the brute-force lock-out counts failures per username from an
address and per address separately, resets on success, exempts WHMCS's
``WhitelistedIPs``, counts only authentication failures, and can be lifted with
``billow ip unban`` — answering WHMCS's "IP Banned" while it lasts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from billow.config import reset_settings

URL = "/includes/api.php"
BANNED = (403, {"result": "error", "message": "IP Banned"})
FAILED = {"result": "error", "message": "Authentication Failed"}


def _call(client: TestClient, identifier: str, secret: str) -> tuple[int, dict[str, Any]]:
    response = client.post(URL, data={"action": "GetClients", "identifier": identifier, "secret": secret})
    return response.status_code, response.json()


def _ok(answer: tuple[int, dict[str, Any]]) -> bool:
    return answer[0] == 200 and answer[1].get("result") == "success"


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BILLOW_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("BILLOW_LOGIN_MAX_FAILURES_PER_IP", "6")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def second(db: Any) -> tuple[str, str]:
    from tests.conftest import make_credential

    return make_credential(db, username="second")


def test_failures_of_one_credential_lock_out_only_that_credential(
    api: Any, second: tuple[str, str], limits: None
) -> None:
    for _ in range(3):
        assert _call(api.client, api.identifier, "guess")[1] == FAILED
    assert _call(api.client, api.identifier, api.secret) == BANNED
    assert _ok(_call(api.client, *second)), "another credential on the same address still works"


def test_failures_over_many_usernames_lock_out_the_address(
    api: Any, second: tuple[str, str], limits: None
) -> None:
    for n in range(6):
        assert _call(api.client, f"stranger{n}", "guess")[1] == FAILED
    assert _call(api.client, api.identifier, api.secret) == BANNED
    assert _call(api.client, *second) == BANNED


def test_a_success_resets_the_count(api: Any, limits: None) -> None:
    for _ in range(3):
        for _ in range(2):
            assert _call(api.client, api.identifier, "guess")[1] == FAILED
        assert _ok(_call(api.client, api.identifier, api.secret))


def test_only_authentication_failures_count(api: Any, limits: None) -> None:
    for _ in range(8):
        # A body without Content-Type, a form without credentials, a secret without an
        # identifier, and a PDF request without an Authorization header.
        api.client.post(URL, content=b"action=GetClients&identifier=x&secret=y")
        api.client.post(URL, data={"action": "GetClients"})
        api.client.post(URL, data={"action": "GetClients", "secret": "y"})
        assert api.client.get("/admin/invoices/1.pdf").status_code == 401
    assert _ok(_call(api.client, api.identifier, api.secret))


@pytest.mark.parametrize("stored", [
    'a:1:{i:0;a:2:{s:2:"ip";s:9:"127.0.0.1";s:4:"note";s:6:"office";}}',  # WHMCS's admin area
    "10.0.0.0/8\n127.0.0.0/24",  # one address or range a line
])
def test_whitelisted_ips_are_never_locked_out(api: Any, uow: Any, limits: None, stored: str) -> None:
    from billow.services.settings import set_setting

    set_setting(uow, "WhitelistedIPs", stored)
    uow.commit()
    for _ in range(8):
        assert _call(api.client, api.identifier, "guess")[1] == FAILED
    assert _ok(_call(api.client, api.identifier, api.secret))


def test_whitelisted_ips_parses_whmcs_forms() -> None:
    from billow.services.access.api_authentication import whitelisted_ips

    serialised = ('a:2:{i:0;a:2:{s:2:"ip";s:11:"192.0.2.10 ";s:4:"note";s:0:"";}'
                  'i:1;a:2:{s:2:"ip";s:13:"2001:db8::/32";s:4:"note";s:3:"lab";}}')
    assert whitelisted_ips(serialised) == ["192.0.2.10/32", "2001:db8::/32"]
    assert whitelisted_ips("192.0.2.1, 198.51.100.0/24\nnot-an-ip") == ["192.0.2.1/32", "198.51.100.0/24"]
    assert whitelisted_ips("") == []


def test_billow_ip_unban_lifts_the_lock_out(api: Any, limits: None) -> None:
    from typer.testing import CliRunner

    from billow.cli import app as cli

    for _ in range(3):
        _call(api.client, api.identifier, "guess")
    assert _call(api.client, api.identifier, api.secret) == BANNED
    result = CliRunner().invoke(cli, ["ip", "unban", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    assert "unbanned 127.0.0.1 (3 failed logins forgotten)" in result.output
    assert _ok(_call(api.client, api.identifier, api.secret))
    assert CliRunner().invoke(cli, ["ip", "unban", "not-an-ip"]).exit_code != 0
