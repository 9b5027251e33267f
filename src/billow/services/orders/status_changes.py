"""An order's status changes: accepting (provisioning its services), back to pending,
cancelling, marking as fraud, deleting; and cancelling orders left unpaid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from billow.db.models import (
    CustomField,
    CustomFieldValue,
    Invoice,
    Order,
    Product,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    Transaction,
)
from billow.errors import ModuleFailed, NotFound, ValidationError
from billow.services.activity import log_activity
from billow.services.catalog import products as catalog_products
from billow.services.hosting import addon_provisioning, provisioning
from billow.services.hosting.servers import get_server
from billow.services.settings import setting_int
from billow.uow import UnitOfWork

NOT_PENDING = "Order ID not found or Status not Pending"


def get_order(uow: UnitOfWork, order_id: int, message: str = "Order ID Not Found") -> Order:
    order = uow.session.get(Order, order_id) if order_id else None
    if order is None:
        raise NotFound(message, code="order_not_found")
    return order


def order_services(uow: UnitOfWork, order_id: int) -> list[Service]:
    return list(uow.session.scalars(select(Service).where(Service.orderid == order_id).order_by(Service.id)))


def order_addons(uow: UnitOfWork, order_id: int) -> list[ServiceAddon]:
    return list(
        uow.session.scalars(
            select(ServiceAddon).where(ServiceAddon.orderid == order_id).order_by(ServiceAddon.id)
        )
    )


@dataclass
class AcceptOptions:
    serverid: int = 0
    serviceusername: str = ""
    servicepassword: str = ""
    registrar: str = ""
    sendregistrar: bool | None = None
    autosetup: bool | None = None
    sendemail: bool | None = None


def accept_order(uow: UnitOfWork, order_id: int, opts: AcceptOptions | None = None) -> Order:
    """Accept a Pending order: mark it Active and set up its services and addons.

    A service is provisioned when ``autosetup`` says so or, when not given, when its
    product's auto-setup is "on accept" (or "on order"); products without a module become
    Active at once. Addons follow the same rule with their product addon's module and
    auto-activation. Module failures are collected and raised together after every
    service and addon has been tried (the successful ones are kept).
    """
    opts = opts or AcceptOptions()
    # Lock the order row, then re-check: two concurrent accepts must not provision twice.
    order = (
        uow.session.scalar(select(Order).where(Order.id == order_id).with_for_update()) if order_id else None
    )
    if order is None or order.status != "Pending":
        raise NotFound(NOT_PENDING, code="order_not_pending")
    if opts.serverid:
        get_server(uow, opts.serverid)
    uow.emit("AcceptOrder", {"orderid": order.id}, resource_type="order", resource_id=order.id)
    order.status = "Active"
    send_email = True if opts.sendemail is None else opts.sendemail
    errors = []
    for service in order_services(uow, order.id):
        if service.status != "Pending":
            continue
        if opts.serverid:
            service.server_id = opts.serverid
        if opts.serviceusername:
            service.username = opts.serviceusername
        if opts.servicepassword:
            provisioning.set_service_password(service, opts.servicepassword)
        product = uow.session.get(Product, service.packageid)
        if product is None or not product.servertype:
            service.status = "Active"
            continue
        wanted = opts.autosetup if opts.autosetup is not None else product.autosetup in ("on", "order")
        if not wanted:
            continue
        result = provisioning.run(uow, service, "create", send_email=send_email)
        if not result.success:
            errors.append(result.error)
    for addon in order_addons(uow, order.id):
        if addon.status != "Pending":
            continue
        # An addon with a module is set up like a service: when the accept asks for it
        # or its auto-setup is "on accept"/"on order"; one without becomes Active.
        product_addon = addon_provisioning.product_addon(uow, addon)
        if product_addon is not None:
            auto = product_addon.autoactivate in ("on", "order")
            wanted = opts.autosetup if opts.autosetup is not None else auto
            if not wanted:
                continue
        result = addon_provisioning.change(uow, addon, "create")
        if not result.success:
            errors.append(result.error)
    log_activity(uow, f"Order Accepted - Order ID: {order.id}", client_id=order.userid)
    if errors:
        raise ModuleFailed("; ".join(errors), code="module_failed")
    return order


def _set_items_status(uow: UnitOfWork, order: Order, status: str, *, only: tuple[str, ...] = ()) -> None:
    for service in order_services(uow, order.id):
        if not only or service.status in only:
            service.status = status
    for addon in order_addons(uow, order.id):
        if not only or addon.status in only:
            addon.status = status


def pending_order(uow: UnitOfWork, order_id: int) -> Order:
    order = get_order(uow, order_id)
    uow.emit("PendingOrder", {"orderid": order.id}, resource_type="order", resource_id=order.id)
    order.status = "Pending"
    _set_items_status(uow, order, "Pending")
    log_activity(uow, f"Order Status set to Pending - Order ID: {order.id}", client_id=order.userid)
    return order


def cancel_order(uow: UnitOfWork, order_id: int) -> Order:
    order = uow.session.get(Order, order_id) if order_id else None
    if order is None or order.status != "Pending":
        raise NotFound(NOT_PENDING, code="order_not_pending")
    uow.emit("CancelOrder", {"orderid": order.id}, resource_type="order", resource_id=order.id)
    order.status = "Cancelled"
    _return_stock(uow, order)
    _set_items_status(uow, order, "Cancelled")
    _cancel_invoice(uow, order)
    log_activity(uow, f"Order Cancelled - Order ID: {order.id}", client_id=order.userid)
    return order


def fraud_order(uow: UnitOfWork, order_id: int) -> Order:
    order = get_order(uow, order_id)
    uow.emit("FraudOrder", {"orderid": order.id}, resource_type="order", resource_id=order.id)
    if order.status == "Pending":
        _return_stock(uow, order)
    order.status = "Fraud"
    _set_items_status(uow, order, "Fraud")
    for addon in order_addons(uow, order.id):
        uow.emit(
            "AddonFraud",
            {"id": addon.id, "userid": addon.userid, "serviceid": addon.service_id, "addonid": addon.addonid},
            resource_type="addon",
            resource_id=addon.id,
        )
    _cancel_invoice(uow, order)
    log_activity(uow, f"Order Status set to Fraud - Order ID: {order.id}", client_id=order.userid)
    return order


def delete_order(uow: UnitOfWork, order_id: int) -> None:
    order = get_order(uow, order_id, "Order ID not found")
    if order.status not in ("Cancelled", "Fraud"):
        raise ValidationError("The order status must be in Cancelled or Fraud to be deleted",
                              code="order_not_deletable")
    uow.emit("DeleteOrder", {"orderid": order.id}, resource_type="order", resource_id=order.id)
    delete_services(uow, [s.id for s in order_services(uow, order.id)])
    uow.session.execute(delete(ServiceAddon).where(ServiceAddon.orderid == order.id))
    _delete_invoice(uow, order)
    uow.session.delete(order)
    log_activity(uow, f"Deleted Order - Order ID: {order_id}", client_id=order.userid)


def delete_services(uow: UnitOfWork, service_ids: list[int]) -> None:
    """Remove services with their options, custom field values and addons."""
    if not service_ids:
        return
    owners = dict(
        uow.session.execute(select(Service.id, Service.userid).where(Service.id.in_(service_ids))).all()
    )
    uow.session.execute(delete(ServiceConfigOption).where(ServiceConfigOption.service_id.in_(service_ids)))

    product_fields = select(CustomField.id).where(CustomField.type == "product")
    uow.session.execute(
        delete(CustomFieldValue).where(
            CustomFieldValue.relid.in_(service_ids), CustomFieldValue.field_id.in_(product_fields)
        )
    )
    uow.session.execute(delete(ServiceAddon).where(ServiceAddon.service_id.in_(service_ids)))
    uow.session.execute(delete(Service).where(Service.id.in_(service_ids)))
    for service_id, client_id in owners.items():
        uow.emit(
            "ServiceDelete",
            {"userid": client_id, "clientId": client_id, "serviceid": service_id},
            resource_type="service",
            resource_id=service_id,
        )


def _return_stock(uow: UnitOfWork, order: Order) -> None:
    for service in order_services(uow, order.id):
        if service.status == "Pending":
            product = uow.session.get(Product, service.packageid)
            if product is not None:
                catalog_products.return_stock(product, service.qty)


def _cancel_invoice(uow: UnitOfWork, order: Order) -> None:
    """Cancel the order's invoice if nothing was paid on it (WHMCS does the same)."""
    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    if invoice is None or invoice.status not in ("Draft", "Unpaid", "Payment Pending"):
        return
    invoice.status = "Cancelled"
    invoice.date_cancelled = uow.now
    uow.emit("InvoiceCancelled", {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)


def _delete_invoice(uow: UnitOfWork, order: Order) -> None:
    """Delete the order's invoice unless money moved on it (the ledger stays whole)."""
    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    if invoice is None:
        return
    moved = uow.session.scalar(
        select(func.count()).select_from(Transaction).where(Transaction.invoice_id == invoice.id)
    )
    if not moved and invoice.status != "Paid":
        uow.session.delete(invoice)


# -- unpaid orders (the daily run) --------------------------------------------------------------
def unpaid_orders(uow: UnitOfWork, now: datetime, after: int, limit: int) -> list[int]:
    """Pending orders whose invoice is still unpaid ``OrderDaysGrace`` days after the order."""
    cutoff = now - timedelta(days=setting_int(uow, "OrderDaysGrace", 0))
    return list(uow.session.scalars(
        select(Order.id).join(Invoice, Invoice.id == Order.invoiceid).where(
            Order.id > after, Order.status == "Pending", Order.date <= cutoff, Invoice.status == "Unpaid")
        .order_by(Order.id).limit(limit)))


def cancel_unpaid_order(uow: UnitOfWork, order_id: int) -> bool:
    """Cancel an order left unpaid (False when it is no longer Pending)."""
    order = uow.session.get(Order, order_id)
    if order is None or order.status != "Pending":
        return False
    cancel_order(uow, order_id)
    return True
