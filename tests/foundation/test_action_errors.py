"""Every documented error of the foundation actions, with WHMCS's exact words.

Each case sends a request that must fail with one documented message, and checks that
the failed request changed nothing (same row counts in every table but the API log).
A last test walks the reference: each documented error string is either in the table
below, covered by a named test elsewhere, or excused with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from foundation_helpers import NEW_CLIENT
from sqlalchemy import func, select

from whmcs_shapes import documented_errors

FOUNDATION_ACTIONS = (
    "AddClient", "GetClients", "GetClientsDetails", "UpdateClient", "DeleteClient", "CloseClient",
    "GetClientGroups", "AddClientNote", "GetContacts", "AddContact", "UpdateContact",
    "DeleteContact", "AddUser", "GetUsers", "UpdateUser", "ResetPassword", "ValidateLogin",
    "GetCurrencies", "WhmcsDetails", "GetActivityLog", "LogActivity",
)
ICANN_CLIENT = (
    "You must have at least one email address enabled to receive domain related notifications "
    "as required by ICANN. To disable domain notifications, please create an alternative "
    "contact that is set to receive them"
)
ICANN_CONTACT = (
    "You must have at least one email address enabled to receive domain related notifications "
    "as required by ICANN. To disable domain notifications, please enable domain notifications "
    "for the primary account holder or another contact"
)


@dataclass
class Case:
    action: str
    params: dict[str, Any]
    message: str
    setup: Callable[[Any], None] | None = field(default=None)

    @property
    def id(self) -> str:
        return f"{self.action}:{self.message[:40]}"


def _client(**changes: str) -> dict[str, Any]:
    return {**NEW_CLIENT, **changes}


def _add_other_contact(api: Any) -> None:
    api.ok("AddContact", clientid=1, firstname="Other", email="other@example.com")


def _grace_relies_on_contact(api: Any) -> None:
    api.ok("AddContact", clientid=2, firstname="Domain", email="domains@example.org")
    api.ok("UpdateClient", clientid=2, **{"email_preferences[domain]": "0"})


CASES = [
    Case("AddClient", _client(owner_user_id="999"), "Invalid Owner User ID"),
    Case("AddClient", _client(firstname=""), "You did not enter your first name"),
    Case("AddClient", _client(lastname=" "), "You did not enter your last name"),
    Case("AddClient", _client(email=""), "You did not enter your email address"),
    Case("AddClient", _client(email="alan@@example"), "The email address you entered was not valid"),
    Case("AddClient", _client(address1=""), "You did not enter your  address line 1"),
    Case("AddClient", _client(city=""), "You did not enter your city"),
    Case("AddClient", _client(state=""), "You did not enter your state"),
    Case("AddClient", _client(postcode=""), "You did not enter your postcode"),
    Case("AddClient", _client(country="XX"), "Valid country required"),
    Case("AddClient", _client(country="GBR"), "Valid country required"),
    Case("AddClient", _client(phonenumber=""), "You did not enter your phone number"),
    Case("AddClient", _client(phonenumber="12"), "Invalid telephone phone number"),
    Case("AddClient", _client(phonenumber="call me"), "Invalid telephone phone number"),
    Case("AddClient", _client(email="ADA@example.com"),
         "The email address entered is not available for use."),
    Case("AddClient", _client(), "A user already exists with that email address",
         setup=lambda api: api.ok("AddUser", firstname="A", lastname="T",
                                  email="alan@example.com", password2="x-password-1")),
    Case("GetClientsDetails", {}, "Either clientid Or email Is Required"),
    Case("GetClientsDetails", {"clientid": "999"}, "Client Not Found"),
    Case("GetClientsDetails", {"email": "nobody@example.com"}, "Client Not Found"),
    Case("UpdateClient", {"clientid": "999", "firstname": "X"}, "Client ID Not Found"),
    Case("UpdateClient", {"clientemail": "nobody@example.com"}, "Client ID Not Found"),
    Case("UpdateClient", {"clientid": "2", "email": "Ada@Example.com"}, "Duplicate Email Address"),
    Case("UpdateClient", {"clientid": "2", "email": "grace@"}, "The email address entered is not valid"),
    Case("UpdateClient", {"clientid": "2", "email_preferences[domain]": "0"}, ICANN_CLIENT),
    Case("DeleteClient", {"clientid": "999"}, "Client ID Not Found"),
    Case("DeleteClient", {}, "Client ID Not Found"),
    Case("CloseClient", {"clientid": "999"}, "Client ID Not Found"),
    Case("AddClientNote", {"userid": "999", "notes": "hello"}, "Client ID not found"),
    Case("AddClientNote", {"userid": "1", "notes": "  "}, "Notes can not be empty"),
    Case("AddContact", {"clientid": "999", "firstname": "X"}, "Client ID Not Found"),
    Case("AddContact", {"clientid": "1", "email": "Charles@example.com"}, "Duplicate Email Address"),
    Case("UpdateContact", {"contactid": "999", "firstname": "X"}, "Contact ID Not Found"),
    Case("UpdateContact", {"contactid": "1", "email": "other@example.com"}, "Duplicate Email Address",
         setup=_add_other_contact),
    Case("UpdateContact", {"contactid": "3", "email_preferences[domain]": "0"}, ICANN_CONTACT,
         setup=_grace_relies_on_contact),
    Case("DeleteContact", {"contactid": "999"}, "Contact ID Not Found"),
    Case("AddUser", {"lastname": "L", "email": "u@example.com", "password2": "pw-123456"},
         "You did not enter a first name"),
    Case("AddUser", {"firstname": "F", "email": "u@example.com", "password2": "pw-123456"},
         "You did not enter a last name"),
    Case("AddUser", {"firstname": "F", "lastname": "L", "password2": "pw-123456"},
         "You did not enter an email address"),
    Case("AddUser", {"firstname": "F", "lastname": "L", "email": "u@example.com"},
         "You did not enter a password"),
    Case("AddUser", {"firstname": "F", "lastname": "L", "email": "u@", "password2": "pw-123456"},
         "The email address entered is not valid"),
    Case("AddUser", {"firstname": "F", "lastname": "L", "email": "GRACE@example.org",
                     "password2": "pw-123456"}, "A user already exists with that email address"),
    Case("UpdateUser", {"user_id": "999", "firstname": "X"}, "Invalid User ID requested"),
    Case("UpdateUser", {"user_id": "1"},
         "One of `email`, `firstname`, `lastname`, or `language` is required"),
    Case("UpdateUser", {"user_id": "1", "email": "x@"}, "The email address entered is not valid"),
    Case("UpdateUser", {"user_id": "1", "email": "grace@example.org"},
         "A user already exists with that email address"),
    Case("ResetPassword", {}, "Please enter the email address or provide the id"),
    Case("ResetPassword", {"email": "not-an-address"}, "Please provide a valid email address"),
    Case("ResetPassword", {"email": "nobody@example.com"}, "User Not Found"),
    Case("ResetPassword", {"id": "999"}, "User Not Found"),
    Case("ValidateLogin", {"email": "ada@example.com", "password2": "wrong"}, "Email or Password Invalid"),
    Case("ValidateLogin", {"email": "nobody@example.com", "password2": "x"}, "Email or Password Invalid"),
]

def test_overlong_text_is_refused_before_the_database(api: Any, demo: Any, db: Any) -> None:
    # PostgreSQL would fail the whole request on a value longer than its column.
    before = row_counts(db)
    assert api.error("AddClient", **_client(city="x" * 101)) == "The city may be at most 100 characters long"
    assert api.error("UpdateClient", clientid=1, postcode="9" * 21) == (
        "The postcode may be at most 20 characters long")
    assert api.error("AddContact", clientid=1, firstname="n" * 101) == (
        "The firstname may be at most 100 characters long")
    assert api.error("UpdateUser", user_id=1, language="l" * 51) == (
        "The language may be at most 50 characters long")
    assert row_counts(db) == before
    assert api.ok("UpdateClient", clientid=1, notes="long " * 1000)  # Text has no limit


#: Documented errors tested by a named test in another module.
ELSEWHERE = {
    ("AddClient", "You did not provide required custom field value for"):
        "test_client_actions.py::test_add_client_required_custom_field",
}
#: Documented errors Billow cannot produce, and why.
EXCUSED = {
    ("UpdateClient", "Multiple Credit Card Pay Methods Found"):
        "the deprecated card parameters are not accepted; pay methods are AddPayMethod's",
    ("UpdateClient", "Multiple Bank Account Pay Methods Found"):
        "the deprecated bank parameters are not accepted; pay methods are AddPayMethod's",
    ("DeleteClient", "Client Delete Failed: xxxxxx"):
        "a database failure: the request rolls back with the generic error instead",
    ("CloseClient", "An unexpected error occurred: xxx"):
        "an internal failure: answered with the dispatcher's generic error",
}


def row_counts(db: Any) -> dict[str, int]:
    """Rows per table, but the API log (which records every call, failed ones too)."""
    from billow.db.base import Base

    with db() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in ("api_log", "login_failures")
        }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_error(case: Case, api: Any, demo: Any, db: Any) -> None:
    if case.setup:
        case.setup(api)
    before = row_counts(db)
    assert api.error(case.action, **case.params) == case.message
    assert case.message in documented_errors(case.action)
    assert row_counts(db) == before, "a refused request must change nothing"


def test_every_documented_error_is_covered() -> None:
    tested = {(c.action, c.message) for c in CASES}
    missing = [
        (action, message)
        for action in FOUNDATION_ACTIONS
        for message in documented_errors(action)
        if (action, message) not in tested | set(ELSEWHERE) | set(EXCUSED)
    ]
    assert missing == []
