"""Upgrades and downgrades: the quote (with its proration rule), the upgrade order, and
applying a paid (or free) upgrade to the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billow.db.models import Order, Product, Service, Upgrade
from billow.errors import ValidationError
from billow.money import ZERO
from billow.services.activity import log_activity
from billow.services.billing.contract import InvoiceLine
from billow.services.catalog import config_options as catalog_options
from billow.services.catalog import pricing
from billow.services.catalog import products as catalog_products
from billow.services.catalog.cycles import anchor_day, cycle, next_due, prorate
from billow.services.hosting import _module_calls, provisioning
from billow.services.hosting.config_options import option_values, save_options, service_options
from billow.services.hosting.services import service_client
from billow.services.orders.placing import check_payment_method, create_order_invoice, new_ordernum
from billow.uow import UnitOfWork


@dataclass
class UpgradeQuote:
    service: Service
    old_product: Product
    new_product: Product
    new_cycle: str
    new_options: list[catalog_options.ChosenOption]
    new_recurring: Decimal
    days_remaining: int
    total_days: int
    amount: Decimal
    type: str


def calculate_upgrade(
    uow: UnitOfWork,
    service_id: int,
    type_: str,
    *,
    new_pid: int = 0,
    new_cycle: str = "",
    configoptions: dict[str, Any] | None = None,
) -> UpgradeQuote:
    """Price an upgrade: the new recurring amount and the prorated charge (or credit)."""
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    old_product = catalog_products.get_product(uow, service.packageid)
    client = service_client(uow, service.userid)
    current = option_values(service_options(uow, service))
    if type_ == "product":
        new_product = catalog_products.get_product(uow, new_pid)
        target_cycle = pricing.cycle_for_product(new_product, new_cycle or service.billingcycle).display
        linked = {str(o.id) for o, _ in catalog_options.product_options(uow, new_product.id)}
        options = catalog_options.resolve_options(
            uow, new_product.id, {k: v for k, v in current.items() if k in linked}
        )
    elif type_ == "configoptions":
        new_product, target_cycle = old_product, service.billingcycle
        options = catalog_options.resolve_options(
            uow, old_product.id, {**current, **{str(k): v for k, v in (configoptions or {}).items()}}
        )
    else:
        raise ValidationError("Invalid Upgrade Type", code="invalid_upgrade_type")
    promotion = None
    new_recurring = pricing.product_quote(
        uow, new_product, client.currency_id, target_cycle, options, qty=service.qty, promotion=promotion
    ).recurring
    places = client.currency.decimals if client.currency else 2
    amount, days_remaining, total_days = upgrade_charge(
        service, new_recurring, target_cycle, uow.today, places
    )
    return UpgradeQuote(
        service,
        old_product,
        new_product,
        target_cycle,
        options,
        new_recurring,
        days_remaining,
        total_days,
        amount,
        type_,
    )


def upgrade_charge(
    service: Service, new_recurring: Decimal, target_cycle: str, today: date, places: int
) -> tuple[Decimal, int, int]:
    """The upgrade proration rule: (amount due now, days remaining, days in the period).

    * A non-recurring service pays the difference, never less than nothing.
    * Same cycle: the new price's share of the days left, less the old price's share
      (negative: a downgrade credit).
    * New cycle: it starts today and is paid in full, less the unused part of the old one.
    """
    if not cycle(service.billingcycle).recurring:
        return max(new_recurring - service.amount, ZERO), 0, 0
    due = service.nextduedate or today
    old_share = prorate(service.amount, today, due, service.billingcycle, anchor_day(service), places)
    if target_cycle == service.billingcycle:
        share = prorate(new_recurring, today, due, service.billingcycle, anchor_day(service), places)
        amount = share.amount - old_share.amount
    else:
        amount = new_recurring - old_share.amount
    return amount, old_share.days_remaining, old_share.total_days


def upgrade_service(uow: UnitOfWork, quote: UpgradeQuote, paymentmethod: str) -> tuple[Upgrade, Order, int]:
    """Create the upgrade order (and its invoice when something is due); apply it when free."""
    service = quote.service
    pending = uow.session.scalars(
        select(Upgrade).where(
            Upgrade.service_id == service.id, Upgrade.status == "Pending", Upgrade.invoiceid > 0
        )
    )
    if any(True for _ in pending):
        raise ValidationError(
            "Unable to accept upgrade order. Previous upgrade invoice for service is still unpaid.",
            code="upgrade_invoice_unpaid",
        )
    check_payment_method(uow, paymentmethod)
    client = service_client(uow, service.userid)
    order = Order(
        ordernum=new_ordernum(uow, {"products": [quote.new_product.id], "domains": []}),
        userid=client.id,
        date=uow.now,
        paymentmethod=paymentmethod,
        status="Pending",
        amount=max(quote.amount, ZERO),
        admin_requestor_id=uow.actor.admin_id or 0,
    )
    uow.session.add(order)
    uow.session.flush()
    upgrade = Upgrade(
        orderid=order.id,
        service_id=service.id,
        userid=client.id,
        type="package" if quote.type == "product" else "configoptions",
        date=uow.today,
        original={
            "pid": service.packageid,
            "billingcycle": service.billingcycle,
            "amount": str(service.amount),
        },
        new={
            "pid": quote.new_product.id,
            "billingcycle": quote.new_cycle,
            "configoptions": {
                str(o.option.id): (
                    o.qty if o.option.optiontype in (3, 4) else (o.choice.id if o.choice else "")
                )
                for o in quote.new_options
            },
        },
        amount=quote.amount,
        new_recurring=quote.new_recurring,
        days_remaining=quote.days_remaining,
        total_days=quote.total_days,
        status="Pending",
    )
    uow.session.add(upgrade)
    uow.session.flush()
    invoice_id = 0
    if quote.amount > 0:
        line = InvoiceLine(
            f"Upgrade/Downgrade: {quote.old_product.name} => {quote.new_product.name} "
            f"({uow.today.isoformat()} - {(service.nextduedate or uow.today).isoformat()})",
            quote.amount,
            taxed=quote.new_product.tax,
            type="Upgrade",
            relid=upgrade.id,
            duedate=uow.today,
        )
        invoice_id = create_order_invoice(uow, client, order, [line], send_email=True)
        order.invoiceid = invoice_id
        upgrade.invoiceid = invoice_id
    else:
        apply_upgrade(uow, upgrade)
        order.status = "Active"
    log_activity(
        uow, f"Upgrade Order Placed - Service ID: {service.id} - Order ID: {order.id}", client_id=client.id
    )
    return upgrade, order, invoice_id


def apply_upgrade(uow: UnitOfWork, upgrade: Upgrade) -> None:
    """Make a paid (or free) upgrade real: new product/options/amount, then the module."""
    if upgrade.status == "Completed":
        return
    service = provisioning.get_service(uow, upgrade.service_id)
    new = upgrade.new or {}
    old_cycle = service.billingcycle
    service.packageid = int(new.get("pid") or service.packageid)
    service.billingcycle = str(new.get("billingcycle") or service.billingcycle)
    save_options(
        uow, service, catalog_options.resolve_options(uow, service.packageid, new.get("configoptions") or {})
    )
    service.amount = upgrade.new_recurring
    if service.billingcycle != old_cycle:
        service.anchor_day = uow.today.day
        service.nextduedate = next_due(uow.today, service.billingcycle, uow.today.day)
        service.nextinvoicedate = service.nextduedate
    upgrade.status = "Completed"
    product = uow.session.get(Product, service.packageid)
    if service.status in ("Active", "Suspended") and product is not None and product.servertype:
        # after the commit: no module call inside the transaction (or the paid step's savepoint)
        _module_calls.after_commit(uow, service.id, "changepackage", when=("Active", "Suspended"))
    uow.emit(
        "AfterProductUpgrade", {"upgradeid": upgrade.id}, resource_type="service", resource_id=service.id
    )
