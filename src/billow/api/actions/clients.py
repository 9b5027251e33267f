"""Client, contact and client-group actions in WHMCS's exact shapes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.api.actions._shared import onoff, page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params, as_bool
from billow.api.registry import Action
from billow.db.models import Client, Contact, User, UserClient
from billow.errors import NotFound, ValidationError
from billow.events import request_email
from billow.money import fmt
from billow.services.clients import accounts, contacts, custom_fields
from billow.services.clients import lifecycle as client_lifecycle
from billow.services.clients.accounts import CONTACT_FIELDS, FLAG_FIELDS, ClientInput
from billow.services.clients.validation import country_name, phone_parts

EMAIL_KINDS = ("general", "invoice", "support", "product", "domain", "affiliate")
#: UpdateClient parameters that map straight onto client columns.
UPDATABLE = (*CONTACT_FIELDS, "language", "notes", "status", "currency", "groupid",
             "securityqid", "securityqans")


#: Parameters WHMCS deprecated: accepted, never stored, answered with WHMCS's ``warning``.
CARD_PARAMS = ("cardtype", "cardnum", "expdate", "startdate", "issuenumber", "cvv", "bankcode",
               "bankacct")
SUBACCOUNT_PARAMS = ("subaccount", "password2", "permissions")
_CARD_DEPRECATED = ("Credit card related parameters are now deprecated and may be removed in a "
                    "future version. Use {} instead.")
CARD_WARNING_ADD = _CARD_DEPRECATED.format("AddPayMethod")
CARD_WARNING_UPDATE = _CARD_DEPRECATED.format("AddPayMethod or UpdatePayMethod")
CARD_WARNING_CLEAR = _CARD_DEPRECATED.format("DeletePayMethod")
SUBACCOUNT_WARNING_ADD = "Sub Accounts are no longer supported. Please use AddUser and CreateClientInvite"
SUBACCOUNT_WARNING_UPDATE = "Sub Accounts are no longer supported. Please use UpdateUser"


def _warn(result: dict[str, Any], params: Params, names: tuple[str, ...], text: str) -> dict[str, Any]:
    """Add WHMCS's deprecation ``warning`` when any of *names* was sent."""
    if any(params.has(name) for name in names):
        result["warning"] = text
    return result


def _custom_fields(params: Params) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.php_array("customfields").items()}


def _email_preferences(params: Params) -> dict[str, bool]:
    given = params.dict("email_preferences")
    return {k: as_bool(given[k]) for k in EMAIL_KINDS if k in given}


def _client_from_params(params: Params, ctx: Context) -> Client:
    client_id = params.int("clientid")
    if client_id:
        return accounts.get_client(ctx.uow, client_id)
    email = params.str("clientemail") or params.str("email")
    if email:
        client = accounts.find_client_by_email(ctx.uow, email)
        if client is not None:
            return client
    raise NotFound("Client ID Not Found")


def add_client(ctx: Context, params: Params) -> dict[str, Any]:
    values: dict[str, Any] = {k: params.str(k) for k in CONTACT_FIELDS}
    values.update(
        currency=params.int("currency"), groupid=params.int("groupid"),
        language=params.str("language"), notes=params.str("notes"),
        securityqid=params.int("securityqid"), securityqans=params.str("securityqans"),
        ip=params.str("clientip"),
        marketing_emails_opt_in=params.bool("marketingoptin"),
    )
    client = accounts.add_client(
        ctx.uow,
        ClientInput(values=values, custom_fields=_custom_fields(params)),
        skip_validation=params.bool("skipvalidation"),
        password=params.str("password2"),
        owner_user_id=params.int("owner_user_id") or None,
    )
    if not params.bool("noemail"):
        request_email(ctx.uow, "Client Signup Email", client.id)
    return _warn({"clientid": str(client.id)}, params, CARD_PARAMS, CARD_WARNING_ADD)


def get_clients(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = accounts.list_clients(
        ctx.uow,
        search=params.str("search"),
        status=params.str("status"),
        orderby=params.str("orderby") or "id",
        descending=params.str("sorting").upper() == "DESC",
        offset=start,
        limit=limit,
    )
    # Rows unpack in list_clients' column order (cheaper than attribute access per field).
    items = [
        {"id": cid, "firstname": first, "lastname": last, "companyname": company, "email": email,
         "datecreated": created.isoformat() if created else "0000-00-00",
         "groupid": group, "status": status}
        for cid, first, last, company, email, created, group, status in rows
    ]
    return page(total, start, "clients", "client", items)


def client_details(ctx: Context, client: Client) -> dict[str, Any]:
    """The ``client`` object of ``GetClientsDetails`` (also used by other areas' details)."""
    phonecc, local, formatted = phone_parts(client.phonenumber, client.country)
    prefs = {k: "1" if (client.email_preferences or {}).get(k, True) else "0" for k in EMAIL_KINDS}
    fields = custom_fields.custom_field_values(ctx.uow, "client", client.id)
    users = ctx.session.execute(
        select(User, UserClient.owner).join(UserClient, UserClient.user_id == User.id)
        .where(UserClient.client_id == client.id).order_by(User.id)
    ).all()
    lastlogin = (
        f"Date: {client.lastlogin.strftime('%d/%m/%Y %H:%M')}<br>IP Address: {client.ip}<br>"
        f"Host: {client.host}" if client.lastlogin else "No Login Logged"
    )
    data: dict[str, Any] = {
        "userid": client.id, "client_id": client.id, "id": client.id,
        "owner_user_id": client.owner_user_id or 0, "uuid": client.uuid,
        "firstname": client.firstname, "lastname": client.lastname,
        "fullname": client.fullname, "companyname": client.companyname,
        "email": client.email, "address1": client.address1, "address2": client.address2,
        "city": client.city, "fullstate": client.state, "state": client.state,
        "statecode": client.state, "postcode": client.postcode,
        "countrycode": client.country, "country": client.country,
        "countryname": country_name(client.country),
        "phonecc": phonecc, "phonenumber": local,
        "phonenumberformatted": formatted, "telephoneNumber": formatted,
        "tax_id": client.tax_id, "billingcid": client.billingcid,
        "groupid": client.group_id,
        "status": client.status, "credit": fmt(client.credit),
        "taxexempt": client.taxexempt, "latefeeoveride": client.latefeeoveride,
        "overideduenotices": client.overideduenotices,
        "separateinvoices": client.separateinvoices, "disableautocc": client.disableautocc,
        "emailoptout": client.emailoptout,
        "marketing_emails_opt_in": client.marketing_emails_opt_in,
        "isOptedInToMarketingEmails": client.marketing_emails_opt_in,
        "overrideautoclose": client.overrideautoclose,
        "allowSingleSignOn": 1 if client.allow_sso else 0,
        "email_verified": client.email_verified,
        "language": client.language, "lastlogin": lastlogin,
        "currency": client.currency_id,
        "currency_code": client.currency.code if client.currency else "",
        "defaultgateway": client.defaultgateway, "notes": client.notes,
        "email_preferences": prefs,
        "customfields": [{"id": d.id, "value": v} for d, v in fields],
        "users": {"user": [
            {"id": u.id, "name": f"{u.firstname} {u.lastname}".strip(), "email": u.email,
             "is_owner": bool(owner)}
            for u, owner in users
        ]},
    }
    for index, (_definition, value) in enumerate(fields, start=1):
        data[f"customfields{index}"] = value
    return data


def get_clients_details(ctx: Context, params: Params) -> dict[str, Any]:
    client_id, email = params.int("clientid"), params.str("email")
    if not client_id and not email:
        raise ValidationError("Either clientid Or email Is Required")
    client = (
        ctx.session.get(Client, client_id) if client_id
        else accounts.find_client_by_email(ctx.uow, email)
    )
    if client is None:
        raise NotFound("Client Not Found")
    details = client_details(ctx, client)
    # WHMCS still copies the client's fields to the top level (deprecated, but older
    # integrations read ``$result['email']``), so both spellings are answered.
    result: dict[str, Any] = {**details, "client": details}
    if params.bool("stats"):
        result["stats"] = client_lifecycle.client_stats(ctx.uow, client)
    return result


def update_client(ctx: Context, params: Params) -> dict[str, Any]:
    client = _client_from_params(params, ctx)
    values: dict[str, Any] = {}
    for key in UPDATABLE:
        if params.has(key):
            values[key] = params.int(key) if key in ("currency", "groupid", "securityqid") \
                else params.str(key)
    if params.has("paymentmethod"):
        values["defaultgateway"] = params.str("paymentmethod")
    if params.has("clientip"):
        values["ip"] = params.str("clientip")
    if params.has("marketingoptin"):
        values["marketing_emails_opt_in"] = params.bool("marketingoptin")
    for flag in FLAG_FIELDS:
        if params.has(flag):
            values[flag] = params.bool(flag)
    prefs = _email_preferences(params)
    if prefs.get("domain") is False:
        merged = {**(client.email_preferences or {}), **prefs}
        if not merged.get("domain") and not _any_contact_gets_domain_mail(ctx, client):
            raise ValidationError(
                "You must have at least one email address enabled to receive domain related "
                "notifications as required by ICANN. To disable domain notifications, please "
                "create an alternative contact that is set to receive them"
            )
    accounts.update_client(
        ctx.uow, client.id,
        ClientInput(values=values, custom_fields=_custom_fields(params), email_preferences=prefs),
        skip_validation=params.bool("skipvalidation"),
    )
    result = _warn({"clientid": str(client.id)}, params, CARD_PARAMS, CARD_WARNING_UPDATE)
    return _warn(result, params, ("clearcreditcard",), CARD_WARNING_CLEAR)


def _any_contact_gets_domain_mail(ctx: Context, client: Client) -> bool:
    rows = ctx.session.scalars(select(Contact).where(Contact.client_id == client.id))
    return any((c.email_preferences or {}).get("domain", True) for c in rows)


def delete_client(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = client_lifecycle.delete_client(
        ctx.uow, params.int("clientid"),
        delete_users=params.bool("deleteusers"),
        delete_transactions=params.bool("deletetransactions"),
    )
    return {"clientid": str(client_id)}


def close_client(ctx: Context, params: Params) -> dict[str, Any]:
    client = client_lifecycle.close_client(ctx.uow, params.int("clientid"))
    return {"clientid": client.id}


def get_client_groups(ctx: Context, params: Params) -> dict[str, Any]:
    groups = [
        {"id": g.id, "groupname": g.groupname, "groupcolour": g.groupcolour,
         "discountpercent": fmt(g.discountpercent), "susptermexempt": onoff(g.susptermexempt),
         "separateinvoices": onoff(g.separateinvoices)}
        for g in accounts.list_groups(ctx.uow)
    ]
    return {"totalresults": len(groups), "groups": {"group": groups}}


def add_client_note(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = params.int("userid") or params.int("clientid")
    if not client_id or ctx.session.get(Client, client_id) is None:
        raise NotFound("Client ID not found")
    note = accounts.add_note(ctx.uow, client_id, params.str("notes"), sticky=params.bool("sticky"))
    return {"noteid": str(note.id)}


def _contact_values(params: Params) -> dict[str, Any]:
    return {k: params.str(k) for k in CONTACT_FIELDS if params.has(k)}


def _legacy_email_flags(params: Params) -> dict[str, bool]:
    """Pre-7.10 spellings (``generalemails=1``) still sent by older integrations."""
    prefs = _email_preferences(params)
    for kind in EMAIL_KINDS:
        if f"{kind}emails" in params and kind not in prefs:
            prefs[kind] = params.bool(f"{kind}emails")
    return prefs


def add_contact(ctx: Context, params: Params) -> dict[str, Any]:
    contact = contacts.add_contact(
        ctx.uow, params.int("clientid"), _contact_values(params), _legacy_email_flags(params)
    )
    return _warn({"contactid": str(contact.id)}, params, SUBACCOUNT_PARAMS, SUBACCOUNT_WARNING_ADD)


def update_contact(ctx: Context, params: Params) -> dict[str, Any]:
    contact = contacts.update_contact(
        ctx.uow, params.int("contactid"), _contact_values(params), _legacy_email_flags(params)
    )
    return _warn({"contactid": str(contact.id)}, params, SUBACCOUNT_PARAMS, SUBACCOUNT_WARNING_UPDATE)


def delete_contact(ctx: Context, params: Params) -> dict[str, Any]:
    return {"contactid": str(contacts.delete_contact(ctx.uow, params.int("contactid")))}


def get_contacts(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    filters = {k: params.str(k) for k in ("userid", *CONTACT_FIELDS) if params.str(k)}
    if "userid" in filters:
        filters["userid"] = str(params.int("userid", error="Invalid userid"))
    total, rows = contacts.list_contacts(ctx.uow, filters, start, limit)
    items = []
    for c in rows:
        prefs = c.email_preferences or {}
        item: dict[str, Any] = {"id": c.id, "userid": c.client_id}
        item.update({k: getattr(c, k) for k in CONTACT_FIELDS})
        item.update({f"{k}emails": bool(prefs.get(k, True)) for k in EMAIL_KINDS})
        item["created_at"] = whmcs_datetime(c.created_at)
        item["updated_at"] = whmcs_datetime(c.updated_at)
        items.append(item)
    return page(total, start, "contacts", "contact", items)


ACTIONS = [
    Action("AddClient", add_client),
    Action("GetClients", get_clients),
    Action("GetClientsDetails", get_clients_details),
    Action("UpdateClient", update_client),
    Action("DeleteClient", delete_client),
    Action("CloseClient", close_client),
    Action("GetClientGroups", get_client_groups),
    Action("AddClientNote", add_client_note),
    Action("GetContacts", get_contacts),
    Action("AddContact", add_contact),
    Action("UpdateContact", update_contact),
    Action("DeleteContact", delete_contact),
]
