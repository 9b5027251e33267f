"""User (login) actions and the system actions: shapes, effects, the activity log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from billow import WHMCS_COMPAT_VERSION, clock
from whmcs_shapes import assert_whmcs_shape


def test_add_user_and_get_users(api: Any, demo: Any) -> None:
    body = api.ok("AddUser", firstname="Tim", lastname="Berners-Lee", email="TIM@example.com",
                  password2="www-1989-cern", language="english")
    assert_whmcs_shape("AddUser", body)
    assert body["user_id"] == "5"
    users = api.ok("GetUsers")
    assert_whmcs_shape("GetUsers", users)
    assert (users["totalresults"], users["numreturned"], users["startnumber"]) == (5, 5, 0)
    first = users["users"][0]
    assert first["clients"] == [{"id": 1, "isOwner": True}] and first["email"] == "ada@example.com"
    assert users["users"][4]["clients"] == [] and users["users"][4]["email"] == "TIM@example.com"
    page = api.ok("GetUsers", limitstart=1, limitnum=2, sorting="DESC")
    assert [u["id"] for u in page["users"]] == [4, 3]
    assert [u["id"] for u in api.ok("GetUsers", search="grace")["users"]] == [2]
    assert api.ok("ValidateLogin", email="tim@example.com", password2="www-1989-cern")["userid"] == "5"


def test_update_user(api: Any, demo: Any) -> None:
    body = api.ok("UpdateUser", user_id=2, firstname="Amazing", email="grace.hopper@example.org")
    assert_whmcs_shape("UpdateUser", body)
    user = api.ok("GetUsers", search="grace.hopper")["users"][0]
    assert (user["id"], user["firstname"], user["lastname"]) == (2, "Amazing", "Hopper")


def test_reset_password_requests_the_email(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import OutboxEvent, User

    for params in ({"id": 3}, {"email": "LINUS@example.net"}):
        body = api.ok("ResetPassword", **params)
        assert_whmcs_shape("ResetPassword", body)
    with db() as session:
        user = session.get(User, 3)
        assert user.reset_token_digest and user.reset_token_expires > clock.now()
        mails = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "EmailRequested",
                                                          OutboxEvent.resource_id == 3)).all()
    assert [m.payload["template"] for m in mails] == ["Password Reset Validation"] * 2
    # The database keeps only a digest of the token the e-mail carries.
    assert mails[-1].payload["reset_token"] not in user.reset_token_digest


def test_validate_login(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import User

    api.ok("AddUser", firstname="Kay", lastname="Lee", email="kay@example.com", password2="Pass-word-9")
    body = api.ok("ValidateLogin", email="kay@example.com", password2="Pass-word-9")
    assert_whmcs_shape("ValidateLogin", body)
    assert body["twoFactorEnabled"] == "false" and len(body["passwordhash"]) >= 40
    with db() as session:
        user = session.scalar(select(User).where(User.email == "kay@example.com"))
    assert body["passwordhash"] != user.password_hash, "the stored hash never leaves the server"
    assert user.last_ip == "127.0.0.1" and user.last_login is not None
    # Demo users have no password yet: nothing validates against an empty hash.
    assert api.error("ValidateLogin", email="ada@example.com", password2="") == "Email or Password Invalid"


def test_get_currencies(api: Any, demo: Any) -> None:
    body = api.ok("GetCurrencies")
    assert_whmcs_shape("GetCurrencies", body)
    assert body["totalresults"] == "3"
    assert body["currencies"]["currency"][0] == {
        "id": "1", "code": "USD", "prefix": "$", "suffix": " USD", "format": "1", "rate": "1.00000"}
    assert body["currencies"]["currency"][1]["rate"] == "0.92000"


def test_whmcs_details(api: Any) -> None:
    body = api.ok("WhmcsDetails")
    assert_whmcs_shape("WhmcsDetails", body)
    assert body["whmcs"] == {"version": WHMCS_COMPAT_VERSION,
                             "canonicalversion": f"{WHMCS_COMPAT_VERSION}-release.1"}


def test_log_activity_and_get_activity_log(api: Any, demo: Any) -> None:
    with clock.frozen(datetime(2026, 3, 1, 10, 0, tzinfo=UTC)):
        body = api.ok("LogActivity", description="Migrated from legacy billing", clientid=2)
        assert_whmcs_shape("LogActivity", body)
        api.ok("LogActivity", description="Nightly import done")
    assert api.error("LogActivity", description=" ") == "Description is required"
    log = api.ok("GetActivityLog")
    assert_whmcs_shape("GetActivityLog", log)
    newest = log["activity"]["entry"][0]
    assert (newest["description"], newest["clientId"], newest["userid"]) == ("Nightly import done", 0, 0)
    assert (newest["username"], newest["ipaddress"], newest["adminId"]) == ("apiadmin", "127.0.0.1", 1)
    assert newest["date"] == "2026-03-01 10:00:00"
    for_grace = api.ok("GetActivityLog", clientid=2)["activity"]["entry"]
    assert [e["description"] for e in for_grace][:1] == ["Migrated from legacy billing"]
    assert api.ok("GetActivityLog", userid=2)["totalresults"] == len(for_grace)
    found = api.ok("GetActivityLog", description="legacy billing")
    assert found["totalresults"] == 1
    assert api.ok("GetActivityLog", date="2026-03-01")["totalresults"] == 2
    assert api.ok("GetActivityLog", date="01/03/2026")["totalresults"] == 2  # WHMCS's localised form
    assert api.error("GetActivityLog", date="31/02/2026") == "Invalid date"
    assert api.ok("GetActivityLog", user="apiadmin", ipaddress="127.0.0.1")["totalresults"] == 2
    paged = api.ok("GetActivityLog", limitstart=1, limitnum=1)
    assert paged["startnumber"] == 1 and len(paged["activity"]["entry"]) == 1
