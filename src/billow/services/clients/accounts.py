"""Clients (billing accounts): adding, updating, finding and listing them, their groups and notes.

Custom field values are checked and stored through :mod:`billow.services.clients.custom_fields`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select

from billow.db.models import (
    Client,
    ClientGroup,
    ClientNote,
    Currency,
    User,
    UserClient,
)
from billow.db.models.clients import DEFAULT_EMAIL_PREFERENCES
from billow.errors import NotFound, ValidationError
from billow.services.activity import log_activity
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.clients.users import create_user, user_email_taken
from billow.services.clients.validation import (
    check_lengths,
    normalise_country,
    normalise_email,
    normalise_phone,
)
from billow.uow import UnitOfWork

CLIENT_STATUSES = ("Active", "Inactive", "Closed")

SORTABLE = {
    "id": Client.id,
    "firstname": Client.firstname,
    "lastname": Client.lastname,
    "companyname": Client.companyname,
    "email": Client.email,
    "groupid": Client.group_id,
    "datecreated": Client.datecreated,
    "status": Client.status,
}


#: Fields AddClient requires, with WHMCS's message for each (unless ``skipvalidation``).
REQUIRED = (
    ("firstname", "You did not enter your first name"),
    ("lastname", "You did not enter your last name"),
    ("address1", "You did not enter your  address line 1"),
    ("city", "You did not enter your city"),
    ("state", "You did not enter your state"),
    ("postcode", "You did not enter your postcode"),
    ("phonenumber", "You did not enter your phone number"),
)


CONTACT_FIELDS = (
    "firstname", "lastname", "companyname", "email", "address1", "address2", "city",
    "state", "postcode", "country", "phonenumber", "tax_id",
)


FLAG_FIELDS = (
    "taxexempt", "latefeeoveride", "overideduenotices", "separateinvoices", "disableautocc",
    "emailoptout", "marketing_emails_opt_in", "overrideautoclose", "allow_sso",
)


@dataclass
class ClientInput:
    """Plain input for creating or updating a client (``None`` = leave unchanged)."""

    values: dict[str, Any] = field(default_factory=dict)
    custom_fields: dict[str, str] = field(default_factory=dict)
    email_preferences: dict[str, bool] = field(default_factory=dict)


_DEFAULT_CURRENCY = select(Currency).where(Currency.is_default.is_(True))

def default_currency(uow: UnitOfWork) -> Currency:
    currency = uow.session.scalar(_DEFAULT_CURRENCY)
    if currency is None:
        currency = uow.session.scalar(select(Currency).order_by(Currency.id))
    if currency is None:
        currency = Currency(code="USD", prefix="$", suffix=" USD", format=1, is_default=True)
        uow.session.add(currency)
        uow.session.flush()
    return currency


def get_client(uow: UnitOfWork, client_id: int, *, message: str = "Client ID Not Found") -> Client:
    client = uow.session.get(Client, client_id) if client_id else None
    if client is None:
        raise NotFound(message, code="client_not_found")
    return client


def find_client_by_email(uow: UnitOfWork, email: str) -> Client | None:
    return uow.session.scalar(
        select(Client).where(func.lower(Client.email) == email.strip().lower()).limit(1)
    )


# Built once: these run on every AddClient/UpdateClient.
_EMAIL_IN_USE = (select(Client.id).where(func.lower(Client.email) == bindparam("email"),
                                         Client.id != bindparam("exclude")).limit(1))


def email_in_use(uow: UnitOfWork, email: str, *, exclude_client: int | None = None) -> bool:
    found = uow.session.connection().execute(
        _EMAIL_IN_USE, {"email": email.lower(), "exclude": exclude_client or 0}
    ).scalar()
    return found is not None


def _validated_contact(values: dict[str, Any], *, skip: bool, partial: bool) -> dict[str, Any]:
    """Check and normalise contact fields; *partial* checks only what was given."""
    out = dict(values)
    if not skip:
        for key, message in REQUIRED:
            if (not partial or key in values) and not str(values.get(key) or "").strip():
                raise ValidationError(message, code="required_field_missing")
    if "email" in values or not partial:
        # WHMCS words the same refusal differently in AddClient and UpdateClient.
        invalid = ("The email address entered is not valid" if partial
                   else "The email address you entered was not valid")
        out["email"] = normalise_email(str(values.get("email") or ""), invalid_message=invalid)
    if "country" in values or not partial:
        country = str(values.get("country") or "")
        out["country"] = normalise_country(country) if (country or not skip) else ""
    if "phonenumber" in values and values.get("phonenumber"):
        country = str(out.get("country") or values.get("_country_for_phone") or "")
        out["phonenumber"] = normalise_phone(str(values["phonenumber"]), country)
    out.pop("_country_for_phone", None)
    return out


def add_client(
    uow: UnitOfWork,
    data: ClientInput,
    *,
    skip_validation: bool = False,
    password: str = "",
    owner_user_id: int | None = None,
) -> Client:
    """Create a client and, unless an owner user is given, its owner user login."""
    values = _validated_contact(data.values, skip=skip_validation, partial=False)
    if email_in_use(uow, values["email"]):
        raise ValidationError("The email address entered is not available for use.", code="email_in_use")
    currency_id = int(values.pop("currency", 0) or 0)
    currency = uow.session.get(Currency, currency_id) if currency_id else default_currency(uow)
    if currency is None:
        raise ValidationError("Invalid Currency ID", code="currency_not_found")
    group_id = int(values.pop("groupid", 0) or 0)
    if group_id and uow.session.get(ClientGroup, group_id) is None:
        raise ValidationError("Invalid Client Group ID", code="client_group_not_found")
    owner: User | None = None
    if owner_user_id:
        owner = uow.session.get(User, owner_user_id)
        if owner is None:
            raise ValidationError("Invalid Owner User ID", code="owner_user_not_found")
    elif user_email_taken(uow, values["email"]):
        raise ValidationError("A user already exists with that email address", code="user_email_in_use")
    check_custom_fields(uow, data.custom_fields, required=not skip_validation)

    check_lengths(Client, values)
    if owner is None:
        # The owner login first, so the client row is written once with its owner.

        owner = create_user(
            uow, str(values.get("firstname") or ""), str(values.get("lastname") or ""),
            values["email"], password, language=str(values.get("language") or ""),
            validated=True,
        )
    client = Client(currency_id=currency.id, group_id=group_id, datecreated=uow.today,
                    owner_user_id=owner.id)
    _apply(client, values)
    prefs = dict(DEFAULT_EMAIL_PREFERENCES)
    prefs.update(data.email_preferences)
    client.email_preferences = prefs
    uow.session.add(client)
    uow.session.flush()
    uow.session.add(UserClient(user_id=owner.id, client_id=client.id, owner=True, permissions="all"))
    save_custom_fields(uow, "client", client.id, data.custom_fields)
    log_activity(uow, f"Created Client {client.fullname} - User ID: {client.id}", client_id=client.id)
    uow.emit("ClientAdd", client_hook_vars(client, customFields=dict(data.custom_fields)),
             resource_type="client", resource_id=client.id)
    return client


def update_client(
    uow: UnitOfWork, client_id: int, data: ClientInput, *, skip_validation: bool = False
) -> Client:
    client = get_client(uow, client_id)
    olddata = client_hook_vars(client)
    values = dict(data.values)
    if "phonenumber" in values:
        values["_country_for_phone"] = values.get("country") or client.country
    values = _validated_contact(values, skip=skip_validation, partial=True)
    if "email" in values and email_in_use(uow, values["email"], exclude_client=client.id):
        raise ValidationError("Duplicate Email Address", code="email_in_use")
    if "currency" in values:
        currency_id = int(values.pop("currency") or 0)
        if uow.session.get(Currency, currency_id) is None:
            raise ValidationError("Invalid Currency ID", code="currency_not_found")
        client.currency_id = currency_id
    if "groupid" in values:
        group_id = int(values.pop("groupid") or 0)
        if group_id and uow.session.get(ClientGroup, group_id) is None:
            raise ValidationError("Invalid Client Group ID", code="client_group_not_found")
        client.group_id = group_id
    if "status" in values and values["status"] not in CLIENT_STATUSES:
        raise ValidationError("Invalid Status", code="invalid_client_status")
    check_custom_fields(uow, data.custom_fields, required=False)
    before = {k: getattr(client, k) for k in values if hasattr(client, k)}
    _apply(client, values)
    if data.email_preferences:
        prefs = dict(client.email_preferences or DEFAULT_EMAIL_PREFERENCES)
        prefs.update(data.email_preferences)
        client.email_preferences = prefs
    save_custom_fields(uow, "client", client.id, data.custom_fields)
    changed = [k for k, v in before.items() if getattr(client, k) != v]
    if changed or data.custom_fields:
        log_activity(uow, f"Client Profile Modified - {', '.join(changed) or 'custom fields'} - "
                          f"User ID: {client.id}", client_id=client.id)
    uow.emit("ClientEdit", client_hook_vars(client, olddata=olddata), resource_type="client",
             resource_id=client.id)
    return client


def _apply(client: Client, values: dict[str, Any]) -> None:
    check_lengths(Client, values)
    for key, value in values.items():
        if hasattr(Client, key) and key not in ("id", "uuid"):
            setattr(client, key, value)


def list_clients(
    uow: UnitOfWork,
    *,
    search: str = "",
    status: str = "",
    orderby: str = "id",
    descending: bool = False,
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[Client]]:
    column = orderby.lower() if orderby.lower() in SORTABLE else "id"
    count, page = _list_statements(bool(status), bool(search), column, descending)
    values = {"status": status, "term": f"{search}%", "offset": offset, "limit": limit}
    # Neither query loads entities: run them on the connection, skipping the ORM layer.
    connection = uow.session.connection()
    total = connection.execute(count, values).scalar() or 0
    return total, list(connection.execute(page, values).all())


@lru_cache(maxsize=64)
def _list_statements(by_status: bool, by_search: bool, orderby: str, descending: bool) -> tuple[Any, Any]:
    """The COUNT and page statements of GetClients for one shape of request, built once.

    A plain COUNT over the table (not over a sub-select of every column) lets the database
    count a narrow index. The page is a deferred join: its ids come from walking a small
    index (OFFSET must step over every skipped row), then only those rows are read, so
    deep pages stay cheap.
    """
    conditions: list[Any] = []
    if by_status:
        conditions.append(Client.status == bindparam("status"))
    if by_search:
        term = bindparam("term")
        fullname = Client.firstname + " " + Client.lastname
        conditions.append(or_(
            Client.email.like(term), Client.firstname.like(term), Client.lastname.like(term),
            fullname.like(term), Client.companyname.like(term),
        ))
    column = SORTABLE[orderby]
    order = [column.desc() if descending else column.asc()]
    if column is not Client.id:
        order.append(Client.id.desc() if descending else Client.id.asc())
    count = select(func.count()).select_from(Client).where(*conditions)
    page_ids = (select(Client.id).where(*conditions).order_by(*order)
                .offset(bindparam("offset")).limit(bindparam("limit")).scalar_subquery())
    page = select(
        Client.id, Client.firstname, Client.lastname, Client.companyname, Client.email,
        Client.datecreated, Client.group_id, Client.status,
    ).where(Client.id.in_(page_ids)).order_by(*order)
    return count, page


def list_groups(uow: UnitOfWork) -> list[ClientGroup]:
    return list(uow.session.scalars(select(ClientGroup).order_by(ClientGroup.id)))


def add_note(uow: UnitOfWork, client_id: int, note: str, *, sticky: bool = False) -> ClientNote:
    client = get_client(uow, client_id)
    if not note.strip():
        raise ValidationError("Notes can not be empty", code="note_required")
    row = ClientNote(client_id=client.id, admin_id=uow.actor.admin_id or 0, note=note, sticky=sticky)
    uow.session.add(row)
    uow.session.flush()
    log_activity(uow, f"Added Note - User ID: {client.id}", client_id=client.id)
    return row


def client_hook_vars(client: Client, **extra: Any) -> dict[str, Any]:
    """WHMCS's ``ClientAdd``/``ClientEdit``/``ClientDelete`` variables (a superset of each).

    The plain-text password WHMCS passes to ``ClientAdd`` is withheld: it would otherwise
    be stored in the outbox and sent to webhooks (see ``billow.event_catalog``).
    """
    prefs = {**DEFAULT_EMAIL_PREFERENCES, **(client.email_preferences or {})}
    data: dict[str, Any] = {
        "userid": client.id, "client_id": client.id, "user_id": client.owner_user_id or 0,
        "uuid": client.uuid,
        "firstname": client.firstname, "lastname": client.lastname,
        "companyname": client.companyname, "email": client.email,
        "address1": client.address1, "address2": client.address2, "city": client.city,
        "state": client.state, "postcode": client.postcode, "country": client.country,
        "phonenumber": client.phonenumber, "tax_id": client.tax_id,
        "currency": client.currency_id, "groupid": client.group_id,
        "notes": client.notes, "status": client.status, "language": client.language,
        "billingcid": client.billingcid, "allow_sso": bool(client.allow_sso),
        "email_verified": bool(client.email_verified),
        "isOptedInToMarketingEmails": bool(client.marketing_emails_opt_in),
        "authmodule": "", "authdata": "", "customFields": {},
    }
    data.update({flag: bool(getattr(client, flag)) for flag in FLAG_FIELDS if flag != "allow_sso"})
    for kind in ("affiliate", "domain", "general", "product", "support"):
        data[f"email_preferences[{kind}]"] = bool(prefs.get(kind, True))
    data["email_preferences[invoices]"] = bool(prefs.get("invoice", True))
    extra.pop("password", None)  # never hand a password to hooks or the outbox
    data.update(extra)
    return data
