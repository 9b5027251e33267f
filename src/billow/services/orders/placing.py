"""Placing an order (``AddOrder``): products, addons, domains' hosting and renewals become
Pending services, addons and an order with its invoice.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from billow.db.models import (
    Addon,
    Client,
    Order,
    Product,
    ProductGroup,
    Promotion,
    Service,
    ServiceAddon,
)
from billow.errors import NotFound, ValidationError
from billow.events import request_email
from billow.modules.gateways import active_gateways
from billow.money import ZERO, fmt
from billow.services.activity import log_activity
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoices import create_invoice
from billow.services.catalog import config_options as catalog_options
from billow.services.catalog import pricing, promotions
from billow.services.catalog import products as catalog_products
from billow.services.catalog.cycles import cycle, due_after, next_due
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.hosting import provisioning
from billow.services.hosting.config_options import add_options
from billow.services.orders._renewals import renewal_line
from billow.services.orders.requests import OrderItem, OrderRequest, PlacedOrder
from billow.uow import UnitOfWork


def new_ordernum(uow: UnitOfWork, request_data: dict[str, Any]) -> int:
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
        ordernum=new_ordernum(uow, {"products": [i.pid for i in req.items], "domains": []}),
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
        lines.append(renewal_line(uow, client, service_id))
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
    catalog_products.take_stock(uow, product, qty)
    c = pricing.cycle_for_product(product, item.billingcycle)
    with uow.session.no_autoflush:  # catalog reads: nothing pending affects them
        chosen = catalog_options.resolve_options(uow, product.id, item.configoptions)
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
        add_options(uow, service, chosen)
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


def create_order_invoice(
    uow: UnitOfWork, client: Client, order: Order, lines: list[InvoiceLine], *, send_email: bool
) -> int:
    """The order's first invoice, through the billing service (the one place invoices are made)."""
    invoice = create_invoice(
        uow, client.id, lines, paymentmethod=order.paymentmethod, send_email=send_email, duedate=uow.today
    )
    return int(invoice.id)


def check_payment_method(uow: UnitOfWork, method: str) -> None:
    """Refuse a payment method that is not an active gateway, with WHMCS's message."""
    names = [g.system_name for g in active_gateways(uow)]
    if method not in names:
        raise ValidationError("Invalid Payment Method. Valid options include " + ",".join(names),
                              code="invalid_payment_method")
