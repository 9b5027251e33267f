"""Contacts: extra people on a client account who receive chosen kinds of e-mail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from billow.db.models import Client, Contact
from billow.db.models.clients import DEFAULT_EMAIL_PREFERENCES
from billow.db.queries import count_of
from billow.errors import NotFound, ValidationError
from billow.services.activity import log_activity
from billow.services.clients.accounts import CONTACT_FIELDS, get_client
from billow.services.clients.validation import (
    check_lengths,
    normalise_country,
    normalise_email,
    normalise_phone,
)
from billow.uow import UnitOfWork

ICANN_CONTACT = (
    "You must have at least one email address enabled to receive domain related "
    "notifications as required by ICANN. To disable domain notifications, please enable "
    "domain notifications for the primary account holder or another contact"
)


def _normalise(values: dict[str, Any], country_hint: str = "") -> dict[str, Any]:
    out = {k: v for k, v in values.items() if k in CONTACT_FIELDS}
    check_lengths(Contact, out)
    if out.get("email"):
        out["email"] = normalise_email(str(out["email"]))
    if out.get("country"):
        out["country"] = normalise_country(str(out["country"]))
    if out.get("phonenumber"):
        out["phonenumber"] = normalise_phone(
            str(out["phonenumber"]), str(out.get("country") or country_hint)
        )
    return out


def _duplicate(uow: UnitOfWork, client_id: int, email: str, exclude: int | None = None) -> bool:
    query = select(Contact.id).where(
        Contact.client_id == client_id, func.lower(Contact.email) == email.lower()
    )
    if exclude:
        query = query.where(Contact.id != exclude)
    return uow.session.scalar(query.limit(1)) is not None


def add_contact(
    uow: UnitOfWork, client_id: int, values: dict[str, Any], prefs: dict[str, bool]
) -> Contact:
    client = get_client(uow, client_id)
    data = _normalise(values, client.country)
    if data.get("email") and _duplicate(uow, client.id, data["email"]):
        raise ValidationError("Duplicate Email Address", code="email_in_use")
    contact = Contact(client_id=client.id, **data)
    merged = dict(DEFAULT_EMAIL_PREFERENCES)
    merged.update(prefs)
    contact.email_preferences = merged
    uow.session.add(contact)
    uow.session.flush()
    log_activity(uow, f"Added Contact - Contact ID: {contact.id}", client_id=client.id)
    uow.emit("ContactAdd", contact_hook_vars(contact), resource_type="contact",
             resource_id=contact.id)
    return contact


def get_contact(uow: UnitOfWork, contact_id: int) -> Contact:
    contact = uow.session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise NotFound("Contact ID Not Found", code="contact_not_found")
    return contact


def update_contact(
    uow: UnitOfWork, contact_id: int, values: dict[str, Any], prefs: dict[str, bool]
) -> Contact:
    contact = get_contact(uow, contact_id)
    olddata = contact_hook_vars(contact)
    data = _normalise(values, contact.country)
    if data.get("email") and _duplicate(uow, contact.client_id, data["email"], contact.id):
        raise ValidationError("Duplicate Email Address", code="email_in_use")
    for key, value in data.items():
        setattr(contact, key, value)
    if prefs:
        merged = dict(contact.email_preferences or DEFAULT_EMAIL_PREFERENCES)
        merged.update(prefs)
        if prefs.get("domain") is False and not merged["domain"]:
            _require_domain_recipient(uow, contact)
        contact.email_preferences = merged
    log_activity(uow, f"Contact Modified - Contact ID: {contact.id}", client_id=contact.client_id)
    uow.emit("ContactEdit", contact_hook_vars(contact, olddata=olddata), resource_type="contact",
             resource_id=contact.id)
    return contact


def _require_domain_recipient(uow: UnitOfWork, contact: Contact) -> None:
    """ICANN: someone on the account must still receive domain e-mail."""
    client = uow.session.get(Client, contact.client_id)
    if client is not None and (client.email_preferences or {}).get("domain", True):
        return
    others = uow.session.scalars(
        select(Contact).where(Contact.client_id == contact.client_id, Contact.id != contact.id)
    )
    if any((o.email_preferences or {}).get("domain", True) for o in others):
        return
    raise ValidationError(ICANN_CONTACT, code="icann_contact_required")


def delete_contact(uow: UnitOfWork, contact_id: int) -> int:
    contact = get_contact(uow, contact_id)
    client_id = contact.client_id
    uow.session.delete(contact)
    log_activity(uow, f"Deleted Contact - Contact ID: {contact_id}", client_id=client_id)
    uow.emit("ContactDelete", {"userid": client_id, "contactid": contact_id},
             resource_type="contact", resource_id=contact_id)
    return contact_id


def list_contacts(
    uow: UnitOfWork, filters: dict[str, str], offset: int, limit: int
) -> tuple[int, list[Contact]]:
    query = select(Contact)
    for key, value in filters.items():
        if key == "userid":
            query = query.where(Contact.client_id == int(value))
        elif key in CONTACT_FIELDS and value:
            query = query.where(getattr(Contact, key) == value)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(Contact.id).offset(offset).limit(limit)).all()
    return total, list(rows)


def contact_hook_vars(contact: Contact, **extra: Any) -> dict[str, Any]:
    """WHMCS's ``ContactAdd``/``ContactEdit`` variables, with the ``<kind>emails`` flags."""
    data: dict[str, Any] = {"userid": contact.client_id, "contactid": contact.id}
    data.update({k: getattr(contact, k) for k in CONTACT_FIELDS})
    prefs = contact.email_preferences or {}
    for kind in ("general", "product", "domain", "invoice", "support", "affiliate"):
        data[f"{kind}emails"] = bool(prefs.get(kind, False))
    data.update(extra)
    return data
