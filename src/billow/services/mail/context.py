"""What an e-mail is about: merge fields and recipients for a template type and related id.

WHMCS's ``relid`` means a different record per template type (client for ``general``,
invoice for ``invoice``, service for ``product``, domain, ticket ...). Each area owns the
record, so each area provides the resolver, named here by dotted path: adding an area's
e-mails means one line in :data:`RESOLVERS` (or :func:`register_resolver` from a plugin).
A resolver whose module does not exist yet is skipped cleanly: the e-mail is logged as not
sent, nothing breaks.

Attachment renderers (the invoice PDF) work the same way through :data:`ATTACHMENT_RENDERERS`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from billow.db.models import Admin, Client, Contact, SupportDepartmentAdmin, User
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

log = logging.getLogger("billow.email")


@dataclass
class MailContext:
    """The record an e-mail is about, for rendering and addressing."""

    merge: dict[str, Any] = field(default_factory=dict)
    #: The client the e-mail is logged under (0: none, e.g. admin notices).
    client_id: int = 0
    #: Explicit recipients ``(name, address)``; empty means the client and its contacts.
    recipients: list[tuple[str, str]] = field(default_factory=list)
    #: Attachments as specs rendered at send time: ``{"kind": "invoice", "id": 5}``.
    attachments: list[dict[str, Any]] = field(default_factory=list)


Resolver = Callable[[UnitOfWork, int], MailContext | None]
Renderer = Callable[[UnitOfWork, int], tuple[str, bytes]]

#: Template type → ``module:function(uow, relid) -> MailContext | None``.
RESOLVERS: dict[str, str] = {
    "general": "billow.services.mail.context:client_context",
    "user": "billow.services.mail.context:user_context",
    "admin": "billow.services.mail.context:admin_context",
    "invoice": "billow.services.mail.area_contexts:invoice_email_context",
    "product": "billow.services.mail.area_contexts:service_email_context",
    "domain": "billow.services.domains:domain_email_context",
    "support": "billow.services.support.tickets:ticket_email_context",
    "affiliate": "billow.services.affiliates:affiliate_email_context",
}
#: Attachment kind → ``module:function(uow, id) -> (filename, bytes)``.
ATTACHMENT_RENDERERS: dict[str, str] = {
    "invoice": "billow.services.mail.area_contexts:invoice_pdf_attachment",
}

_registered: dict[str, Resolver] = {}
_renderers: dict[str, Renderer] = {}


def register_resolver(template_type: str, fn: Resolver) -> None:
    """Provide (or replace) the resolver of *template_type* at run time (plugins, tests)."""
    _registered[template_type] = fn


def register_attachment_renderer(kind: str, fn: Renderer) -> None:
    _renderers[kind] = fn


def unregister(template_type: str = "", kind: str = "") -> None:
    _registered.pop(template_type, None)
    _renderers.pop(kind, None)


def _load(path: str) -> Callable[..., Any] | None:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, attr, None)


def resolver_for(template_type: str) -> Resolver | None:
    if template_type in _registered:
        return _registered[template_type]
    path = RESOLVERS.get(template_type)
    return _load(path) if path else None


def renderer_for(kind: str) -> Renderer | None:
    if kind in _renderers:
        return _renderers[kind]
    path = ATTACHMENT_RENDERERS.get(kind)
    return _load(path) if path else None


def common_fields(uow: UnitOfWork) -> dict[str, Any]:
    """Merge fields every template has (WHMCS's global fields)."""
    company = get_setting(uow, "CompanyName")
    url = get_setting(uow, "SystemURL")
    return {
        "company_name": company,
        "company_domain": url.split("//", 1)[-1].strip("/"),
        "whmcs_url": url,
        "whmcs_link": url,
        "signature": get_setting(uow, "Signature") or f"{company}\n{url}",
        "date": uow.today.isoformat(),
        "time": uow.now.strftime("%H:%M"),
    }


def client_fields(client: Client) -> dict[str, Any]:
    """The ``client_*`` merge fields of WHMCS."""
    return {
        "client_id": client.id,
        "client_name": client.fullname,
        "client_first_name": client.firstname,
        "client_last_name": client.lastname,
        "client_company_name": client.companyname,
        "client_email": client.email,
        "client_address1": client.address1,
        "client_address2": client.address2,
        "client_city": client.city,
        "client_state": client.state,
        "client_postcode": client.postcode,
        "client_country": client.country,
        "client_phonenumber": client.phonenumber,
        "client_tax_id": client.tax_id,
        "client_status": client.status,
        "client_credit": str(client.credit),
        "client_language": client.language,
        "client_group_id": client.group_id,
    }


def client_context(uow: UnitOfWork, client_id: int) -> MailContext | None:
    """``general`` templates: *relid* is the client id."""
    client = uow.session.get(Client, client_id) if client_id else None
    if client is None:
        return None
    return MailContext(merge=client_fields(client), client_id=client.id)


def user_context(uow: UnitOfWork, user_id: int) -> MailContext | None:
    """``user`` templates (password reset): *relid* is the user id; sent to the user."""
    user = uow.session.get(User, user_id) if user_id else None
    if user is None:
        return None
    merge = {
        "user_id": user.id, "user_first_name": user.firstname, "user_last_name": user.lastname,
        "user_email": user.email, "client_first_name": user.firstname,
    }
    name = f"{user.firstname} {user.lastname}".strip()
    return MailContext(merge=merge, recipients=[(name, user.email)])


def admin_context(uow: UnitOfWork, _relid: int, department_id: int = 0) -> MailContext | None:
    """``admin`` templates: every enabled administrator with an address.

    With *department_id* (a support notification about that department, as WHMCS's
    ``deptid``) only the admins assigned to the department.
    """
    query = select(Admin).where(Admin.disabled.is_(False), Admin.email != "")
    if department_id:
        query = query.where(Admin.id.in_(
            select(SupportDepartmentAdmin.admin_id)
            .where(SupportDepartmentAdmin.department_id == department_id)
        ))
    admins = uow.session.scalars(query.order_by(Admin.id)).all()
    return MailContext(recipients=[(f"{a.firstname} {a.lastname}".strip(), a.email) for a in admins])


def contacts_wanting(uow: UnitOfWork, client_id: int, category: str) -> list[Contact]:
    """Contacts of *client_id* whose e-mail preferences accept *category* e-mails."""
    contacts = uow.session.scalars(
        select(Contact).where(Contact.client_id == client_id).order_by(Contact.id)
    ).all()
    return [c for c in contacts if c.email and (c.email_preferences or {}).get(category, False)]
