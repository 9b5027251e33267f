"""Orders: placing (``AddOrder``), accepting, pending, cancelling, fraud, deleting, listing,
and the fraud check.

An order creates its services and addons in ``Pending`` and, unless told not to, its first
invoice through the billing service (:func:`billow.services.billing.invoices.create_invoice`), in
the same transaction. Accepting an order provisions each service through
:mod:`billow.services.hosting.provisioning`; a module failure leaves that service ``Pending`` with a
retryable module-queue entry while the rest of the order goes ahead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select

from billow.db.models import (
    Addon,
    Client,
    CustomFieldValue,
    Order,
    Product,
    ProductGroup,
    Promotion,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)
from billow.db.queries import count_of
from billow.errors import ModuleFailed, NotFound, ValidationError
from billow.events import request_email
from billow.money import ZERO, fmt
from billow.services.activity import log_activity
from billow.services.billing.contract import InvoiceLine
from billow.services.catalog import config_options, pricing, products, promotions
from billow.services.catalog.cycles import cycle, due_after, next_due
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.hosting import addon_provisioning, provisioning
from billow.uow import UnitOfWork

ORDER_STATUSES = ("Pending", "Active", "Fraud", "Cancelled")
NOT_PENDING = "Order ID not found or Status not Pending"


@dataclass
class OrderItem:
    """One product line of ``AddOrder`` (the i-th entry of its parallel arrays)."""

    pid: int
    billingcycle: str = ""
    domain: str = ""
    qty: int = 1
    configoptions: dict[str, Any] = field(default_factory=dict)
    customfields: dict[str, str] = field(default_factory=dict)
    priceoverride: Decimal | None = None
    #: (addon id, quantity)
    addons: list[tuple[int, int]] = field(default_factory=list)
    hostname: str = ""
    ns1prefix: str = ""
    ns2prefix: str = ""
    rootpw: str = ""


@dataclass
class AddonOrder:
    """An addon-only line: *addon_id* on the client's existing *service_id*."""

    addon_id: int
    service_id: int
    qty: int = 1


@dataclass
class OrderRequest:
    client_id: int
    paymentmethod: str
    items: list[OrderItem] = field(default_factory=list)
    addon_items: list[AddonOrder] = field(default_factory=list)
    service_renewals: list[int] = field(default_factory=list)
    promocode: str = ""
    promooverride: bool = False
    affid: int = 0
    contactid: int = 0
    clientip: str = ""
    noinvoice: bool = False
    noinvoiceemail: bool = False
    noemail: bool = False
    nameservers: list[str] = field(default_factory=list)


@dataclass
class PlacedOrder:
    order: Order
    service_ids: list[int]
    addon_ids: list[int]
    domain_ids: list[int]
    invoice_id: int


def _new_ordernum(uow: UnitOfWork, request_data: dict[str, Any]) -> int:
    for override in uow.emit("OverrideOrderNumberGeneration", request_data, outbox=False):
        if override is not None and str(override).isdigit():
            return int(str(override))
    while True:
        number = secrets.randbelow(9_000_000_000) + 1_000_000_000
        if not uow.session.scalar(select(func.count()).select_from(Order).where(Order.ordernum == number)):
            return number


def _group_name(uow: UnitOfWork, product: Product) -> str:
    group = uow.session.get(ProductGroup, product.gid)
    return group.name if group else ""


def _period(uow: UnitOfWork, cycle_name: str, until: date | None = None) -> str:
    c = cycle(cycle_name)
    if not c.recurring:
        return ""
    start = uow.today
    end = (until or next_due(start, c.display, start.day)) - timedelta(days=1)
    return f" ({start.strftime('%d/%m/%Y')} - {end.strftime('%d/%m/%Y')})"


def get_client_for_order(uow: UnitOfWork, client_id: int) -> Client:
    client = uow.session.get(Client, client_id) if client_id else None
    if client is None:
        raise NotFound("Client ID Not Found", code="client_not_found")
    if client.status == "Closed":
        raise ValidationError("Unable to add order when client status is Closed", code="client_closed")
    return client


def add_order(uow: UnitOfWork, req: OrderRequest) -> PlacedOrder:
    """Place an order (``AddOrder``): services, addons, first invoice, events.

    Never provisions, whatever the products' auto-setup says: ``AcceptOrder`` or the
    payment of the invoice (auto-setup "on payment") does.
    """
    client = get_client_for_order(uow, req.client_id)
    check_payment_method(uow, req.paymentmethod)
    if not req.items and not req.addon_items and not req.service_renewals:
        raise ValidationError("No items added to cart so order cannot proceed", code="empty_cart")
    promotion = _promotion(uow, req.promocode)
    uow.emit(
        "PreShoppingCartCheckout",
        {
            "products": [
                {"pid": i.pid, "billingcycle": i.billingcycle, "domain": i.domain} for i in req.items
            ],
            "domains": [],
        },
        resource_type="client",
        resource_id=client.id,
    )
    order = Order(
        ordernum=_new_ordernum(uow, {"products": [i.pid for i in req.items], "domains": []}),
        userid=client.id,
        contactid=req.contactid,
        date=uow.now,
        paymentmethod=req.paymentmethod,
        ipaddress=req.clientip,
        status="Pending",
        promocode=promotion.code if promotion else "",
        promotype=promotion.type if promotion else "",
        promovalue=str(promotion.value.normalize()) if promotion else "",
        nameservers=",".join(req.nameservers),
        admin_requestor_id=uow.actor.admin_id or 0,
        requestor_id=uow.actor.user_id or 0,
        orderdata={"affid": req.affid} if req.affid else {},
    )
    uow.session.add(order)
    uow.session.flush()
    lines: list[InvoiceLine] = []
    service_ids: list[int] = []
    addon_ids: list[int] = []
    promo_used = False
    for item in req.items:
        created, item_lines, used = _add_item(uow, order, client, item, promotion, req)
        service_ids.extend(s.id for s in created)
        lines.extend(item_lines)
        promo_used = promo_used or used
        for service in created:
            for addon_id, qty in item.addons:
                addon, addon_lines = _add_service_addon(
                    uow, order, client, service, addon_id, qty, req.paymentmethod, check_package=True
                )
                addon_ids.append(addon.id)
                lines.extend(addon_lines)
    for addon_item in req.addon_items:
        service = uow.session.get(Service, addon_item.service_id)
        if service is None or service.userid != client.id:
            raise ValidationError("Service ID not owned by Client ID provided", code="service_not_owned")
        addon, addon_lines = _add_service_addon(
            uow,
            order,
            client,
            service,
            addon_item.addon_id,
            addon_item.qty,
            req.paymentmethod,
            check_package=True,
        )
        addon_ids.append(addon.id)
        lines.extend(addon_lines)
    for service_id in req.service_renewals:
        lines.append(_renewal_line(uow, client, service_id))
    if req.service_renewals:
        order.renewals = ",".join(f"service:{sid}" for sid in req.service_renewals)
    if promotion is not None and promo_used:
        promotion.uses += 1
    order.amount = sum((line.amount for line in lines), ZERO)
    invoice_id = 0
    if not req.noinvoice and lines and order.amount > 0:
        invoice_id = create_order_invoice(uow, client, order, lines, send_email=not req.noinvoiceemail)
        order.invoiceid = invoice_id
        for service in uow.session.scalars(
            select(Service).where(Service.orderid == order.id, Service.nextinvoicedate <= uow.today)
        ):
            service.nextinvoicedate = due_after(service, service.nextduedate or uow.today)
        for service_addon in uow.session.scalars(
            select(ServiceAddon).where(ServiceAddon.orderid == order.id)
        ):
            service_addon.nextinvoicedate = due_after(service_addon, service_addon.nextduedate or uow.today)
    if not req.noemail:
        # WHMCS sends "Order Confirmation" (a general template) to the client with the
        # order's fields merged in; relid is the client, as for every general template.
        request_email(
            uow, "Order Confirmation", client.id, order_id=order.id, order_number=str(order.ordernum),
            order_details="\n".join(f"{line.description} {fmt(line.amount)}" for line in lines),
            invoice_id=order.invoiceid, invoice_total=fmt(order.amount),
        )
    log_activity(uow, f"New Order Placed - Order ID: {order.id} - User ID: {client.id}", client_id=client.id)
    uow.emit(
        "AfterShoppingCartCheckout",
        {
            "OrderID": order.id,
            "OrderNumber": order.ordernum,
            "ServiceIDs": service_ids,
            "AddonIDs": addon_ids,
            "DomainIDs": [],
            "RenewalIDs": req.service_renewals,
            "PaymentMethod": req.paymentmethod,
            "InvoiceID": invoice_id,
            "TotalDue": order.amount,
        },
        resource_type="order",
        resource_id=order.id,
    )
    return PlacedOrder(order, service_ids, addon_ids, [], invoice_id)


def _promotion(uow: UnitOfWork, code: str) -> Promotion | None:
    if not code.strip():
        return None
    promotion = promotions.find_promotion(uow, code)
    if promotion is None:
        raise ValidationError("The promotion code entered does not exist", code="promotion_not_found")
    return promotion


def _add_item(
    uow: UnitOfWork,
    order: Order,
    client: Client,
    item: OrderItem,
    promotion: Promotion | None,
    req: OrderRequest,
) -> tuple[list[Service], list[InvoiceLine], bool]:
    product = uow.session.get(Product, item.pid) if item.pid else None
    if product is None:
        raise ValidationError("Invalid Product ID", code="product_not_found")
    qty = max(item.qty, 1)
    products.take_stock(uow, product, qty)
    c = pricing.cycle_for_product(product, item.billingcycle)
    with uow.session.no_autoflush:  # catalog reads: nothing pending affects them
        chosen = config_options.resolve_options(uow, product.id, item.configoptions)
        check_custom_fields(uow, item.customfields, required=True, kind="product", relid=product.id)
    applies = False
    if promotion is not None:
        applies = pricing.check_promotion(
            uow,
            promotion,
            client_id=client.id,
            pid=product.id,
            cycle_display=c.display,
            today=uow.today,
            override=req.promooverride,
        )
    # allowqty 2 (WHMCS 8.12 "one service, several units") keeps one service with a quantity;
    # otherwise each unit is its own service.
    per_service_qty, count = (qty, 1) if product.allowqty == 2 else (1, qty)
    quote = pricing.product_quote(
        uow,
        product,
        client.currency_id,
        c.display,
        chosen,
        qty=per_service_qty,
        promotion=promotion if applies else None,
        price_override=item.priceoverride,
    )
    places = client.currency.decimals if client.currency else 2
    first = pricing.prorata(product, quote.price, uow.today, c.display, places)
    first_price = first.price if first else quote.price
    first_payment = max(quote.setup + first_price - quote.discount, ZERO)
    period = _period(uow, c.display, first.next_due if first else None)
    services, lines = [], []
    group = _group_name(uow, product)
    for _ in range(count):
        service = Service(
            userid=client.id,
            orderid=order.id,
            packageid=product.id,
            regdate=uow.today,
            domain=(item.domain or item.hostname).strip().lower(),
            paymentmethod=req.paymentmethod,
            qty=per_service_qty,
            firstpaymentamount=first_payment,
            amount=quote.recurring,
            billingcycle=c.display,
            # Pro-rata services are due on their pro-rata day once the first invoice is paid.
            nextduedate=first.next_due if first else uow.today,
            nextinvoicedate=first.next_due if first else uow.today,
            anchor_day=first.day if first else 0,
            status="Pending",
            promoid=promotion.id if applies and promotion else 0,
        )
        if product.type == "server" and item.hostname:
            service.ns1 = f"{item.ns1prefix}.{item.hostname}" if item.ns1prefix else ""
            service.ns2 = f"{item.ns2prefix}.{item.hostname}" if item.ns2prefix else ""
        if item.rootpw:
            provisioning.set_service_password(service, item.rootpw)
        uow.session.add(service)
        uow.session.flush()
        for option in chosen:
            uow.session.add(
                ServiceConfigOption(
                    service_id=service.id,
                    option_id=option.option.id,
                    choice_id=option.choice.id if option.choice else 0,
                    qty=option.qty,
                )
            )
        save_custom_fields(uow, "product", service.id, item.customfields)
        services.append(service)
        title = f"{group} - {product.name}" + (f" - {service.domain}" if service.domain else "")
        lines.append(
            InvoiceLine(
                title + period,
                first_price,
                taxed=product.tax,
                type="Hosting",
                relid=service.id,
                duedate=uow.today,
            )
        )
        if quote.setup > 0:
            lines.append(
                InvoiceLine(
                    f"{title} Setup Fee",
                    quote.setup,
                    taxed=product.tax,
                    type="Setup",
                    relid=service.id,
                    duedate=uow.today,
                )
            )
        if quote.discount > 0 and promotion is not None:
            lines.append(
                InvoiceLine(
                    f"Promotional Code: {promotion.code} - {promotion.type}",
                    -min(quote.discount, quote.setup + first_price),
                    taxed=product.tax,
                    type="PromoHosting",
                    relid=service.id,
                    duedate=uow.today,
                )
            )
    return services, lines, applies


def _add_service_addon(
    uow: UnitOfWork,
    order: Order,
    client: Client,
    service: Service,
    addon_id: int,
    qty: int,
    paymentmethod: str,
    *,
    check_package: bool,
) -> tuple[ServiceAddon, list[InvoiceLine]]:
    addon = uow.session.get(Addon, addon_id) if addon_id else None
    if addon is None or (
        check_package and addon.packages and service.packageid not in [int(p) for p in addon.packages]
    ):
        raise ValidationError("Addon ID invalid", code="addon_not_found")
    c = pricing.cycle_for_product(addon, service.billingcycle if addon.billingcycle == "recurring" else "")
    quote = pricing.addon_quote(uow, addon, client.currency_id, c.display, qty)
    row = ServiceAddon(
        orderid=order.id,
        service_id=service.id,
        addonid=addon.id,
        userid=client.id,
        name=addon.name,
        qty=max(qty, 1),
        setupfee=quote.setup,
        recurring=quote.recurring,
        billingcycle=c.display,
        tax=addon.tax,
        status="Pending",
        regdate=uow.today,
        nextduedate=uow.today,
        nextinvoicedate=uow.today,
        paymentmethod=paymentmethod,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.emit(
        "AddonAdd",
        {"id": row.id, "userid": client.id, "serviceid": service.id, "addonid": addon.id},
        resource_type="addon",
        resource_id=row.id,
    )
    lines = [
        InvoiceLine(
            f"Addon - {addon.name}" + _period(uow, c.display),
            quote.price + quote.setup,
            taxed=addon.tax,
            type="Addon",
            relid=row.id,
            duedate=uow.today,
        )
    ]
    return row, lines


def _renewal_line(uow: UnitOfWork, client: Client, service_id: int) -> InvoiceLine:
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


def create_order_invoice(
    uow: UnitOfWork, client: Client, order: Order, lines: list[InvoiceLine], *, send_email: bool
) -> int:
    """The order's first invoice, through the billing service (the one place invoices are made)."""
    from billow.services.billing.invoices import create_invoice

    invoice = create_invoice(
        uow, client.id, lines, paymentmethod=order.paymentmethod, send_email=send_email, duedate=uow.today
    )
    return int(invoice.id)


def check_payment_method(uow: UnitOfWork, method: str) -> None:
    """Refuse a payment method that is not an active gateway, with WHMCS's message."""
    from billow.modules.gateways import active_gateways

    names = [g.system_name for g in active_gateways(uow)]
    if method not in names:
        raise ValidationError("Invalid Payment Method. Valid options include " + ",".join(names),
                              code="invalid_payment_method")


def payment_method_name(uow: UnitOfWork, method: str) -> str:
    from billow.modules.gateways import display_name, load_gateway

    gateway = load_gateway(uow, method)
    return display_name(uow, gateway) if gateway is not None else method


def payment_status(uow: UnitOfWork, order: Order) -> str:
    """The order's invoice status as GetOrders shows it ("" without an invoice)."""
    from billow.db.models import Invoice

    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    return invoice.status if invoice is not None else ""


# -- order status changes -------------------------------------------------------------------
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
        from billow.services.hosting.servers import get_server

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
    from billow.db.models import CustomField

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
                products.return_stock(product, service.qty)


def _cancel_invoice(uow: UnitOfWork, order: Order) -> None:
    """Cancel the order's invoice if nothing was paid on it (WHMCS does the same)."""
    from billow.db.models import Invoice

    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    if invoice is None or invoice.status not in ("Draft", "Unpaid", "Payment Pending"):
        return
    invoice.status = "Cancelled"
    invoice.date_cancelled = uow.now
    uow.emit("InvoiceCancelled", {"invoiceid": invoice.id}, resource_type="invoice", resource_id=invoice.id)


def _delete_invoice(uow: UnitOfWork, order: Order) -> None:
    """Delete the order's invoice unless money moved on it (the ledger stays whole)."""
    from billow.db.models import Invoice, Transaction

    invoice = uow.session.get(Invoice, order.invoiceid) if order.invoiceid else None
    if invoice is None:
        return
    moved = uow.session.scalar(
        select(func.count()).select_from(Transaction).where(Transaction.invoice_id == invoice.id)
    )
    if not moved and invoice.status != "Paid":
        uow.session.delete(invoice)


# -- reading --------------------------------------------------------------------------------
def list_orders(
    uow: UnitOfWork,
    *,
    order_id: int = 0,
    client_id: int = 0,
    requestor_id: int = 0,
    status: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[Order]]:
    query = select(Order)
    if order_id:
        query = query.where(Order.id == order_id)
    if client_id:
        query = query.where(Order.userid == client_id)
    if requestor_id:
        query = query.where(Order.requestor_id == requestor_id)
    if status:
        query = query.where(Order.status == status)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(Order.id.desc()).offset(offset).limit(limit))
    return total, list(rows)


def status_counts(uow: UnitOfWork) -> list[tuple[str, int]]:
    counts = dict(uow.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    return [(status, int(counts.get(status, 0))) for status in ORDER_STATUSES]


# -- fraud ----------------------------------------------------------------------------------
def fraud_check(uow: UnitOfWork, order_id: int, ip_override: str = "") -> tuple[str, Any]:
    """Run the active fraud module on an order; returns (module name, result)."""
    from billow.modules.fraud import fraud_class
    from billow.modules.fraud.base import FraudSubject
    from billow.services.hosting import module_settings

    order = get_order(uow, order_id)
    active = module_settings.active_modules(uow, "fraud")
    if not active:
        raise ValidationError("No Active Fraud Module", code="no_active_fraud_module")
    name = active[0]
    config = module_settings.settings_of(uow, "fraud", name)
    client = uow.session.get(Client, order.userid)
    ip = ip_override or order.ipaddress
    try:
        hours = int(config.get("velocity_hours") or 24)
    except ValueError:
        hours = 24
    from_ip = 0
    if ip:
        from_ip = (
            uow.session.scalar(
                select(func.count())
                .select_from(Order)
                .where(
                    Order.ipaddress == ip,
                    Order.date >= order.date - timedelta(hours=hours),
                    Order.date <= order.date,
                )
            )
            or 0
        )
    skip = [
        r for r in uow.emit("RunFraudCheck", {"orderid": order.id, "userid": order.userid}, outbox=False) if r
    ]
    subject = FraudSubject(
        order.id,
        order.userid,
        client.email if client else "",
        client.country if client else "",
        ip,
        str(order.amount),
        int(from_ip),
    )
    result = fraud_class(name)(config).check(subject)
    if skip:
        result.status, result.reasons = "Pass", ["skipped by a RunFraudCheck hook"]
    import json

    order.fraudmodule = name
    order.fraudoutput = json.dumps({"status": result.status, "reasons": result.reasons, **result.details})
    variables = {
        "orderid": order.id,
        "ordernumber": order.ordernum,
        "invoiceid": order.invoiceid,
        "amount": order.amount,
        "fraudresults": result.reasons,
        "isfraud": result.is_fraud,
        "clientdetails": {"userid": order.userid, "email": subject.email},
    }
    uow.emit("AfterFraudCheck", {**variables, "frauderror": ""}, resource_type="order", resource_id=order.id)
    uow.emit(
        "FraudCheckFailed" if result.is_fraud else "FraudCheckPassed",
        variables,
        resource_type="order",
        resource_id=order.id,
    )
    return name, result
