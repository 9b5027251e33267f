"""Billing-cycle date rules, proration and promotions: Decimal, at cycle boundaries."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from billow.clock import frozen
from billow.db.models import Invoice, Product, Promotion, Service
from billow.services.catalog import price_rows, promotions
from billow.services.catalog.cycles import add_months, cycle, next_due, prorate
from catalog_helpers import build_shop, make_client


@pytest.mark.parametrize(
    ("start", "cycle_name", "expected"),
    [
        (date(2025, 1, 31), "Monthly", date(2025, 2, 28)),
        (date(2024, 1, 31), "monthly", date(2024, 2, 29)),  # leap year
        (date(2025, 3, 31), "Monthly", date(2025, 4, 30)),
        (date(2025, 8, 31), "quarterly", date(2025, 11, 30)),
        (date(2024, 2, 29), "Annually", date(2025, 2, 28)),
        (date(2024, 2, 29), "Biennially", date(2026, 2, 28)),
        (date(2025, 12, 31), "Semi-Annually", date(2026, 6, 30)),
        (date(2025, 5, 15), "Triennially", date(2028, 5, 15)),
        (date(2025, 5, 15), "One Time", date(2025, 5, 15)),
        (date(2025, 5, 15), "Free Account", date(2025, 5, 15)),
    ],
)
def test_next_due_month_end_rule(start, cycle_name, expected):
    assert next_due(start, cycle_name, start.day) == expected


def test_anchor_day_returns_to_the_31st():
    due = date(2025, 1, 31)
    seen = []
    for _ in range(4):
        due = next_due(due, "Monthly", 31)
        seen.append(due)
    assert seen == [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31)]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(1, 120))
def test_add_months_never_overflows_and_keeps_the_day_when_it_can(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == min(start.day, calendar.monthrange(result.year, result.month)[1])


def test_proration_counts_real_days():
    feb = prorate(Decimal("29.00"), date(2024, 2, 15), date(2024, 2, 29), "Monthly", 31)
    assert (feb.days_remaining, feb.total_days, feb.amount) == (14, 29, Decimal("14.00"))
    anchored_29th = prorate(Decimal("31.00"), date(2024, 2, 15), date(2024, 2, 29), "Monthly", 29)
    assert (anchored_29th.total_days, anchored_29th.amount) == (31, Decimal("14.00"))
    year = prorate(Decimal("366.00"), date(2024, 3, 1), date(2025, 1, 1), "Annually", 1)
    assert (year.total_days, year.days_remaining, year.amount) == (366, 306, Decimal("306.00"))
    past = prorate(Decimal("10"), date(2024, 3, 5), date(2024, 3, 1), "Monthly", 1)
    assert past.amount == Decimal("0.00")


def test_cycle_spellings():
    assert cycle("semiannually").display == cycle("Semi-Annually").display == "Semi-Annually"
    assert cycle("One-Time").system == "onetime" and cycle("free").display == "Free Account"


def _promo(uow, code, **kw):
    return promotions.add_promotion(uow, promotions.PromotionInput(code=code, **kw))


@pytest.mark.parametrize(
    ("kind", "value", "recurring", "first", "renewal"),
    [
        ("Percentage", "10", True, "13.50", "9.00"),  # 10% of 10 + 5 setup; renewals 9.00
        ("Percentage", "10", False, "13.50", "10.00"),  # first payment only
        ("Fixed Amount", "4", True, "11.00", "6.00"),
        ("Price Override", "7.50", True, "12.50", "7.50"),
        ("Free Setup", "0", False, "10.00", "10.00"),
    ],
)
def test_promotions_on_orders(api, uow, db, kind, value, recurring, first, renewal):
    shop = build_shop(uow)
    client = make_client(uow)
    _promo(uow, "CODE", type=kind, value=Decimal(value), recurring=recurring, appliesto=[shop.hosting.id])
    uow.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        billingcycle="monthly",
        promocode="CODE",
    )
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.firstpaymentamount, service.amount) == (Decimal(first), Decimal(renewal))
        assert s.get(Invoice, int(placed["invoiceid"])).subtotal == Decimal(first)
        assert s.scalar(select(Promotion)).uses == 1 and service.promoid


def test_promotion_restrictions(api, uow, db):
    shop = build_shop(uow)
    client = make_client(uow)
    _promo(uow, "OLD", expirationdate=date(2020, 1, 1), value=Decimal("5"))
    _promo(uow, "ONCE", maxuses=1, value=Decimal("5"))
    _promo(uow, "ANNUAL", value=Decimal("50"), cycles="Annually", appliesto=[shop.hosting.id])
    uow.commit()
    order = {
        "clientid": client.id,
        "paymentmethod": "mailin",
        "pid": shop.hosting.id,
        "billingcycle": "monthly",
    }
    assert api.error("AddOrder", **order, promocode="NOPE") == "The promotion code entered does not exist"
    assert api.error("AddOrder", **order, promocode="OLD") == "The promotion code entered has expired"
    api.ok("AddOrder", **order, promocode="ONCE")
    assert "maximum number of times" in api.error("AddOrder", **order, promocode="ONCE")
    monthly = api.ok("AddOrder", **order, promocode="ANNUAL")  # wrong cycle: no discount
    annual = api.ok("AddOrder", **{**order, "billingcycle": "annually"}, promocode="ANNUAL")
    forced = api.ok("AddOrder", **{**order, "pid": shop.manual.id}, promocode="ANNUAL", promooverride=1)
    with db() as s:
        assert s.get(Service, int(monthly["serviceids"])).firstpaymentamount == Decimal("15.00")
        assert s.get(Service, int(annual["serviceids"])).firstpaymentamount == Decimal("50.00")
        assert s.get(Service, int(forced["serviceids"])).firstpaymentamount == Decimal("1.50")


def test_stock_control_and_quantities(api, uow, db):
    shop = build_shop(uow)
    client = make_client(uow)
    product = uow.session.get(Product, shop.manual.id)
    product.stockcontrol, product.qty = True, 3
    uow.commit()
    two = api.ok("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id, qty=2)
    assert two["serviceids"].count(",") == 1
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id, qty=2)
        == "Support Plan is out of stock"
    )
    api.ok("CancelOrder", orderid=two["orderid"])  # stock comes back
    with db() as s:
        assert s.get(Product, shop.manual.id).qty == 3
    with frozen(date(2025, 1, 1)):
        api.ok(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            pid=shop.manual.id,
            qty=3,
            priceoverride="1.25",
        )
    with db() as s:
        amounts = {svc.amount for svc in s.scalars(select(Service).where(Service.status == "Pending"))}
        assert amounts == {Decimal("1.2500")}


def test_disabled_cycle_and_bad_config_option(api, uow):
    shop = build_shop(uow)
    client = make_client(uow)
    uow.commit()
    assert (
        api.error(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            pid=shop.hosting.id,
            billingcycle="quarterly",
        )
        == "The Quarterly billing cycle is not available for this product"
    )
    assert (
        api.error(
            "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, billingcycle="weekly"
        )
        == "Invalid Billing Cycle"
    )
    assert (
        api.error(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            pid=shop.vps.id,
            **{f"configoptions[0][{shop.ram.id}]": 9999},
        )
        == "Invalid option selected for RAM"
    )
    assert api.error("AddOrder", clientid=client.id, paymentmethod="mailin", pid=999) == "Invalid Product ID"


def test_recurring_promotion_stops_after_recurfor_renewals(api, uow, db):
    from billow.services.billing import generation as invoicegen
    from billow.uow import UnitOfWork

    shop = build_shop(uow)
    client = make_client(uow)
    _promo(uow, "TWICE", type="Fixed Amount", value=Decimal("4"), recurring=True, recurfor=2)
    # Three renewals invoiced in a row without payment need continuous generation (WHMCS
    # otherwise waits for the previous period's payment; see services/invoice_timing.py).
    from billow.services.settings import set_setting

    set_setting(uow, "ContinuousInvoiceGeneration", "on")
    uow.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        billingcycle="monthly",
        promocode="TWICE",
        noinvoice=1,
    )
    sid = int(placed["serviceids"])
    with UnitOfWork(db) as work:
        service = work.session.get(Service, sid)
        service.status = "Active"
        service.regdate = service.nextduedate = service.nextinvoicedate = date(2025, 1, 10)
        work.commit()
    totals = []
    for as_of in (date(2025, 1, 10), date(2025, 2, 10), date(2025, 3, 10)):
        with UnitOfWork(db) as work:
            [invoice] = invoicegen.generate_invoices(work, as_of=as_of)
            totals.append(invoice.total)
            work.commit()
    assert totals == [Decimal("6.0000"), Decimal("6.0000"), Decimal("10.0000")]


@pytest.mark.parametrize(
    ("ordered", "charge_next", "first", "due"),
    [
        (date(2025, 1, 16), 0, "5.16", date(2025, 2, 1)),  # 10.00 x 16/31 up to the 1st
        (date(2025, 1, 16), 20, "5.16", date(2025, 2, 1)),  # before the 20th: share only
        (date(2025, 1, 25), 20, "12.26", date(2025, 3, 1)),  # 10 x 7/31 + next month in full
        (date(2024, 2, 10), 0, "6.90", date(2024, 3, 1)),  # leap February: 20 of 29 days
    ],
)
def test_pro_rata_products(api, uow, db, ordered, charge_next, first, due):
    shop = build_shop(uow)
    client = make_client(uow)
    product = uow.session.get(Product, shop.manual.id)
    product.proratabilling, product.proratadate, product.proratachargenextmonth = True, 1, charge_next
    price_rows.set_price(uow, "product", product.id, shop.currency.id, {"monthly": "10.00"})
    uow.commit()
    with frozen(ordered):
        placed = api.ok("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id)
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.firstpaymentamount, service.nextduedate, service.amount) == (
            Decimal(first),
            due,
            Decimal("10.0000"),
        )
    from billow.services.billing import payments
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as work:
        payments.add_payment(work, int(placed["invoiceid"]), transid="pr", gateway="mailin")
        work.commit()
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert service.nextduedate == due and service.nextinvoicedate == due
