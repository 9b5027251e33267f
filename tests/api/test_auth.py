"""Authentication and access control: every mode, every refusal, WHMCS's words and 403s."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from billow import clock
from billow.config import reset_settings
from billow.security import md5_hex

URL = "/includes/api.php"
ADMIN_PASSWORD = "correct horse battery"  # what make_credential gives its admin
FORBIDDEN = 403


@pytest.fixture
def client_at(app: Any) -> Iterator[Callable[[str], TestClient]]:
    """A TestClient whose requests come from the given socket address."""
    opened: list[TestClient] = []

    def make(ip: str, application: Any = None) -> TestClient:
        client = TestClient(application or app, client=(ip, 50000))
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def call(client: TestClient, action: str = "GetClients", **params: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(URL, data={"action": action, **params})
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def refused(message: str) -> tuple[int, dict[str, str]]:
    return FORBIDDEN, {"result": "error", "message": message}


def ok(status_body: tuple[int, dict[str, Any]]) -> bool:
    return status_body[0] == 200 and status_body[1]["result"] == "success"


# --- the three ways to authenticate ---------------------------------------------------

def test_identifier_and_secret(api: Any) -> None:
    assert ok(call(api.client, identifier=api.identifier, secret=api.secret))


def test_identifier_and_secret_as_username_and_password(api: Any) -> None:
    assert ok(call(api.client, username=api.identifier, password=api.secret))


def test_legacy_admin_username_and_md5_password(api: Any) -> None:
    assert ok(call(api.client, username="apiadmin", password=md5_hex(ADMIN_PASSWORD)))
    assert ok(call(api.client, username="apiadmin", password=md5_hex(ADMIN_PASSWORD).upper()))
    # The plain password is not the legacy form and must not work.
    assert call(api.client, username="apiadmin", password=ADMIN_PASSWORD) == refused("Authentication Failed")


@pytest.mark.parametrize("params", [
    {"identifier": "nobody", "secret": "x"},
    {"identifier": "", "secret": ""},
    {},
    {"username": "apiadmin", "password": md5_hex("wrong password")},
    {"username": "ghost", "password": md5_hex(ADMIN_PASSWORD)},
], ids=["unknown-identifier", "empty", "missing", "wrong-md5", "unknown-admin"])
def test_bad_credentials(api: Any, params: dict[str, str]) -> None:
    assert call(api.client, **params) == refused("Authentication Failed")


def test_wrong_secret(api: Any) -> None:
    assert call(api.client, identifier=api.identifier, secret=api.secret + "x") == refused(
        "Authentication Failed")
    assert call(api.client, identifier=api.identifier, secret=api.secret[:-1]) == refused(
        "Authentication Failed")


def test_revoked_credential(api: Any, uow: Any) -> None:
    from billow.services.access import credentials

    credentials.revoke_credential(uow, api.identifier)
    uow.commit()
    assert call(api.client, identifier=api.identifier, secret=api.secret) == refused("Authentication Failed")


def test_disabled_admin(api: Any, uow: Any) -> None:
    from billow.services.access import admins

    admins.set_admin_disabled(uow, "apiadmin", True)
    uow.commit()
    assert call(api.client, identifier=api.identifier, secret=api.secret) == refused("Authentication Failed")
    assert call(api.client, username="apiadmin", password=md5_hex(ADMIN_PASSWORD)) == refused(
        "Authentication Failed")


def test_admin_role_without_api_access(api: Any, uow: Any) -> None:
    from billow.db.models import Admin

    admin = uow.session.scalar(select(Admin).where(Admin.username == "apiadmin"))
    admin.role.api_access = False
    uow.commit()
    assert call(api.client, identifier=api.identifier, secret=api.secret) == refused("Authentication Failed")


# --- the IP allow-list ----------------------------------------------------------------

def test_ip_outside_the_allow_list(api: Any, client_at: Callable[..., TestClient]) -> None:
    outsider = client_at("10.1.2.3")
    assert call(outsider, identifier=api.identifier, secret=api.secret) == refused("Invalid IP 10.1.2.3")


def test_cidr_ranges_ipv4_and_ipv6(api: Any, uow: Any, client_at: Callable[..., TestClient]) -> None:
    from billow.services.access import ip_allow_list

    ip_allow_list.add_allowed_ip(uow, "10.0.0.0/8", note="office")
    ip_allow_list.add_allowed_ip(uow, "2001:db8::/32", note="office v6")
    uow.commit()
    who = {"identifier": api.identifier, "secret": api.secret}
    assert ok(call(client_at("10.200.3.4"), **who))
    assert ok(call(client_at("2001:db8:1::5"), **who))
    assert ok(call(client_at("::ffff:10.1.1.1"), **who)), "IPv4-mapped IPv6 matches IPv4 ranges"
    assert call(client_at("11.0.0.1"), **who) == refused("Invalid IP 11.0.0.1")
    assert call(client_at("2001:db9::1"), **who) == refused("Invalid IP 2001:db9::1")
    ip_allow_list.remove_allowed_ip(uow, "10.0.0.0/8")
    uow.commit()
    assert call(client_at("10.200.3.4"), **who) == refused("Invalid IP 10.200.3.4")


def test_allow_list_entry_of_one_credential(api: Any, db: Any, uow: Any,
                                            client_at: Callable[..., TestClient]) -> None:
    from billow.services.access import credentials

    scoped = credentials.create_credential(uow, "apiadmin", allow_ips=["192.0.2.0/24"])
    uow.commit()
    branch = client_at("192.0.2.7")
    assert ok(call(branch, identifier=scoped.identifier, secret=scoped.secret))
    assert call(branch, identifier=api.identifier, secret=api.secret) == refused("Invalid IP 192.0.2.7")


def test_accesskey_bypasses_the_allow_list(api: Any, monkeypatch: pytest.MonkeyPatch,
                                           client_at: Callable[..., TestClient]) -> None:
    monkeypatch.setenv("BILLOW_API_ACCESS_KEY", "s3cr3t!@#key")
    reset_settings()
    outsider = client_at("198.51.100.9")
    who = {"identifier": api.identifier, "secret": api.secret}
    assert ok(call(outsider, accesskey="s3cr3t!@#key", **who))
    assert call(outsider, accesskey="wrong", **who) == refused("Invalid IP 198.51.100.9")
    assert call(outsider, **who) == refused("Invalid IP 198.51.100.9")
    # The access key opens the IP gate only: credentials are still checked.
    assert call(outsider, accesskey="s3cr3t!@#key", identifier=api.identifier, secret="no") == refused(
        "Authentication Failed")


def test_accesskey_is_ignored_when_not_configured(api: Any, client_at: Callable[..., TestClient]) -> None:
    outsider = client_at("198.51.100.9")
    assert call(outsider, accesskey="", identifier=api.identifier, secret=api.secret) == refused(
        "Invalid IP 198.51.100.9")


def test_trusted_proxy_forwarded_for(api: Any, monkeypatch: pytest.MonkeyPatch, uow: Any,
                                     client_at: Callable[..., TestClient]) -> None:
    from billow.api.app import create_app
    from billow.services.access import ip_allow_list

    monkeypatch.setenv("BILLOW_TRUSTED_PROXIES", json.dumps(["10.0.0.1", "fd00::/8"]))
    reset_settings()
    app = create_app()
    who = {"identifier": api.identifier, "secret": api.secret}
    proxy = client_at("10.0.0.1", app)

    def via(client: TestClient, forwarded: str) -> tuple[int, dict[str, Any]]:
        response = client.post(URL, data={"action": "GetClients", **who},
                               headers={"X-Forwarded-For": forwarded})
        return response.status_code, response.json()

    assert via(proxy, "203.0.113.9") == refused("Invalid IP 203.0.113.9")
    ip_allow_list.add_allowed_ip(uow, "203.0.113.9")
    uow.commit()
    assert ok(via(proxy, "203.0.113.9"))
    # The right-most address not belonging to a trusted proxy is the client: a spoofed
    # first hop does not help.
    assert via(proxy, "127.0.0.1, 198.51.100.1") == refused("Invalid IP 198.51.100.1")
    assert ok(via(client_at("fd00::7", app), "203.0.113.9, fd00::8"))
    # An untrusted peer's X-Forwarded-For is ignored.
    assert via(client_at("10.5.5.5", app), "203.0.113.9") == refused("Invalid IP 10.5.5.5")


# --- API roles ------------------------------------------------------------------------

def test_role_denies_actions_outside_it(db: Any, http: TestClient, uow: Any) -> None:
    from billow.services.access import admins, api_roles, credentials, ip_allow_list

    admins.create_admin(uow, "reader", "reader-password", email="r@example.com")
    ip_allow_list.add_allowed_ip(uow, "127.0.0.1")
    api_roles.create_role(uow, "Read only", ["GetClients", "getclientsdetails"])
    new = credentials.create_credential(uow, "reader", roles=["Read only"])
    uow.commit()
    who = {"identifier": new.identifier, "secret": new.secret}
    assert ok(call(http, "GetClients", **who))
    assert ok(call(http, "GETCLIENTS", **who))
    assert call(http, "AddClient", **who) == refused(
        'Invalid Permissions: API action "addclient" is not allowed')
    assert call(http, "WhmcsDetails", **who) == refused(
        'Invalid Permissions: API action "whmcsdetails" is not allowed')
    # An unknown action is reported as unknown, not as forbidden.
    status, body = call(http, "MadeUp", **who)
    assert (status, body["message"]) == (200, 'Invalid API Action: "madeup" is not a valid API action')


# --- brute-force protection -----------------------------------------------------------

def test_lock_out_after_repeated_failures(api: Any, monkeypatch: pytest.MonkeyPatch, db: Any,
                                          caplog: pytest.LogCaptureFixture,
                                          client_at: Callable[..., TestClient]) -> None:
    from billow.db.models import ApiLog, LoginFailure

    monkeypatch.setenv("BILLOW_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("BILLOW_LOGIN_LOCKOUT_SECONDS", "600")
    reset_settings()
    good = {"identifier": api.identifier, "secret": api.secret}
    bad = {"identifier": api.identifier, "secret": "guess"}
    start = clock.now()
    with clock.frozen(start):
        for _ in range(3):
            assert call(api.client, **bad) == refused("Authentication Failed")
        with caplog.at_level(logging.WARNING, logger="billow.api"):
            assert call(api.client, **good) == refused("IP Banned")
        assert "locked out" in caplog.text
    with db() as session:
        assert len(session.scalars(select(LoginFailure)).all()) == 3
        banned = session.scalars(select(ApiLog).where(ApiLog.message == "IP Banned")).all()
    assert [(r.ip, r.http_status) for r in banned] == [("127.0.0.1", 403)]
    with clock.frozen(start + timedelta(seconds=601)):
        assert ok(call(api.client, **good)), "the cool-down is over"


def test_lock_out_is_per_address(api: Any, monkeypatch: pytest.MonkeyPatch, uow: Any,
                                 client_at: Callable[..., TestClient]) -> None:
    from billow.services.access import ip_allow_list

    monkeypatch.setenv("BILLOW_LOGIN_MAX_FAILURES", "2")
    reset_settings()
    ip_allow_list.add_allowed_ip(uow, "10.9.0.0/16")
    uow.commit()
    attacker = client_at("10.9.0.66")
    for _ in range(2):
        call(attacker, identifier=api.identifier, secret="guess")
    assert call(attacker, identifier=api.identifier, secret=api.secret) == refused("IP Banned")
    assert ok(call(client_at("10.9.0.67"), identifier=api.identifier, secret=api.secret))


# --- the API log ----------------------------------------------------------------------

def test_api_log_records_calls_without_secrets(api: Any, db: Any) -> None:
    from billow.db.base import Base
    from billow.db.models import ApiLog

    client_password, user_password = "Client-Pass-123", "User-Pass-456"
    api.ok("AddClient", firstname="A", lastname="B", email="ab@example.com", address1="1 Road",
           city="Town", state="State", postcode="12345", country="US", phonenumber="+1 202 555 0101",
           password2=client_password)
    api.ok("AddUser", firstname="U", lastname="V", email="uv@example.com", password2=user_password)
    api.ok("ValidateLogin", email="uv@example.com", password2=user_password)
    call(api.client, identifier=api.identifier, secret="wrong-" + api.secret)
    call(api.client, username="apiadmin", password=md5_hex(ADMIN_PASSWORD))
    with db() as session:
        log = session.scalars(select(ApiLog).order_by(ApiLog.id)).all()
        everything = "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables
            for row in session.execute(select(table)).all()
        )
    assert [(r.action, r.result, r.identifier, r.ip) for r in log] == [
        ("AddClient", "success", api.identifier, "127.0.0.1"),
        ("AddUser", "success", api.identifier, "127.0.0.1"),
        ("ValidateLogin", "success", api.identifier, "127.0.0.1"),
        ("GetClients", "error", api.identifier, "127.0.0.1"),
        ("GetClients", "success", "apiadmin", "127.0.0.1"),
    ]
    assert log[3].http_status == FORBIDDEN and log[3].message == "Authentication Failed"
    assert all(r.duration_ms >= 0 and r.at is not None for r in log)
    for secret in (api.secret, client_password, user_password, md5_hex(ADMIN_PASSWORD), ADMIN_PASSWORD):
        assert secret not in everything, "a secret reached the database"
