"""What things cost: the one place for product, option, addon and promotion arithmetic.

Every amount is a ``Decimal`` quantised to the currency's decimals at the end of the rule
that produces it. A quote separates the setup fee, the first cycle's price, the promotion
discount on the first payment and the recurring amount later invoices will carry, because
orders, renewals, upgrades and ``autorecalc`` each need a different one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from billow.db.models import Addon, Currency, Order, Price, Product, Promotion, Service
from billow.errors import ValidationError
from billow.money import ZERO, quantize
from billow.services.catalog.config_options import ChosenOption
from billow.services.catalog.cycles import Cycle, add_months, cycle, prorate
from billow.services.catalog.price_rows import prices_of
from billow.uow import UnitOfWork

HUNDRED = Decimal(100)


@dataclass
class Quote:
    setup: Decimal
    #: price of one cycle before any promotion (product + options, times quantity)
    price: Decimal
    #: promotion discount on the first payment (setup and price together)
    discount: Decimal
    #: what each renewal will cost (after a recurring promotion)
    recurring: Decimal

    @property
    def first_payment(self) -> Decimal:
        return self.setup + self.price - self.discount


def _places(uow: UnitOfWork, currency_id: int) -> int:
    currency = uow.session.get(Currency, currency_id)
    return currency.decimals if currency is not None else 2


def cycle_for_product(product: Product | Addon, requested: str) -> Cycle:
    """The billing cycle an item is sold on: free/one-off products ignore the request."""
    paytype = product.paytype if isinstance(product, Product) else product.billingcycle
    if paytype == "free":
        return cycle("free")
    if paytype == "onetime":
        return cycle("onetime")
    c = cycle(requested or "monthly")
    if not c.recurring:
        raise ValidationError("Invalid Billing Cycle", code="invalid_billing_cycle")
    return c


def _row_amounts(row: Price | None, c: Cycle, *, disabled_is_error: bool) -> tuple[Decimal, Decimal]:
    if not c.price_key:
        return ZERO, ZERO
    if row is None:
        if disabled_is_error:
            raise ValidationError(
                "No pricing defined for the product in the client's currency", code="no_pricing_for_currency"
            )
        return ZERO, ZERO
    price = getattr(row, c.price_key)
    if price < 0:
        if disabled_is_error:
            raise ValidationError(
                f"The {c.display} billing cycle is not available for this product",
                code="billing_cycle_unavailable",
            )
        return ZERO, ZERO
    return getattr(row, c.setup_key), price


def option_amounts(
    uow: UnitOfWork, chosen: list[ChosenOption], currency_id: int, c: Cycle
) -> tuple[Decimal, Decimal]:
    """Setup and per-cycle price of the chosen configurable options."""
    rows = prices_of(uow, "configoptions", [o.choice.id for o in chosen if o.choice is not None])
    setup = price = ZERO
    for option in chosen:
        if option.choice is None:
            continue
        row_setup, row_price = _row_amounts(
            rows.get((option.choice.id, currency_id)), c, disabled_is_error=False
        )
        units = Decimal(option.qty) if option.option.optiontype in (3, 4) else Decimal(1)
        setup += max(row_setup, ZERO) * units
        price += max(row_price, ZERO) * units
    return setup, price


def product_quote(
    uow: UnitOfWork,
    product: Product,
    currency_id: int,
    cycle_name: str,
    options: list[ChosenOption],
    *,
    qty: int = 1,
    promotion: Promotion | None = None,
    price_override: Decimal | None = None,
) -> Quote:
    """Price one service of *product*: setup, first cycle, promotion, renewals."""
    c = cycle_for_product(product, cycle_name)
    row = prices_of(uow, "product", [product.id]).get((product.id, currency_id))
    setup, price = _row_amounts(row, c, disabled_is_error=product.paytype != "free")
    opt_setup, opt_price = option_amounts(uow, options, currency_id, c)
    setup, price = setup + opt_setup, price + opt_price
    if price_override is not None:
        price = price_override
    units = Decimal(max(qty, 1))
    setup, price = setup * units, price * units
    discount, recurring_discount = promotion_discount(promotion, setup, price)
    places = _places(uow, currency_id)
    recurring = price - recurring_discount if promotion is not None and promotion.recurring else price
    if not c.recurring:
        recurring = ZERO if c.system == "free" else recurring
    return Quote(
        quantize(setup, places),
        quantize(price, places),
        quantize(discount, places),
        quantize(max(recurring, ZERO), places),
    )


@dataclass(frozen=True)
class ProRata:
    """The first period of a pro-rata product: from the order date to the pro-rata day."""

    #: what the first period costs (the prorated share, plus a full cycle when charged)
    price: Decimal
    #: the due date once the first invoice is paid
    next_due: date
    day: int


def prorata(
    product: Product, price: Decimal, today: date, cycle_name: str, places: int = 2
) -> ProRata | None:
    """WHMCS's pro-rata billing: bill up to the next ``proratadate`` day of the month.

    Ordered on or after ``proratachargenextmonth``, the following full cycle is charged
    too. ``None`` when the product does not bill pro rata or the cycle does not recur.
    """
    c = cycle(cycle_name)
    if not product.proratabilling or not product.proratadate or not c.recurring:
        return None
    day = min(max(product.proratadate, 1), 31)
    target = add_months(today.replace(day=1), 0, day)
    if target <= today:
        target = add_months(target, 1, day)
    share = prorate(price, today, target, c.display, day, places).amount
    if product.proratachargenextmonth and today.day >= product.proratachargenextmonth:
        return ProRata(quantize(share + price, places), add_months(target, c.months, day), day)
    return ProRata(share, target, day)


def addon_quote(uow: UnitOfWork, addon: Addon, currency_id: int, cycle_name: str, qty: int = 1) -> Quote:
    c = cycle_for_product(addon, cycle_name)
    row = prices_of(uow, "addon", [addon.id]).get((addon.id, currency_id))
    setup, price = _row_amounts(row, c, disabled_is_error=addon.billingcycle != "free")
    units = Decimal(max(qty, 1))
    places = _places(uow, currency_id)
    recurring = price * units if c.recurring else ZERO
    return Quote(
        quantize(setup * units, places), quantize(price * units, places), ZERO, quantize(recurring, places)
    )


def promotion_discount(
    promotion: Promotion | None, setup: Decimal, price: Decimal
) -> tuple[Decimal, Decimal]:
    """(first-payment discount, per-renewal discount) of *promotion* on *setup* + *price*."""
    if promotion is None:
        return ZERO, ZERO
    value = promotion.value
    if promotion.type == "Percentage":
        rate = min(max(value, ZERO), HUNDRED) / HUNDRED
        return (setup + price) * rate, price * rate
    if promotion.type == "Fixed Amount":
        cut = min(max(value, ZERO), price)
        return cut, cut
    if promotion.type == "Price Override":
        cut = max(price - max(value, ZERO), ZERO)
        return cut, cut
    if promotion.type == "Free Setup":
        return setup, ZERO
    return ZERO, ZERO


def check_promotion(
    uow: UnitOfWork,
    promotion: Promotion,
    *,
    client_id: int,
    pid: int | None,
    cycle_display: str,
    today: date,
    override: bool = False,
) -> bool:
    """True when *promotion* applies to product *pid* on *cycle_display* for the client.

    Refuses an expired, not yet started or used-up code with WHMCS's cart message;
    product and cycle restrictions only make the item not qualify (``False``), unless
    *override* (AddOrder's ``promooverride``).
    """
    if promotion.startdate and today < promotion.startdate:
        raise ValidationError("The promotion code entered is not yet valid", code="promotion_not_started")
    if promotion.expirationdate and today > promotion.expirationdate:
        raise ValidationError("The promotion code entered has expired", code="promotion_expired")
    if promotion.maxuses and promotion.uses >= promotion.maxuses:
        raise ValidationError(
            "The promotion code entered has already been used the maximum number of times",
            code="promotion_used_up",
        )
    if promotion.onceperclient:
        used = uow.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(
                Order.userid == client_id,
                Order.promocode == promotion.code,
                Order.status.in_(("Pending", "Active")),
            )
        )
        if used:
            raise ValidationError(
                "This promotion code can only be used once per client", code="promotion_once_per_client"
            )
    if promotion.newsignups or promotion.existingclient:
        has_services = uow.session.scalar(
            select(func.count())
            .select_from(Service)
            .where(Service.userid == client_id, Service.status == "Active")
        )
        if promotion.newsignups and has_services:
            raise ValidationError(
                "This promotion code is only valid for new customers", code="promotion_new_clients_only"
            )
        if promotion.existingclient and not has_services:
            raise ValidationError(
                "This promotion code is only valid for existing customers",
                code="promotion_existing_clients_only",
            )
    if override:
        return True
    applies = [p for p in promotion.appliesto.split(",") if p.strip()]
    if applies and (pid is None or str(pid) not in applies):
        return False
    cycles = [c.strip().lower().replace("-", "") for c in promotion.cycles.split(",") if c.strip()]
    return not (
        cycles
        and cycle_display.lower().replace("-", "").replace(" ", "")
        not in [c.replace(" ", "") for c in cycles]
    )


def service_recurring(
    uow: UnitOfWork,
    service: Service,
    options: list[ChosenOption],
    product: Product,
    currency_id: int,
    cycle_name: str,
) -> Decimal:
    """What *service* should recur at on its product's list price (``autorecalc``).

    A recurring promotion limited to ``recurfor`` renewals stops discounting once the
    service has been invoiced that many renewals.
    """
    promotion = uow.session.get(Promotion, service.promoid) if service.promoid else None
    if promotion is not None and promotion.recurfor and service.promo_uses >= promotion.recurfor:
        promotion = None
    quote = product_quote(
        uow, product, currency_id, cycle_name, options, qty=service.qty, promotion=promotion
    )
    return quote.recurring
