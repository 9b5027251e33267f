"""Support departments: adding, finding (by id or by the address mail arrives at) and their ticket counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from billow import security
from billow.db.models import (
    SupportDepartment,
    Ticket,
)
from billow.errors import NotFound, ValidationError
from billow.services.support._ticket_common import _valid_email
from billow.services.support.statuses import _status_titles
from billow.uow import UnitOfWork


def add_department(uow: UnitOfWork, name: str, email: str = "", **options: Any) -> SupportDepartment:
    """Create a support department; ``mail_password`` is stored encrypted."""
    if not name.strip():
        raise ValidationError("Department name is required", code="department_name_required")
    if email:
        email = _valid_email(email)
    if "mail_password" in options:
        options["mail_password"] = (
            security.encrypt(options["mail_password"]) if options["mail_password"] else ""
        )
    dept = SupportDepartment(name=name.strip(), email=email, **options)
    uow.session.add(dept)
    uow.session.flush()
    return dept


def get_department(
    uow: UnitOfWork, dept_id: int, message: str = "Department ID not found"
) -> SupportDepartment:
    dept = uow.session.get(SupportDepartment, dept_id) if dept_id else None
    if dept is None:
        raise NotFound(message, code="department_not_found")
    return dept


def list_departments(uow: UnitOfWork) -> list[SupportDepartment]:
    return list(
        uow.session.scalars(
            select(SupportDepartment).order_by(SupportDepartment.sort_order, SupportDepartment.id)
        )
    )


def department_by_address(uow: UnitOfWork, addresses: Iterable[str]) -> SupportDepartment | None:
    wanted = [a.strip().lower() for a in addresses if a and a.strip()]
    if not wanted:
        return None
    for dept in list_departments(uow):
        if dept.email and dept.email.lower() in wanted:
            return dept
    return None


def department_counts(uow: UnitOfWork) -> dict[int, tuple[int, int]]:
    """``{dept_id: (awaiting reply, active)}`` over tickets not merged away."""
    awaiting = set(_status_titles(uow, show_awaiting=True))
    active = set(_status_titles(uow, show_active=True))
    rows = uow.session.execute(
        select(Ticket.department_id, Ticket.status, func.count())
        .where(Ticket.merged_ticket_id == 0)
        .group_by(Ticket.department_id, Ticket.status)
    ).all()
    out: dict[int, list[int]] = {}
    for dept_id, status, count in rows:
        entry = out.setdefault(dept_id, [0, 0])
        entry[0] += count if status in awaiting else 0
        entry[1] += count if status in active else 0
    return {k: (v[0], v[1]) for k, v in out.items()}
