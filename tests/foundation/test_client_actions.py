"""Client, contact and client-group actions: WHMCS's shapes and what they change."""

from __future__ import annotations

import base64
from typing import Any

import phpserialize
from foundation_helpers import NEW_CLIENT, php_b64
from sqlalchemy import select

from billow.api.params import decode_php_array, encode_php_array
from whmcs_shapes import assert_whmcs_shape, example_response

#: GetContacts answers the contact's company and tax id too (WHMCS's example omits them).
CONTACT_EXTRA = ("$.contacts.contact[].companyname", "$.contacts.contact[].tax_id")


def _rows(db: Any, model: Any, *where: Any) -> list[Any]:
    with db() as session:
        return list(session.scalars(select(model).where(*where)))


def _custom_field(uow: Any, name: str, **kw: Any) -> int:
    from billow.db.models import CustomField

    field = CustomField(type="client", relid=0, fieldname=name, **kw)
    uow.session.add(field)
    uow.session.flush()
    uow.commit()
    return field.id


# --- AddClient ------------------------------------------------------------------------

def test_add_client_shape_and_record(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import ActivityLog, Client, OutboxEvent, User, UserClient

    body = api.ok("AddClient", **{**NEW_CLIENT, "country": "gb", "email": " Alan@Example.com ",
                                  "phonenumber": "01908 640404", "groupid": "2", "currency": "3",
                                  "companyname": "Bombe Ltd", "tax_id": "GB123", "notes": "vip"})
    assert_whmcs_shape("AddClient", body)
    client = _rows(db, Client, Client.id == int(body["clientid"]))[0]
    assert (client.country, client.email, client.phonenumber) == ("GB", "Alan@example.com", "+441908640404")
    assert (client.group_id, client.currency_id, client.companyname, client.tax_id) == (
        2, 3, "Bombe Ltd", "GB123")
    owner = _rows(db, User, User.id == client.owner_user_id)[0]
    assert owner.email == "Alan@example.com" and owner.password_hash == ""
    assert _rows(db, UserClient, UserClient.client_id == client.id)[0].owner is True
    assert any("Created Client Alan Turing" in a.description
               for a in _rows(db, ActivityLog, ActivityLog.userid == client.id))
    events = [e.name for e in _rows(db, OutboxEvent, OutboxEvent.resource_id == client.id)]
    assert "ClientAdd" in events and "EmailRequested" in events


def test_add_client_noemail_and_password_and_owner(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import OutboxEvent, User, UserClient

    body = api.ok("AddClient", **NEW_CLIENT, noemail="true", password2="Enigma-1940")
    client_id = int(body["clientid"])
    assert not _rows(db, OutboxEvent, OutboxEvent.name == "EmailRequested",
                     OutboxEvent.resource_id == client_id)
    assert api.ok("ValidateLogin", email="alan@example.com", password2="Enigma-1940")
    # A second client owned by an existing user: no new user is made.
    users_before = len(_rows(db, User))
    second = api.ok("AddClient", **{**NEW_CLIENT, "email": "bombe@example.com"}, owner_user_id="1")
    assert len(_rows(db, User)) == users_before
    links = _rows(db, UserClient, UserClient.client_id == int(second["clientid"]))
    assert [(link.user_id, link.owner) for link in links] == [(1, True)]


def test_add_client_skipvalidation(api: Any, demo: Any) -> None:
    body = api.ok("AddClient", firstname="Only", email="only@example.com", skipvalidation="1")
    details = api.ok("GetClientsDetails", clientid=body["clientid"])["client"]
    assert (details["firstname"], details["address1"], details["country"]) == ("Only", "", "")
    # The e-mail address stays required even then (WHMCS: not covered by skipvalidation).
    message = api.error("AddClient", firstname="No", skipvalidation="1")
    assert message == "You did not enter your email address"


def test_add_client_required_custom_field(api: Any, demo: Any, uow: Any) -> None:
    _custom_field(uow, "Heard from", required=True)
    message = api.error("AddClient", **NEW_CLIENT)
    assert message == "You did not provide required custom field value for Heard from"
    assert message.startswith("You did not provide required custom field value for")
    assert api.ok("AddClient", **NEW_CLIENT, skipvalidation="true")


def test_custom_fields_through_base64_serialised_arrays(api: Any, demo: Any, uow: Any) -> None:
    source = _custom_field(uow, "Heard from")
    size = _custom_field(uow, "Team size", regexpr="/^[0-9]+$/", sortorder=1)
    body = api.ok("AddClient", **NEW_CLIENT, customfields=php_b64({source: "Google", size: "12"}))
    details = api.ok("GetClientsDetails", clientid=body["clientid"])
    client = details["client"]
    assert client["customfields"] == [{"id": source, "value": "Google"}, {"id": size, "value": "12"}]
    assert (client["customfields1"], client["customfields2"]) == ("Google", "12")
    # PHP's own output for array(1 => "Bing") (what a PHP integration sends), and a
    # nested form post (customfields[1]=...) both update the value.
    php_literal = base64.b64encode(b'a:1:{i:' + str(source).encode() + b';s:4:"Bing";}').decode()
    api.ok("UpdateClient", clientid=body["clientid"], customfields=php_literal)
    api.ok("UpdateClient", clientid=body["clientid"], **{f"customfields[{size}]": "40"})
    client = api.ok("GetClientsDetails", clientid=body["clientid"])["client"]
    assert [f["value"] for f in client["customfields"]] == ["Bing", "40"]
    assert api.error("UpdateClient", clientid=body["clientid"],
                     customfields=php_b64({size: "many"})) == "The value for Team size is not valid"
    assert api.error("UpdateClient", clientid=body["clientid"],
                     customfields=php_b64({999: "x"})) == "Invalid custom field id 999"
    assert api.error("UpdateClient", clientid=body["clientid"],
                     customfields="not base64 or php") == "Invalid serialized array"


def test_php_array_encoding_round_trip() -> None:
    # Byte-for-byte what PHP's base64_encode(serialize(array(1 => "Google", 7 => "x"))) gives.
    php = base64.b64encode(b'a:2:{i:1;s:6:"Google";i:7;s:1:"x";}').decode()
    assert decode_php_array(php) == {"1": "Google", "7": "x"}
    assert encode_php_array({1: "Google", 7: "x"}) == php
    assert phpserialize.loads(base64.b64decode(encode_php_array({"a": {"b": "c"}})),
                              decode_strings=True) == {"a": {"b": "c"}}
    assert decode_php_array('{"3": "json too"}') == {"3": "json too"}


# --- GetClients -----------------------------------------------------------------------

def test_get_clients_shape_and_paging(api: Any, demo: Any) -> None:
    body = api.ok("GetClients")
    assert_whmcs_shape("GetClients", body)
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (4, 0, 4)
    page = api.ok("GetClients", limitstart="1", limitnum="2")
    assert [c["id"] for c in page["clients"]["client"]] == [2, 3]
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (4, 1, 2)
    last = api.ok("GetClients", limitstart="3", limitnum="2")
    assert [c["id"] for c in last["clients"]["client"]] == [4]
    past = api.ok("GetClients", limitstart="4", limitnum="2")
    assert (past["numreturned"], past["clients"]) == (0, {"client": []})


def test_get_clients_pages_until_numreturned_is_zero(api: Any, demo: Any) -> None:
    seen, start = [], 0
    while True:
        page = api.ok("GetClients", limitstart=start, limitnum=3)
        if page["numreturned"] == 0:
            break
        seen += [c["id"] for c in page["clients"]["client"]]
        start += page["numreturned"]
    assert seen == [1, 2, 3, 4]


def test_get_clients_search_status_and_order(api: Any, demo: Any) -> None:
    def ids(**params: Any) -> list[int]:
        return [c["id"] for c in api.ok("GetClients", **params)["clients"]["client"]]

    assert ids(search="gra") == [2]              # first name prefix
    assert ids(search="Hopper") == [2]           # last name
    assert ids(search="Grace Hop") == [2]        # full name
    assert ids(search="Pauling L") == [3]        # company name
    assert ids(search="marie@") == [4]           # e-mail
    assert ids(search="race") == []              # the start only, as WHMCS
    assert ids(sorting="DESC") == [4, 3, 2, 1]
    assert ids(orderby="email") == [1, 2, 3, 4]  # ada, grace, linus, marie
    assert ids(orderby="firstname", sorting="desc") == [4, 3, 2, 1]
    api.ok("CloseClient", clientid=2)
    assert ids(status="Closed") == [2]
    assert ids(status="Active") == [1, 3, 4]


# --- GetClientsDetails ----------------------------------------------------------------

def test_get_clients_details_shape(api: Any, demo: Any, uow: Any) -> None:
    _custom_field(uow, "Heard from")
    api.ok("UpdateClient", clientid=1, customfields=php_b64({1: "Radio"}))
    body = api.ok("GetClientsDetails", clientid=1, stats="true")
    client = body["client"]
    top_level = {k for k in client if k not in example_response("GetClientsDetails")}
    assert_whmcs_shape("GetClientsDetails", body, extra={f"$.{k}" for k in top_level})
    assert all(body[k] == client[k] for k in top_level)
    assert (client["id"], client["userid"], client["client_id"]) == (1, 1, 1)
    assert (client["countryname"], client["phonecc"], client["phonenumberformatted"]) == (
        "United Kingdom", "44", "+44.2079460958")
    assert client["currency_code"] == "USD" and client["groupid"] == 1
    assert client["users"]["user"] == [
        {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "is_owner": True}]
    assert client["lastlogin"] == "No Login Logged"
    assert body["stats"]["creditbalance"] == "$0.00 USD" and body["stats"]["numtickets"] == 0


def test_get_clients_details_by_email_and_without_stats(api: Any, demo: Any) -> None:
    body = api.ok("GetClientsDetails", email="GRACE@example.org")
    assert body["client"]["id"] == 2 and "stats" not in body
    assert body["client"]["email_preferences"] == {k: "1" for k in (
        "general", "invoice", "support", "product", "domain", "affiliate")}


def test_stats_format_money_in_the_client_currency(api: Any, demo: Any, uow: Any) -> None:
    from decimal import Decimal

    from billow.db.models import Client

    client = uow.session.get(Client, 4)
    client.currency_id, client.credit = 2, Decimal("1234.5")
    uow.commit()
    stats = api.ok("GetClientsDetails", clientid=4, stats=1)["stats"]
    assert stats["creditbalance"] == "€1.234,50 EUR"
    assert stats["incredit"] is True and stats["income"] == "€0,00 EUR"


# --- UpdateClient ---------------------------------------------------------------------

def test_update_client_changes_only_what_is_sent(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import ActivityLog, Client

    body = api.ok("UpdateClient", clientid=2, city="Washington", phonenumber="(703) 555-0100",
                  taxexempt="true", latefeeoveride="on", status="Inactive", groupid="2",
                  paymentmethod="paypal", marketingoptin="1",
                  **{"email_preferences[invoice]": "0"})
    assert_whmcs_shape("UpdateClient", body)
    assert body["clientid"] == "2"
    client = _rows(db, Client, Client.id == 2)[0]
    assert (client.city, client.phonenumber, client.state) == ("Washington", "+17035550100", "Virginia")
    assert (client.taxexempt, client.latefeeoveride, client.separateinvoices) == (True, True, False)
    assert (client.status, client.group_id, client.defaultgateway) == ("Inactive", 2, "paypal")
    assert client.marketing_emails_opt_in is True
    assert client.email_preferences["invoice"] is False and client.email_preferences["domain"] is True
    assert any(a.description.startswith("Client Profile Modified")
               for a in _rows(db, ActivityLog, ActivityLog.userid == 2))


def test_update_client_by_email_and_clear_flags(api: Any, demo: Any) -> None:
    api.ok("UpdateClient", clientemail="marie@example.fr", taxexempt="1")
    body = api.ok("UpdateClient", clientemail="marie@example.fr", taxexempt="false", email="m@example.fr")
    assert body["clientid"] == "4"
    client = api.ok("GetClientsDetails", clientid=4)["client"]
    assert client["taxexempt"] is False and client["email"] == "m@example.fr"
    assert api.error("UpdateClient", clientid=4, status="Gone") == "Invalid Status"


def test_update_client_domain_mail_allowed_with_a_contact(api: Any, demo: Any) -> None:
    # Ada has a contact (Charles) who receives domain e-mail: ICANN is satisfied.
    api.ok("UpdateClient", clientid=1, **{"email_preferences[domain]": "0"})
    assert api.ok("GetClientsDetails", clientid=1)["client"]["email_preferences"]["domain"] == "0"


# --- DeleteClient / CloseClient -------------------------------------------------------

def test_delete_client(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import Client, Contact, User

    body = api.ok("DeleteClient", clientid=3)
    assert_whmcs_shape("DeleteClient", body)
    assert body["clientid"] == "3"
    assert not _rows(db, Client, Client.id == 3) and not _rows(db, Contact, Contact.client_id == 3)
    assert _rows(db, User, User.email == "linus@example.net"), "users stay without deleteusers"
    api.ok("DeleteClient", clientid=2, deleteusers="1")
    assert not _rows(db, User, User.email == "grace@example.org")
    assert api.error("GetClientsDetails", clientid=3) == "Client Not Found"


def test_close_client(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import ActivityLog

    body = api.ok("CloseClient", clientid=4)
    assert_whmcs_shape("CloseClient", body)
    assert api.ok("GetClientsDetails", clientid=4)["client"]["status"] == "Closed"
    assert any("Closed" in a.description for a in _rows(db, ActivityLog, ActivityLog.userid == 4))


# --- groups and notes -----------------------------------------------------------------

def test_get_client_groups(api: Any, demo: Any) -> None:
    body = api.ok("GetClientGroups")
    assert_whmcs_shape("GetClientGroups", body)
    assert body["totalresults"] == 2
    assert body["groups"]["group"][0] == {
        "id": 1, "groupname": "Resellers", "groupcolour": "#28C99B", "discountpercent": "10.00",
        "susptermexempt": "", "separateinvoices": "on"}
    assert body["groups"]["group"][1]["susptermexempt"] == "on"


def test_add_client_note(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import ClientNote

    body = api.ok("AddClientNote", userid=2, notes="Called about renewal", sticky="1")
    assert_whmcs_shape("AddClientNote", body)
    note = _rows(db, ClientNote, ClientNote.id == int(body["noteid"]))[0]
    assert (note.client_id, note.note, note.sticky, note.admin_id) == (2, "Called about renewal", True, 1)


# --- contacts -------------------------------------------------------------------------

def test_get_contacts(api: Any, demo: Any) -> None:
    body = api.ok("GetContacts")
    assert_whmcs_shape("GetContacts", body, extra=CONTACT_EXTRA)
    assert (body["totalresults"], body["numreturned"]) == (2, 2)
    ava = api.ok("GetContacts", userid=3)["contacts"]["contact"]
    assert [(c["id"], c["supportemails"], c["invoiceemails"]) for c in ava] == [(2, False, True)]
    assert api.ok("GetContacts", limitstart=1, limitnum=1)["contacts"]["contact"][0]["id"] == 2
    assert api.ok("GetContacts", email="charles@example.com")["totalresults"] == 1
    assert api.ok("GetContacts", userid=4)["contacts"] == {"contact": []}


def test_add_update_delete_contact(api: Any, demo: Any) -> None:
    body = api.ok("AddContact", clientid=4, firstname="Pierre", lastname="Curie",
                  email="pierre@example.fr", country="fr", phonenumber="01 44 27 00 01",
                  **{"email_preferences[general]": "0", "email_preferences[invoice]": "true"})
    assert_whmcs_shape("AddContact", body)
    contact_id = int(body["contactid"])
    got = api.ok("GetContacts", userid=4)["contacts"]["contact"][0]
    assert (got["id"], got["country"], got["phonenumber"]) == (contact_id, "FR", "+33144270001")
    assert (got["generalemails"], got["invoiceemails"]) == (False, True)
    updated = api.ok("UpdateContact", contactid=contact_id, city="Paris", generalemails="1")
    assert_whmcs_shape("UpdateContact", updated)
    got = api.ok("GetContacts", userid=4)["contacts"]["contact"][0]
    assert (got["city"], got["firstname"], got["generalemails"]) == ("Paris", "Pierre", True)
    deleted = api.ok("DeleteContact", contactid=contact_id)
    assert_whmcs_shape("DeleteContact", deleted)
    assert deleted["contactid"] == str(contact_id)
    assert api.ok("GetContacts", userid=4)["totalresults"] == 0


# --- deprecated parameters --------------------------------------------------------------

def test_deprecated_card_and_subaccount_parameters_warn(api: Any, demo: Any, db: Any) -> None:
    from billow.db.models import Client

    added = api.ok("AddClient", **NEW_CLIENT, cardtype="Visa", cardnum="4111111111111111", cvv="123")
    assert added["warning"] == ("Credit card related parameters are now deprecated and may be removed "
                                "in a future version. Use AddPayMethod instead.")
    assert "4111111111111111" not in repr(_rows(db, Client, Client.id == int(added["clientid"]))[0].__dict__)
    updated = api.ok("UpdateClient", clientid=1, cardnum="4111111111111111")
    assert updated["warning"].endswith("Use AddPayMethod or UpdatePayMethod instead.")
    assert api.ok("UpdateClient", clientid=1, clearcreditcard="1")["warning"].endswith(
        "Use DeletePayMethod instead.")
    assert "warning" not in api.ok("UpdateClient", clientid=1, city="Bath")
    contact = api.ok("AddContact", clientid=1, firstname="Sub", subaccount="1", password2="x-y-z-123")
    assert contact["warning"] == ("Sub Accounts are no longer supported. Please use AddUser and "
                                  "CreateClientInvite")
    assert api.ok("UpdateContact", contactid=contact["contactid"], permissions="profile")["warning"] == (
        "Sub Accounts are no longer supported. Please use UpdateUser")
