"""Helpers shared by the ticket operations of this package (not for other layers):
masks, e-mail and date checks, hook variables and the acting admin's name.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from billow.db.models import (
    Admin,
    SupportDepartment,
    Ticket,
)
from billow.errors import BillowError, NotFound, ValidationError
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

DEFAULT_MASK = "%A%A%A-%n%n%n%n%n%n"

MASK_ATTEMPTS = 25

def _valid_email(email: str, message: str = "Email Address Invalid") -> str:
    try:
        # Lower-cased whole: addresses are matched case-insensitively (filters, e-mail routing).
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationError(message, code="invalid_email") from None


def parse_created(value: str, *, future_message: str, now: datetime) -> datetime | None:
    """Read WHMCS's ``created`` (ISO 8601 or ``YYYY-MM-DD HH:mm:ss``, UTC when naive)."""
    from datetime import UTC

    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("Invalid Date Format", code="invalid_date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ValidationError(future_message, code="date_in_future")
    return moment


def generate_mask(uow: UnitOfWork) -> str:
    """Return a fresh random ticket mask, unique among tickets."""
    pattern = get_setting(uow, "TicketMask") or DEFAULT_MASK
    for _ in range(MASK_ATTEMPTS):
        mask = _fill_mask(pattern)
        if uow.session.scalar(select(Ticket.id).where(Ticket.tid == mask)) is None:
            return mask
    raise BillowError("Unable to generate ticket number", code="ticket_mask_exhausted")


def _fill_mask(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "%" and i + 1 < len(pattern):
            code = pattern[i + 1]
            alphabet = {"A": string.ascii_uppercase, "a": string.ascii_lowercase, "n": string.digits}.get(
                code
            )
            if alphabet is not None:
                out.append(secrets.choice(alphabet))
                i += 2
                continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _dept_name(uow: UnitOfWork, dept_id: int) -> str:
    dept = uow.session.get(SupportDepartment, dept_id)
    return dept.name if dept else ""


def _hook_vars(uow: UnitOfWork, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ticketid": ticket.id,
        "ticketmask": ticket.tid,
        "userid": ticket.client_id or 0,
        "deptid": ticket.department_id,
        "deptname": _dept_name(uow, ticket.department_id),
        "subject": ticket.subject,
        "message": ticket.message,
        "priority": ticket.priority,
    }
    data.update(extra)
    return data


def _admin_display(admin: Admin) -> str:
    return f"{admin.firstname} {admin.lastname}".strip() or admin.username


def _actor_admin_name(uow: UnitOfWork) -> str:
    """How WHMCS names the acting admin on tickets: full name, else the username."""
    admin = uow.session.get(Admin, uow.actor.admin_id) if uow.actor.admin_id else None
    return _admin_display(admin) if admin is not None else uow.actor.admin_username


def _staff_only(uow: UnitOfWork, message: str, code: str = "ticket_not_found") -> None:
    """Refuse staff operations to a client actor, answering as if the record did not exist."""
    if uow.actor.kind == "client":
        raise NotFound(message, code=code)
