"""The WHMCS wire layer: where parameters come from, encodings, paging, robustness."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from billow.api.params import Params, parse_php_pairs

URL = "/includes/api.php"
CLIENT = {
    "firstname": "Alan", "lastname": "Turing", "email": "alan@example.com",
    "address1": "1 Bletchley Park", "city": "Milton Keynes", "state": "Bucks",
    "postcode": "MK3 6EB", "country": "GB", "phonenumber": "+44 1908 640404",
}


def creds(api: Any) -> dict[str, str]:
    return {"identifier": api.identifier, "secret": api.secret}


def count(db: Any, model: Any) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- where the action and parameters come from ----------------------------------------

def test_action_in_query_string_and_any_case(api: Any) -> None:
    for spelling in ("GetClients", "getclients", "GETCLIENTS", "gEtClIeNtS"):
        response = api.client.post(f"{URL}?action={spelling}", data=creds(api))
        assert response.status_code == 200
        assert response.json()["result"] == "success"
    everything_in_query = api.client.get(URL, params={"action": "getclients", **creds(api)})
    assert everything_in_query.json()["totalresults"] == 0


def test_json_is_the_default_with_its_content_type(api: Any) -> None:
    response = api.raw("WhmcsDetails")
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content)["result"] == "success"
    assert api.raw("WhmcsDetails", responsetype="json").headers["content-type"] == "application/json"


def test_json_request_bodies_are_read_too(api: Any) -> None:
    response = api.client.post(URL, json={"action": "AddClient", **creds(api), **CLIENT})
    assert response.json() == {"result": "success", "clientid": "1"}


def test_xml_answer(api: Any, db: Any) -> None:
    api.ok("AddClient", **CLIENT)
    api.ok("AddClient", **{**CLIENT, "email": "bombe@example.com", "companyname": "A & B <Ltd>"})
    response = api.raw("GetClients", responsetype="xml")
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "whmcsapi" and root.attrib["version"]
    assert [child.tag for child in root][:5] == [
        "action", "result", "totalresults", "startnumber", "numreturned"]
    assert root.findtext("action") == "getclients" and root.findtext("result") == "success"
    clients = root.find("clients").findall("client")
    assert [c.findtext("id") for c in clients] == ["1", "2"]
    assert clients[1].findtext("companyname") == "A & B <Ltd>"
    # The API refuses control characters in names (tests/security), but a stored value
    # may still carry one (data from before, an import): the XML answer drops it.
    third_id = int(api.ok("AddClient", **{**CLIENT, "email": "ctl@example.com"})["clientid"])
    with db() as session, session.begin():
        session.execute(text("UPDATE clients SET firstname = :name WHERE id = :id"),
                        {"name": "Bell\x07Char", "id": third_id})
    third = ET.fromstring(api.raw("GetClients", responsetype="xml").content).find("clients")[2]
    assert third.findtext("firstname") == "BellChar", "XML 1.0 forbids control characters"
    error = ET.fromstring(api.raw("GetClientsDetails", responsetype="XML").content)
    assert (error.findtext("result"), error.findtext("message")) == (
        "error", "Either clientid Or email Is Required")


def test_unknown_and_missing_action(api: Any) -> None:
    assert api.error("NoSuchThing") == 'Invalid API Action: "nosuchthing" is not a valid API action'
    assert api.raw("NoSuchThing").status_code == 200
    assert api.error("") == 'Invalid API Action: "" is not a valid API action'


def test_empty_accesskey_changes_nothing(api: Any) -> None:
    assert api.ok("GetClients", accesskey="")["totalresults"] == 0


# --- PHP bracket parameters -----------------------------------------------------------

def test_php_bracket_parsing() -> None:
    pairs = [
        ("pid[0]", "1"), ("pid[1]", "5"), ("domain[]", "a.com"), ("domain[]", "b.com"),
        ("customfields[3]", "x"), ("configoptions[1][2]", "3"), ("configoptions[1][4]", "5"),
        ("email_preferences[general]", "1"), ("billingcycle", "monthly"), ("tag", "a"), ("tag", "b"),
    ]
    data = parse_php_pairs(pairs)
    assert data["pid"] == {"0": "1", "1": "5"}
    assert data["domain"] == {"0": "a.com", "1": "b.com"}
    assert data["customfields"] == {"3": "x"}
    assert data["configoptions"] == {"1": {"2": "3", "4": "5"}}
    assert data["email_preferences"] == {"general": "1"}
    params = Params(data)
    assert params.list("pid") == ["1", "5"] and params.list("domain") == ["a.com", "b.com"]
    assert params.list("billingcycle") == ["monthly"], "a scalar is a list of one"
    assert params.list("tag") == ["a", "b"], "a repeated plain key is a list"
    assert params.dict("configoptions") == {"1": {"2": "3", "4": "5"}}
    # pid[] appends after explicit indexes, as PHP does.
    assert parse_php_pairs([("pid[5]", "a"), ("pid[]", "b")])["pid"] == {"5": "a", "6": "b"}


@pytest.mark.parametrize("word,value", [
    ("true", True), ("True", True), ("1", True), ("on", True), ("yes", True),
    ("false", False), ("False", False), ("0", False), ("off", False), ("", False),
])
def test_php_booleans(word: str, value: bool) -> None:
    assert Params({"flag": word}).bool("flag") is value


def test_form_and_multipart_posts_with_brackets(api: Any, uow: Any) -> None:
    from billow.db.models import CustomField

    uow.session.add(CustomField(type="client", relid=0, fieldname="Source"))
    uow.commit()
    form = {"action": "AddClient", **creds(api), **CLIENT, "customfields[1]": "Radio"}
    assert api.client.post(URL, data=form).json()["clientid"] == "1"
    multipart = {**form, "email": "second@example.com", "customfields[1]": "Print"}
    response = api.client.post(URL, data=multipart, files={"unused": ("note.txt", b"hello", "text/plain")})
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert response.json()["clientid"] == "2"
    details = api.ok("GetClientsDetails", clientid=2)["client"]
    assert details["customfields"] == [{"id": 1, "value": "Print"}]
    api.ok("UpdateClient", clientid=1, **{"email_preferences[invoice]": "0"})
    assert api.ok("GetClientsDetails", clientid=1)["client"]["email_preferences"]["invoice"] == "0"


# --- paging ---------------------------------------------------------------------------

def test_paging_is_exact_and_counts_are_ints(api: Any, uow: Any) -> None:
    from billow.services.clients.accounts import ClientInput, add_client

    for i in range(30):
        add_client(uow, ClientInput(values={**CLIENT, "email": f"c{i}@example.com"}))
    uow.commit()
    default = api.ok("GetClients")
    assert (default["totalresults"], default["numreturned"]) == (30, 25), "limitnum defaults to 25"
    for start, limit, ids in ((0, 1, [1]), (7, 3, [8, 9, 10]), (28, 25, [29, 30]), (30, 5, []),
                              (1000, 5, [])):
        page = api.ok("GetClients", limitstart=str(start), limitnum=str(limit))
        assert [c["id"] for c in page["clients"]["client"]] == ids
        assert page["startnumber"] == start and page["numreturned"] == len(ids)
        for key in ("totalresults", "startnumber", "numreturned"):
            assert type(page[key]) is int
    assert api.ok("GetClients", limitnum="0")["numreturned"] == 25
    assert api.ok("GetClients", limitstart="-3")["startnumber"] == 0
    assert api.error("GetClients", limitnum="ten") == "Invalid limitnum"
    far = api.ok("GetClients", limitstart="9" * 30)  # saturates as PHP's (int) does
    assert (far["numreturned"], far["startnumber"]) == (0, 2**31 - 1)
    assert api.error("GetClientsDetails", clientid="9" * 30) == "Client Not Found"


# --- robustness -----------------------------------------------------------------------

@pytest.mark.parametrize("content,content_type", [
    (b"--xx\r\ngarbage", "multipart/form-data"),
    (b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb", "multipart/form-data; boundary=xx"),
    (b"\xff\xfe=\xff&action=GetClients", "application/x-www-form-urlencoded"),
    (b"[1, 2", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"action": {"nested": 1}, "limitnum": [1]}', "application/json"),
    (b"a[[]]=1&b]=2&c[a][=3&action[]=x&limitnum[x]=1", "application/x-www-form-urlencoded"),
    (b"\x00\x01\x02", "application/octet-stream"),
])
def test_malformed_bodies_get_a_whmcs_answer(api: Any, content: bytes, content_type: str) -> None:
    response = api.client.post(URL, content=content, headers={"content-type": content_type})
    assert response.status_code in (200, 403)
    body = response.json()
    assert body["result"] == "error" and body["message"]
    assert "Traceback" not in response.text


KEYS = st.sampled_from([
    "clientid", "userid", "contactid", "email", "firstname", "country", "phonenumber", "limitstart",
    "limitnum", "status", "orderby", "sorting", "search", "stats", "customfields", "groupid",
    "currency", "skipvalidation", "owner_user_id", "customfields[1]", "email_preferences[domain]",
    "pid[]", "configoptions[1][2]", "date", "responsetype", "description", "user_id", "id",
    "password2", "notes", "sticky", "deleteusers", "email_preferences[general]", "clientemail",
])
VALUES = st.one_of(
    st.text(max_size=40), st.text(min_size=250, max_size=300),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-1", "true", "xml", "a:1:{i:1;s:1:\"x\";}", "YTox", "GB", "2026-02-30",
                     "DESC", "id", "@", "+44", "\x00", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]),
)


FOUNDATION_ACTIONS = [
    "AddClient", "GetClients", "GetClientsDetails", "UpdateClient", "DeleteClient", "CloseClient",
    "GetClientGroups", "AddClientNote", "GetContacts", "AddContact", "UpdateContact",
    "DeleteContact", "AddUser", "GetUsers", "UpdateUser", "ResetPassword", "ValidateLogin",
    "GetCurrencies", "WhmcsDetails", "GetActivityLog", "LogActivity",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(FOUNDATION_ACTIONS),
       params=st.dictionaries(KEYS, VALUES, max_size=8), xml=st.booleans())
def test_fuzzed_parameters_never_break_the_wire(
    api: Any, action: str, params: dict[str, str], xml: bool
) -> None:
    params["responsetype"] = "xml" if xml else "json"
    response = api.raw(action, **params)
    assert response.status_code == 200, response.text
    if xml:
        root = ET.fromstring(response.content)  # well-formed, whatever was stored
        body = {"result": root.findtext("result"), "message": root.findtext("message")}
    else:
        body = response.json()
    assert body["result"] in ("success", "error")
    if body["result"] == "error":
        assert body["message"] and body["message"] != "An unexpected error occurred", (params, body)


# --- one transaction per request ------------------------------------------------------

def test_a_hook_abort_after_writes_leaves_nothing(api: Any, db: Any) -> None:
    from billow.db.models import ActivityLog, ApiLog, Client, OutboxEvent, User
    from billow.events import HookAbort, registry

    def refuse(variables: dict[str, Any]) -> None:
        raise HookAbort(f"Refused {variables['email']}")

    registry.add("ClientAdd", refuse)
    assert api.error("AddClient", **CLIENT) == "Refused alan@example.com"
    for model in (Client, User, ActivityLog, OutboxEvent):
        assert count(db, model) == 0, model.__name__
    with db() as session:
        logged = session.scalars(select(ApiLog)).all()
    assert [(r.action, r.result, r.message) for r in logged] == [
        ("AddClient", "error", "Refused alan@example.com")]


def test_a_pre_hook_can_refuse(api: Any, db: Any) -> None:
    from billow.db.models import Client
    from billow.events import registry

    api.ok("AddClient", **CLIENT)
    registry.add("PreDeleteClient", lambda v: {"abortcmd": True, "message": "Clients are kept"})
    assert api.error("DeleteClient", clientid=1) == "Clients are kept"
    assert count(db, Client) == 1


def test_an_unexpected_failure_rolls_back_and_answers_generically(
    api: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billow.db.models import Client, User
    from billow.services.clients import accounts as clients

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(clients, "save_custom_fields", broken)
    response = api.raw("AddClient", **CLIENT)
    assert response.status_code == 200
    assert response.json() == {"result": "error", "message": "An unexpected error occurred"}
    assert "disk on fire" not in response.text
    assert count(db, Client) == 0 and count(db, User) == 0
    monkeypatch.undo()
    api.ok("AddClient", **CLIENT)
    assert count(db, Client) == 1
