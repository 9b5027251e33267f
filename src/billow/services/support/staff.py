"""Which admins work a support department (WHMCS's admin "Support Departments" boxes).

The assignment decides who receives the admin notifications about a department
(``SendAdminEmail`` with ``deptid``); a disabled admin keeps the assignment but gets no mail.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from billow.db.models import Admin, SupportDepartmentAdmin
from billow.services.access.admins import get_admin
from billow.services.support.departments import get_department
from billow.uow import UnitOfWork


def assign_admin(uow: UnitOfWork, username: str, department_id: int) -> bool:
    """Assign admin *username* to the department; False when it already was."""
    admin = get_admin(uow, username)
    dept = get_department(uow, department_id)
    if uow.session.get(SupportDepartmentAdmin, (dept.id, admin.id)) is not None:
        return False
    uow.session.add(SupportDepartmentAdmin(department_id=dept.id, admin_id=admin.id))
    uow.session.flush()
    return True


def unassign_admin(uow: UnitOfWork, username: str, department_id: int) -> bool:
    """Take admin *username* off the department; False when it was not assigned."""
    admin = get_admin(uow, username)
    dept = get_department(uow, department_id)
    result = uow.session.execute(
        delete(SupportDepartmentAdmin).where(SupportDepartmentAdmin.department_id == dept.id,
                                             SupportDepartmentAdmin.admin_id == admin.id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def department_admins(uow: UnitOfWork, department_id: int) -> list[Admin]:
    """The admins assigned to the department, in id order (disabled ones included)."""
    return list(uow.session.scalars(
        select(Admin).join(SupportDepartmentAdmin, SupportDepartmentAdmin.admin_id == Admin.id)
        .where(SupportDepartmentAdmin.department_id == department_id).order_by(Admin.id)
    ))
