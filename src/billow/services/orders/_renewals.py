"""Renewing a service through an order: the invoice line of an early renewal."""

from __future__ import annotations

from billow.db.models import Client, Product, Service
from billow.errors import ValidationError
from billow.services.billing.contract import InvoiceLine
from billow.services.catalog.cycles import cycle, due_after
from billow.uow import UnitOfWork


def renewal_line(uow: UnitOfWork, client: Client, service_id: int) -> InvoiceLine:
    service = uow.session.get(Service, service_id)
    if service is None or service.userid != client.id:
        raise ValidationError("Service ID not owned by Client ID provided", code="service_not_owned")
    if service.status not in ("Active", "Suspended") or not cycle(service.billingcycle).recurring:
        raise ValidationError(f"Service ID {service_id} can not be renewed at this time.",
                              code="service_not_renewable")
    product = uow.session.get(Product, service.packageid)
    title = " - ".join(p for p in (product.name if product else "Service", service.domain) if p)
    due = service.nextduedate or uow.today
    # This invoice covers the period starting at the due date: the daily run must not bill it again.
    following = due_after(service, due)
    if service.nextinvoicedate is None or service.nextinvoicedate < following:
        service.nextinvoicedate = following
    return InvoiceLine(
        f"{title} (Renewal)",
        service.amount,
        taxed=bool(product and product.tax),
        type="Hosting",
        relid=service.id,
        duedate=due,
    )
