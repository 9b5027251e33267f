"""Automated status changes of services and their addons (suspend, unsuspend, terminate).

:func:`module_action` is the rule the daily run applies to a service: through its module
when its product has one, else by status alone; status-only addons follow their service
(:data:`ADDON_FOLLOWS`), addons with a module are moved one by one (:func:`change_addon`),
each in its own transaction. :func:`terminate_fixed_term` ends services of fixed-term
products; :func:`end_addon` ends module addons of ended services.

Every step returns an :class:`Outcome`: skipped (the row no longer qualifies), failed
(the module's message; the row is unchanged and the failure is in the module queue), or
done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select

from billow.db.models import ModuleQueueEntry, Product, Service, ServiceAddon
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.hosting import addon_provisioning, provisioning
from billow.services.hosting.addon_provisioning import module_backed, suspended_for_overdue
from billow.services.hosting.provisioning import OVERDUE_REASON
from billow.uow import UnitOfWork

#: Statuses a service may be terminated from (by the daily run).
LIVE_ENDABLE = ("Active", "Suspended")


@dataclass(frozen=True)
class Outcome:
    """What one automated step did: nothing (no longer due), failed (``error``) or ``done``."""

    done: bool = False
    #: the module's message when it refused
    error: str = ""
    #: the status the row got when done
    status: str = ""
    #: unpaid invoices cancelled with the service (cancellation requests)
    invoices_cancelled: int = 0


SKIPPED = Outcome()


def _module_product(uow: UnitOfWork, service: Service) -> Product | None:
    product = uow.session.get(Product, service.packageid)
    return product if product is not None and product.servertype else None


def module_action(uow: UnitOfWork, service: Service, key: str, *, reason: str = "") -> str:
    """Run module action *key* on *service*, or just change its status when it has no module.

    Returns the module's error message when it refused ("" on success). The service is
    then unchanged, and the provisioning service has queued the failure and logged the
    exchange: the caller commits that record and reports the failure.
    """
    if _module_product(uow, service) is not None:
        result = provisioning.run(uow, service, key, reason=reason)
        if not result.success:
            return result.error or f"{key} failed"
        _follow_addons(uow, service, key)
        return ""
    _follow_addons(uow, service, key)
    if key == "suspend":
        service.status, service.suspendreason = "Suspended", reason
    elif key == "unsuspend":
        service.status, service.suspendreason = "Active", ""
    elif key == "terminate":
        service.status, service.termination_date = "Terminated", uow.today
    label = {"suspend": "Suspended", "unsuspend": "Unsuspended", "terminate": "Terminated"}[key]
    log_activity(uow, f"Service {label} (no module) - Service ID: {service.id}", client_id=service.userid)
    return ""


#: Which of a service's addons follow it when it is suspended, unsuspended or terminated.
ADDON_FOLLOWS = {
    "suspend": ("Active",),
    "unsuspend": ("Suspended",),
    "terminate": ("Pending", "Active", "Suspended"),
}


def _follow_addons(uow: UnitOfWork, service: Service, key: str) -> None:
    """Status-only addons share their service's fate in its transaction (WHMCS suspends
    and terminates them with it).

    Addons with a provisioning module are left to :func:`change_addon`, which the daily run
    calls one addon per transaction right after the services (a refused addon call must
    not undo its service's). A Pending addon was never provisioned, so it follows by status
    whatever its module.
    """
    query = select(ServiceAddon).where(ServiceAddon.service_id == service.id,
                                       ServiceAddon.status.in_(ADDON_FOLLOWS[key]),
                                       or_(~module_backed(), ServiceAddon.status == "Pending"))
    if key == "unsuspend":
        query = query.where(suspended_for_overdue())
    reason = OVERDUE_REASON if key == "suspend" else ""
    for addon in list(uow.session.scalars(query)):
        addon_provisioning.change(uow, addon, key, reason=reason)


def service_step(uow: UnitOfWork, service_id: int, key: str, *, when: tuple[str, ...],
                 reason: str = "", email: str = "") -> Outcome:
    """Lock the service, check it is still in one of *when*, run :func:`module_action`, and
    request e-mail template *email* when it was done."""
    service = uow.session.get(Service, service_id, with_for_update=True)
    if service is None or service.status not in when:
        return SKIPPED
    if error := module_action(uow, service, key, reason=reason):
        return Outcome(error=error)
    if email:
        request_email(uow, email, service.id)
    return Outcome(done=True, status=service.status)


def not_tried_since(function: str, since: datetime) -> Any:
    """SQL condition: addons whose *function* did not already fail since *since* (several
    tasks of one run share the ended-service sweep: a refusing module is asked once per
    run, not once per task)."""
    return ~exists().where(ModuleQueueEntry.service_type == "addon",
                           ModuleQueueEntry.service_id == ServiceAddon.id,
                           ModuleQueueEntry.module_action == function,
                           ModuleQueueEntry.completed.is_(False),
                           ModuleQueueEntry.last_attempt >= since)


def change_addon(uow: UnitOfWork, addon_id: int, key: str, *, when: tuple[str, ...],
                 status: str = "", hook: str = "") -> Outcome:
    """Lock client addon *addon_id*, check it is still in one of *when*, and move it through
    *key* (through its module when it has one; an overdue suspension is remembered)."""
    row = uow.session.get(ServiceAddon, addon_id, with_for_update=True)
    if row is None or row.status not in when:
        return SKIPPED
    reason = OVERDUE_REASON if key == "suspend" else ""
    result = addon_provisioning.change(uow, row, key, status=status, hook=hook, reason=reason)
    if not result.success:
        return Outcome(error=result.error or f"{key} failed")
    return Outcome(done=True, status=row.status)


# -- addons of ended services -----------------------------------------------------------------
def addons_of_ended_services(uow: UnitOfWork, since: datetime, after: int, limit: int) -> list[int]:
    """Live addons with a module whose service was terminated or cancelled: their module
    terminates them too (status-only addons ended with their service)."""
    return list(uow.session.scalars(
        select(ServiceAddon.id).join(Service, Service.id == ServiceAddon.service_id)
        .where(ServiceAddon.id > after, ServiceAddon.status.in_(LIVE_ENDABLE),
               Service.status.in_(("Terminated", "Cancelled")), module_backed(),
               not_tried_since("TerminateAccount", since))
        .order_by(ServiceAddon.id).limit(limit)))


def end_addon(uow: UnitOfWork, addon_id: int) -> Outcome:
    """Terminate an addon of an ended service: it becomes Cancelled (``AddonCancelled``)
    when its service was cancelled, else Terminated."""
    row = uow.session.get(ServiceAddon, addon_id)
    service = uow.session.get(Service, row.service_id) if row is not None else None
    if service is not None and service.status == "Cancelled":
        return change_addon(uow, addon_id, "terminate", when=LIVE_ENDABLE, status="Cancelled",
                            hook="AddonCancelled")
    return change_addon(uow, addon_id, "terminate", when=LIVE_ENDABLE)


# -- fixed-term products ------------------------------------------------------------------------
def fixed_terms(uow: UnitOfWork) -> dict[int, tuple[int, str]]:
    """Product id -> (term in days, e-mail template) of fixed-term products.

    A product's term is ``extra["autoterminatedays"]`` days after the service's
    registration date (WHMCS "Auto Terminate/Fixed Term"); the client gets the e-mail
    template named in ``extra["autoterminateemail"]`` when one is set.
    """
    terms = {}
    for product in uow.session.scalars(select(Product)):
        days = int((product.extra or {}).get("autoterminatedays") or 0)
        if days > 0:
            terms[product.id] = (days, str((product.extra or {}).get("autoterminateemail") or ""))
    return terms


def services_past_term(uow: UnitOfWork, today: date, after: int, limit: int) -> list[int]:
    """Live services of fixed-term products whose term ran out by *today*."""
    terms = fixed_terms(uow)
    if not terms:
        return []
    found: list[int] = []
    for product_id, (days, _) in terms.items():
        found.extend(uow.session.scalars(
            select(Service.id).where(
                Service.id > after, Service.packageid == product_id,
                Service.status.in_(LIVE_ENDABLE),
                Service.regdate <= today - timedelta(days=days))
            .order_by(Service.id).limit(limit)))
    return sorted(found)[:limit]


def terminate_fixed_term(uow: UnitOfWork, service_id: int, today: date) -> Outcome:
    """Terminate a service whose fixed term ran out (re-checked under the row lock)."""
    service = uow.session.get(Service, service_id, with_for_update=True)
    terms = fixed_terms(uow)
    if service is None or service.status not in LIVE_ENDABLE or service.packageid not in terms:
        return SKIPPED
    days, template = terms[service.packageid]
    if service.regdate > today - timedelta(days=days):
        return SKIPPED
    return service_step(uow, service_id, "terminate", when=LIVE_ENDABLE, email=template)
