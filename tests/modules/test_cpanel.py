"""The cpanel module against a local server speaking WHM API 1."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from billow.modules.servers.base import ModuleParams
from billow.modules.servers.cpanel import CpanelModule, _megabytes


def params(whm, **extra):
    host, _, port = whm.url.split("//")[1].partition(":")
    base = {
        "serverhostname": host,
        "serverport": int(port),
        "serversecure": False,
        "serverusername": "root",
        "serveraccesshash": whm.token,
        "serverpassword": "",
        "username": "examplec",
        "password": "S3cret!pass",
        "domain": "example.com",
        "configoption1": "starter_pkg",
        "configoption2": "",
        "configoptions": {},
        "clientsdetails": {"email": "owner@example.com"},
        "serviceid": 7,
    }
    base.update(extra)
    return ModuleParams(base)


def test_full_account_lifecycle_uses_whm_functions_and_auth_header(whm):
    module = CpanelModule(timeout=5)
    assert module.create_account(params(whm)).success
    request = whm.requests[-1]
    assert request["headers"]["Authorization"] == f"whm root:{whm.token}"
    query = {k: v[0] for k, v in parse_qs(urlsplit(request["path"]).query).items()}
    assert urlsplit(request["path"]).path == "/json-api/createacct"
    assert query == {
        "api.version": "1",
        "username": "examplec",
        "domain": "example.com",
        "plan": "starter_pkg",
        "password": "S3cret!pass",
        "contactemail": "owner@example.com",
    }
    assert module.suspend_account(params(whm, suspendreason="Overdue on Payment")).success
    assert (
        whm.accounts["examplec"]["suspended"] and whm.accounts["examplec"]["reason"] == "Overdue on Payment"
    )
    assert module.unsuspend_account(params(whm)).success and not whm.accounts["examplec"]["suspended"]
    assert module.change_package(params(whm, configoption1="gold_pkg")).success
    assert whm.accounts["examplec"]["plan"] == "gold_pkg"
    assert module.change_password(params(whm, password="N3w!password")).success
    assert whm.accounts["examplec"]["password"] == "N3w!password"
    sso = module.single_sign_on(params(whm))
    assert sso.success and sso.data["url"].startswith("https://server.example.net:2083/")
    usage = module.usage_update(params(whm))
    assert [(u.username, u.diskusage, u.disklimit, u.bwusage, u.bwlimit) for u in usage] == [
        ("examplec", 150, 1000, 300, 2048)
    ]
    assert module.terminate_account(params(whm)).success and "examplec" not in whm.accounts
    assert [c.action for c in module.calls][:2] == ["createacct", "suspendacct"]


def test_whm_refusals_come_back_as_the_reason(whm):
    module = CpanelModule(timeout=5)
    result = module.create_account(params(whm, configoption1="made_up_pkg"))
    assert not result.success and result.error == "The package “made_up_pkg” does not exist."
    assert module.create_account(params(whm)).success
    again = module.create_account(params(whm))
    assert "already exists" in again.error
    assert module.suspend_account(params(whm, username="nobody")).error == "User “nobody” does not exist."


def test_bad_token_garbage_and_outage(whm):
    module = CpanelModule(timeout=5)
    denied = module.create_account(params(whm, serveraccesshash="wrong"))
    assert not denied.success and "token" in denied.error
    whm.garbage = True
    garbage = module.create_account(params(whm))
    assert not garbage.success and garbage.error.startswith("Invalid response from WHM (HTTP 200)")
    whm.garbage, whm.down = False, True
    before = len(whm.requests)
    down = module.create_account(params(whm))
    assert not down.success and "HTTP 503" in down.error
    assert len(whm.requests) - before == 1  # createacct is never repeated
    before = len(whm.requests)
    assert not module.test_connection(params(whm)).success
    assert len(whm.requests) - before == 3  # version is read-only: retried


def test_timeout_is_a_readable_failure(whm):
    whm.delay = 1.0
    result = CpanelModule(timeout=0.2).suspend_account(params(whm))
    assert not result.success and result.error == "Connection timed out"


def test_connection_test_lists_packages(whm):
    result = CpanelModule(timeout=5).test_connection(params(whm))
    assert result.success and result.data == {
        "version": "11.118.0.5",
        "packages": ["gold_pkg", "starter_pkg"],
    }


def test_size_parsing():
    assert (_megabytes("2G"), _megabytes("unlimited"), _megabytes("512K"), _megabytes("")) == (2048, 0, 0, 0)
