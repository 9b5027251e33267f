"""Issue 12, finding 5: admin usernames cannot be enumerated by timing, and the argon2
check of a login never runs on the event loop (wrong logins do not stall ``/healthz``)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from billow import security
from billow.security import md5_hex


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification made, by the hash it checked against."""
    from argon2 import PasswordHasher

    seen: list[str] = []
    original = PasswordHasher.verify

    def counting(self: PasswordHasher, hashed: Any, password: Any) -> bool:
        seen.append(str(hashed))
        return original(self, hashed, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return seen


def _login(api: Any, username: str, password: str) -> dict[str, Any]:
    response = api.client.post("/includes/api.php", data={
        "action": "GetClients", "username": username, "password": md5_hex(password)})
    return response.json()


def test_unknown_disabled_and_known_admins_cost_the_same_hash_check(
    api: Any, uow: Any, hash_checks: list[str]
) -> None:
    from billow.services.access import admins

    admins.create_admin(uow, "known", "right-password")
    admins.create_admin(uow, "sleeper", "right-password")
    admins.set_admin_disabled(uow, "sleeper", True)
    uow.commit()
    failed = {"result": "error", "message": "Authentication Failed"}
    for username in ("known", "nobody-by-this-name", "sleeper"):
        hash_checks.clear()
        assert _login(api, username, "wrong-password") == failed
        assert len(hash_checks) == 1, f"{username}: one argon2 check, whoever asks"
    assert _login(api, "known", "right-password")["result"] == "success"


def test_validate_login_hashes_for_unknown_emails_too(uow: Any, hash_checks: list[str]) -> None:
    from billow.errors import ValidationError
    from billow.services.clients import users

    with pytest.raises(ValidationError, match="Email or Password Invalid"):
        users.validate_login(uow, "nobody@example.com", "guess")
    assert len(hash_checks) == 1


def test_concurrent_wrong_logins_do_not_stall_healthz(
    db: Any, uow: Any, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billow.services.access import admins, ip_allow_list

    admins.create_admin(uow, "known", "right-password")
    ip_allow_list.add_allowed_ip(uow, "127.0.0.1")
    uow.commit()
    real = security.verify_admin_md5

    def slow(hashed: str, md5_of_password: str) -> bool:  # a slow argon2, made obvious
        time.sleep(1.0)
        return real(hashed, md5_of_password)

    monkeypatch.setattr(security, "verify_admin_md5", slow)
    form = {"action": "GetClients", "username": "known", "password": md5_hex("wrong")}
    with ThreadPoolExecutor(4) as pool:
        logins = [pool.submit(httpx.post, f"{live_server}/includes/api.php", data=form, timeout=30)
                  for _ in range(4)]
        time.sleep(0.2)
        started = time.perf_counter()
        health = httpx.get(f"{live_server}/healthz", timeout=30)
        waited = time.perf_counter() - started
        answers = [f.result().json()["message"] for f in logins]
    assert health.status_code == 200
    assert answers == ["Authentication Failed"] * 4
    assert waited < 0.5, f"/healthz waited {waited:.2f}s behind password checks"
