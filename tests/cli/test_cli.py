"""The ``billow`` command line: the contract scripts rely on, and the quickstart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from billow.cli import app as cli

runner = CliRunner()


def billow(*args: str, ok: bool = True) -> Any:
    result = runner.invoke(cli, list(args), env={"COLUMNS": "200"})
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
    return result


def count(db: Any, model: Any) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_migrate(db: Any) -> None:
    assert "database is up to date" in billow("migrate").output


def test_demo_is_idempotent(db: Any) -> None:
    from billow.db.models import Client, ClientGroup, Contact, Currency, User

    first = billow("demo").output
    assert "demo data ready" in first and "(0 new records)" not in first
    assert "(0 new records)" in billow("demo").output
    assert [count(db, m) for m in (Currency, ClientGroup, Client, Contact, User)] == [3, 2, 4, 2, 4]


def test_admin_create(db: Any) -> None:
    from billow.db.models import Admin
    from billow.security import verify_admin_password

    assert "admin ops created" in billow("admin", "create", "ops", "--password", "long-enough-pw",
                                         "--email", "ops@example.com").output
    with db() as session:
        admin = session.scalar(select(Admin).where(Admin.username == "ops"))
    assert admin.email == "ops@example.com" and admin.role.name == "Full Administrator"
    assert verify_admin_password(admin.password_hash, "long-enough-pw")
    assert "long-enough-pw" not in admin.password_hash
    again = billow("admin", "create", "ops", "--password", "long-enough-pw", ok=False)
    assert "already exists" in again.output
    assert "at least 8" in billow("admin", "create", "x", "--password", "short", ok=False).output


def test_credentials_roles_and_ips(db: Any, http: Any) -> None:
    billow("admin", "create", "ops", "--password", "long-enough-pw")
    billow("role", "create", "Readers", "--allow", "GetClients", "--allow", "GetClientsDetails")
    assert "already exists" in billow("role", "create", "Readers", "--allow", "X", ok=False).output
    created = json.loads(billow("credential", "create", "--admin", "ops", "--role", "Readers",
                                "--allow-ip", "127.0.0.1", "--json").output)
    assert set(created) == {"identifier", "secret"}
    who = {"identifier": created["identifier"], "secret": created["secret"]}

    def call(action: str) -> dict[str, Any]:
        return http.post("/includes/api.php", data={"action": action, **who}).json()

    assert call("GetClients")["result"] == "success"
    assert call("AddClient")["message"] == 'Invalid Permissions: API action "addclient" is not allowed'

    listed = json.loads(billow("credential", "list", "--json").stdout)
    assert [(c["identifier"], c["admin"], c["roles"], c["revoked"]) for c in listed] == [
        (created["identifier"], "ops", ["Readers"], False)]
    assert created["secret"] not in billow("credential", "list").output
    assert created["identifier"] in billow("credential", "list").output
    billow("credential", "revoke", created["identifier"])
    assert json.loads(billow("credential", "list", "--json").stdout)[0]["revoked"] is True
    assert call("GetClients")["message"] == "Authentication Failed"
    assert "No credential" in billow("credential", "revoke", "nope", ok=False).output
    assert "No admin named ghost" in billow("credential", "create", "--admin", "ghost", ok=False).output

    plain = billow("credential", "create", "--admin", "ops").output
    assert "identifier:" in plain and "secret:" in plain


def test_ip_allow_remove_list(db: Any) -> None:
    from billow.db.models import AllowedIP

    assert "allowed 192.0.2.0/24" in billow("ip", "allow", "192.0.2.9/24", "--note", "office").output
    assert "allowed 2001:db8::/32" in billow("ip", "allow", "2001:db8::/32").output
    billow("ip", "allow", "192.0.2.0/24", "--note", "office again")  # no duplicate
    listing = billow("ip", "list").output
    assert "192.0.2.0/24" in listing and "2001:db8::/32" in listing and "office again" in listing
    assert count(db, AllowedIP) == 2
    assert "removed 1 entry" in billow("ip", "remove", "192.0.2.0/24").output
    assert "removed 0 entries" in billow("ip", "remove", "192.0.2.0/24").output
    assert "Not an IP address" in billow("ip", "allow", "not-an-ip", ok=False).output
    assert count(db, AllowedIP) == 1


@pytest.mark.slow
def test_quickstart_serves_the_demo_clients(tmp_path: Path) -> None:
    """What a new user does: one command, then a plain POST with the printed credentials."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("BILLOW_DATABASE_URL", "BILLOW_SECRET_KEY")}
    env.update(BILLOW_DATA_DIR=str(tmp_path / "var"))
    env.pop("COLUMNS", None)  # rich wraps at 80 columns when not on a terminal
    command = [str(Path(sys.executable).with_name("billow")), "quickstart", "--port", str(port)]
    log = tmp_path / "quickstart.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert server.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            printed = log.read_text()
            saved = json.loads((tmp_path / "var" / "quickstart-credentials.json").read_text())
            assert f"identifier   : {saved['identifier']}" in printed
            assert f"secret       : {saved['secret']}" in printed
            assert f"{base}/includes/api.php" in printed
            # The suggested curl line is one line a user can paste as it is.
            assert (f"curl -s {base}/includes/api.php -d action=GetClients -d identifier="
                    f"{saved['identifier']} -d secret={saved['secret']} -d responsetype=json") in printed
            response = httpx.post(f"{base}/includes/api.php", data={
                "action": "GetClients", "identifier": saved["identifier"], "secret": saved["secret"],
                "responsetype": "json"})
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert body["result"] == "success" and body["totalresults"] == 4
            assert {c["email"] for c in body["clients"]["client"]} == {
                "ada@example.com", "grace@example.org", "linus@example.net", "marie@example.fr"}
            assert (tmp_path / "var" / "billow.db").exists() and (tmp_path / "var" / "secret.key").exists()
        finally:
            server.terminate()
            server.wait(timeout=20)
