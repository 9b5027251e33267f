"""E-mail resolvers of the account records: clients (``general``), users (``user``),
administrators (``admin``), plus the ``client_*`` merge fields and the contacts that
accept a category of e-mail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.db.models import Admin, Client, Contact, SupportDepartmentAdmin, User
from billow.services.mail.context_registry import MailContext
from billow.uow import UnitOfWork


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
