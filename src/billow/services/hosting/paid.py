"""The paid step (``PAID_STEPS``): what a paid invoice means for services, addons, orders
and upgrades: due dates advance one period, Pending services set up on payment, services
suspended for non-payment come back, paid upgrades apply, modules renew.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from billow.db.models import Order, Product, Service, ServiceAddon, Upgrade
from billow.modules.servers import get_module
from billow.services.catalog.cycles import due_after
from billow.services.hosting import _module_calls, addon_provisioning
from billow.services.hosting.provisioning import OVERDUE_REASON
from billow.services.hosting.upgrades import apply_upgrade
from billow.services.settings import setting_on
from billow.uow import UnitOfWork


def on_invoice_paid(uow: UnitOfWork, invoice: Any) -> None:
    """The paid step: what a paid invoice means for services, addons, orders and upgrades."""
    for line in list(invoice.items):
        if line.type in ("Hosting", "Setup", "PromoHosting") and line.relid:
            if line.type == "Hosting":
                _service_paid(uow, line.relid, line.duedate)
        elif line.type == "Addon" and line.relid:
            _addon_paid(uow, line.relid, line.duedate)
        elif line.type == "Upgrade" and line.relid:
            upgrade = uow.session.get(Upgrade, line.relid)
            if upgrade is not None:
                apply_upgrade(uow, upgrade)
                order = uow.session.get(Order, upgrade.orderid)
                if order is not None:
                    order.status = "Active"
    for order in uow.session.scalars(select(Order).where(Order.invoiceid == invoice.id)):
        uow.emit(
            "OrderPaid",
            {"orderId": order.id, "userId": order.userid, "invoiceId": invoice.id},
            resource_type="order",
            resource_id=order.id,
        )


def _advance_paid_period(row: Service | ServiceAddon, paid_due: date | None) -> None:
    """A paid period moves the next due date on one cycle (once: only the period that was due).

    *paid_due* is the due date the invoice line paid; a line for another period (already
    advanced by an earlier payment) moves nothing. The next invoice date never lags it.
    """
    if row.nextduedate is not None and (paid_due is None or paid_due == row.nextduedate):
        row.nextduedate = due_after(row)
        if row.nextinvoicedate is None or row.nextinvoicedate < row.nextduedate:
            row.nextinvoicedate = row.nextduedate


def _service_paid(uow: UnitOfWork, service_id: int, paid_due: date | None) -> None:
    service = uow.session.get(Service, service_id)
    if service is None:
        return
    _advance_paid_period(service, paid_due)
    product = uow.session.get(Product, service.packageid)
    if service.status == "Pending" and product is not None and product.autosetup == "payment":
        if product.servertype:
            _module_calls.after_commit(uow, service.id, "create", when=("Pending",))
        else:
            service.status = "Active"
    elif (
        service.status == "Suspended"
        and service.suspendreason == OVERDUE_REASON
        and setting_on(uow, "AutoUnsuspend")
        and product is not None
        and product.servertype
    ):
        _module_calls.after_commit(uow, service.id, "unsuspend", when=("Suspended",))
    elif service.status == "Active" and product is not None and product.servertype:
        module_cls = get_module(product.servertype).__class__
        if module_cls.supports("renew"):
            _module_calls.after_commit(uow, service.id, "renew", when=("Active",))


def _addon_paid(uow: UnitOfWork, addon_id: int, paid_due: date | None) -> None:
    addon = uow.session.get(ServiceAddon, addon_id)
    if addon is None:
        return
    _advance_paid_period(addon, paid_due)
    if addon.status == "Pending":
        # With a module, only an auto-activation "on payment" sets it up (like a product's
        # auto-setup); a refused call stays Pending with its module queue entry.
        product_addon = addon_provisioning.product_addon(uow, addon)
        if product_addon is None:
            addon_provisioning.change(uow, addon, "create")
        elif product_addon.autoactivate == "payment":
            _module_calls.addon_after_commit(uow, addon.id, "create", when=("Pending",))
