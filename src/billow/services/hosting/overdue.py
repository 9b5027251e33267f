"""Non-payment rules: which services and addons are suspended, unsuspended or terminated
for being overdue, and the steps that do it.

* Eligibility: an Unpaid invoice billing the service (or addon) due by the cut-off
  (``AutoSuspensionDays`` / ``AutoTerminationDays`` ago); never free or one-time cycles;
  never what :func:`not_exempt` excludes (one exemption check for services and addons).
* The suspension reason is WHMCS's "Overdue on Payment"
  (:data:`~billow.services.hosting.provisioning.OVERDUE_REASON`): only what non-payment
  suspended comes back once paid.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select

from billow.db.models import Client, ClientGroup, Invoice, InvoiceItem, Service, ServiceAddon
from billow.services.hosting.addon_provisioning import module_backed, suspended_for_overdue
from billow.services.hosting.provisioning import OVERDUE_REASON
from billow.services.hosting.status_changes import (
    SKIPPED,
    Outcome,
    change_addon,
    not_tried_since,
    service_step,
)
from billow.services.settings import setting_int
from billow.uow import UnitOfWork

#: Cycles never suspended or terminated for non-payment.
NOT_RECURRING = ("Free Account", "One Time")


def suspension_cutoff(uow: UnitOfWork, today: date) -> date:
    """Due on or before this date is overdue enough to suspend (``AutoSuspensionDays``)."""
    return today - timedelta(days=setting_int(uow, "AutoSuspensionDays", 0))


def termination_cutoff(uow: UnitOfWork, today: date) -> date:
    """Due on or before this date is overdue enough to terminate (``AutoTerminationDays``)."""
    return today - timedelta(days=setting_int(uow, "AutoTerminationDays", 0))


def unpaid_invoice_for(id_column: Any, due_by: date, line_type: str = "Hosting") -> Any:
    """SQL condition: an Unpaid invoice billing the service (or addon) due on or before *due_by*."""
    return exists().where(InvoiceItem.type == line_type, InvoiceItem.relid == id_column,
                          Invoice.id == InvoiceItem.invoice_id, Invoice.status == "Unpaid",
                          Invoice.duedate <= due_by)


def not_exempt(model: type[Service] | type[ServiceAddon], today: date) -> Any:
    """SQL condition: the service (or addon) may be suspended or terminated for non-payment.

    Exempt: clients in a group exempt from suspension and termination, and services with
    the auto-suspend override (until ``overidesuspenduntil`` when set; addons have no
    override of their own).
    """
    exempt_group = exists().where(Client.id == model.userid, ClientGroup.id == Client.group_id,
                                  ClientGroup.susptermexempt.is_(True))
    if model is ServiceAddon:
        return ~exempt_group
    overridden = and_(Service.overideautosuspend.is_(True),
                      or_(Service.overidesuspenduntil.is_(None), Service.overidesuspenduntil >= today))
    return and_(~exempt_group, ~overridden)


def _overdue(model: type[Service] | type[ServiceAddon], cutoff: date, today: date, line_type: str) -> Any:
    return and_(model.nextduedate.is_not(None), model.nextduedate <= cutoff,
                model.billingcycle.not_in(NOT_RECURRING), not_exempt(model, today),
                unpaid_invoice_for(model.id, cutoff, line_type))


# -- suspension -------------------------------------------------------------------------------
def services_to_suspend(uow: UnitOfWork, today: date, after: int, limit: int) -> list[int]:
    """Active services overdue by ``AutoSuspensionDays`` with an unpaid invoice."""
    cutoff = suspension_cutoff(uow, today)
    return list(uow.session.scalars(
        select(Service.id).where(Service.id > after, Service.status == "Active",
                                 _overdue(Service, cutoff, today, "Hosting"))
        .order_by(Service.id).limit(limit)))


def suspend_service(uow: UnitOfWork, service_id: int) -> Outcome:
    """Suspend an overdue service (reason "Overdue on Payment"); the client gets
    "Service Suspension Notification"."""
    return service_step(uow, service_id, "suspend", when=("Active",), reason=OVERDUE_REASON,
                        email="Service Suspension Notification")


def addons_to_suspend(uow: UnitOfWork, today: date, since: datetime, after: int, limit: int) -> list[int]:
    """Active addons overdue on their own invoice (with or without a module), and addons
    with a module whose service is suspended for non-payment (status-only addons were
    suspended with their service); not those whose suspension already failed *since*."""
    cutoff = suspension_cutoff(uow, today)
    service_suspended = and_(module_backed(), exists().where(
        Service.id == ServiceAddon.service_id, Service.status == "Suspended",
        Service.suspendreason == OVERDUE_REASON))
    return list(uow.session.scalars(
        select(ServiceAddon.id).where(
            ServiceAddon.id > after, ServiceAddon.status == "Active",
            or_(_overdue(ServiceAddon, cutoff, today, "Addon"), service_suspended),
            not_tried_since("SuspendAccount", since))
        .order_by(ServiceAddon.id).limit(limit)))


def suspend_addon(uow: UnitOfWork, addon_id: int) -> Outcome:
    """Suspend an overdue addon, remembered as suspended for non-payment."""
    return change_addon(uow, addon_id, "suspend", when=("Active",))


# -- unsuspension -----------------------------------------------------------------------------
def services_to_unsuspend(uow: UnitOfWork, today: date, after: int, limit: int) -> list[int]:
    """Services suspended for non-payment with nothing overdue any more."""
    cutoff = suspension_cutoff(uow, today)
    return list(uow.session.scalars(
        select(Service.id).where(
            Service.id > after, Service.status == "Suspended", Service.suspendreason == OVERDUE_REASON,
            or_(Service.nextduedate.is_(None), Service.nextduedate > cutoff),
            ~unpaid_invoice_for(Service.id, cutoff))
        .order_by(Service.id).limit(limit)))


def unsuspend_service(uow: UnitOfWork, service_id: int) -> Outcome:
    """Unsuspend a service suspended for non-payment; the client gets
    "Service Unsuspension Notification"."""
    service = uow.session.get(Service, service_id, with_for_update=True)
    if service is None or service.suspendreason != OVERDUE_REASON:
        return SKIPPED
    return service_step(uow, service_id, "unsuspend", when=("Suspended",),
                        email="Service Unsuspension Notification")


def addons_to_unsuspend(uow: UnitOfWork, today: date, since: datetime, after: int, limit: int) -> list[int]:
    """Addons suspended for non-payment whose service is Active again and that owe nothing
    overdue themselves."""
    cutoff = suspension_cutoff(uow, today)
    return list(uow.session.scalars(
        select(ServiceAddon.id).join(Service, Service.id == ServiceAddon.service_id)
        .where(ServiceAddon.id > after, ServiceAddon.status == "Suspended", Service.status == "Active",
               suspended_for_overdue(),
               or_(ServiceAddon.nextduedate.is_(None), ServiceAddon.nextduedate > cutoff),
               ~unpaid_invoice_for(ServiceAddon.id, cutoff, "Addon"),
               not_tried_since("UnsuspendAccount", since))
        .order_by(ServiceAddon.id).limit(limit)))


def unsuspend_addon(uow: UnitOfWork, addon_id: int) -> Outcome:
    return change_addon(uow, addon_id, "unsuspend", when=("Suspended",))


# -- termination ------------------------------------------------------------------------------
def services_to_terminate(uow: UnitOfWork, today: date, after: int, limit: int) -> list[int]:
    """Active or Suspended services overdue by ``AutoTerminationDays`` with an unpaid invoice."""
    cutoff = termination_cutoff(uow, today)
    return list(uow.session.scalars(
        select(Service.id).where(Service.id > after, Service.status.in_(("Active", "Suspended")),
                                 _overdue(Service, cutoff, today, "Hosting"))
        .order_by(Service.id).limit(limit)))


def terminate_service(uow: UnitOfWork, service_id: int) -> Outcome:
    return service_step(uow, service_id, "terminate", when=("Active", "Suspended"))
