"""Cancellation requests: recording them (``AddCancelRequest``) and carrying them out."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from billow.db.models import CancelRequest, Invoice, InvoiceItem, Service, ServiceAddon
from billow.errors import ValidationError
from billow.services.activity import log_activity
from billow.services.billing.invoices import cancel_invoice
from billow.services.hosting import addon_provisioning, provisioning
from billow.services.hosting.addon_provisioning import module_backed
from billow.services.hosting.status_changes import SKIPPED, Outcome, module_action
from billow.uow import UnitOfWork

CANCEL_TYPES = ("Immediate", "End of Billing Period")


def add_cancel_request(
    uow: UnitOfWork, service_id: int, reason: str = "", type_: str = "End of Billing Period"
) -> CancelRequest:
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    if type_ not in CANCEL_TYPES:
        raise ValidationError("Invalid Cancellation Type. Must be 'Immediate' or 'End of Billing Period'",
                              code="invalid_cancellation_type")
    existing = uow.session.scalar(
        select(func.count()).select_from(CancelRequest).where(CancelRequest.service_id == service.id)
    )
    if existing:
        raise ValidationError("Existing Cancellation Request Exists", code="cancellation_request_exists")
    request = CancelRequest(service_id=service.id, reason=reason, type=type_, date=uow.now)
    uow.session.add(request)
    uow.session.flush()
    uow.emit(
        "CancellationRequest",
        {"userid": service.userid, "relid": service.id, "reason": reason, "type": type_},
        resource_type="service",
        resource_id=service.id,
    )
    log_activity(uow, f"Cancellation Request Submitted - Service ID: {service.id}", client_id=service.userid)
    return request


def list_cancel_requests(
    uow: UnitOfWork, offset: int = 0, limit: int = 25
) -> tuple[int, list[CancelRequest]]:
    total = uow.session.scalar(select(func.count()).select_from(CancelRequest)) or 0
    rows = uow.session.scalars(select(CancelRequest).order_by(CancelRequest.id).offset(offset).limit(limit))
    return total, list(rows)


# -- carrying requests out (the daily run) -----------------------------------------------------
#: Statuses a service with a cancellation request is still cancelled from.
CANCELLABLE = ("Pending", "Active", "Suspended")


def due_cancel_requests(uow: UnitOfWork, today: date, after: int, limit: int) -> list[int]:
    """Requests to carry out: Immediate at once, End of Billing Period on the due date."""
    return list(uow.session.scalars(
        select(CancelRequest.id).join(Service, Service.id == CancelRequest.service_id).where(
            CancelRequest.id > after, Service.status.in_(CANCELLABLE),
            or_(CancelRequest.type == "Immediate",
                Service.nextduedate.is_(None), Service.nextduedate <= today))
        .order_by(CancelRequest.id).limit(limit)))


def carry_out(uow: UnitOfWork, request_id: int) -> Outcome:
    """Cancel the service of cancellation request *request_id*.

    A live service is terminated through its module (a refusal leaves it as it was) and
    becomes Cancelled; so do its status-only and Pending addons (addons with a module are
    terminated through it by :func:`~billow.services.hosting.status_changes.end_addon`).
    Its unpaid invoices are cancelled when nothing else is on them.
    """
    request = uow.session.get(CancelRequest, request_id)
    service = uow.session.get(Service, request.service_id, with_for_update=True) if request else None
    if service is None or service.status not in CANCELLABLE:
        return SKIPPED
    if service.status != "Pending" and (error := module_action(uow, service, "terminate")):
        return Outcome(error=error)
    service.status = "Cancelled"
    for addon in list(uow.session.scalars(select(ServiceAddon).where(
            ServiceAddon.service_id == service.id, ServiceAddon.status.in_(CANCELLABLE),
            or_(~module_backed(), ServiceAddon.status == "Pending")))):
        addon_provisioning.set_status(uow, addon, addon_provisioning.Step("Cancelled", "AddonCancelled"))
    invoices_cancelled = _cancel_unpaid_invoices(uow, service)
    log_activity(uow, f"Cancellation Request Processed - Service ID: {service.id}", client_id=service.userid)
    return Outcome(done=True, status=service.status, invoices_cancelled=invoices_cancelled)


def _cancel_unpaid_invoices(uow: UnitOfWork, service: Service) -> int:
    """Cancel Unpaid invoices whose only lines bill this service (WHMCS does the same)."""
    cancelled = 0
    invoice_ids = set(uow.session.scalars(
        select(InvoiceItem.invoice_id).join(Invoice, Invoice.id == InvoiceItem.invoice_id)
        .where(InvoiceItem.type.in_(("Hosting", "Setup", "PromoHosting")), InvoiceItem.relid == service.id,
               Invoice.status == "Unpaid")))
    for invoice_id in sorted(invoice_ids):
        invoice = uow.session.get(Invoice, invoice_id)
        others = [line for line in invoice.items if line.type != "LateFee" and line.relid != service.id] \
            if invoice is not None else []
        if invoice is None or others:
            continue
        cancel_invoice(uow, invoice)  # returns any credit it had taken, fires InvoiceCancelled
        cancelled += 1
    return cancelled
