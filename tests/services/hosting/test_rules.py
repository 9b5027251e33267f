"""Hosting rules that moved out of the automation tasks, checked on their own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billow.db.models import Service, ServiceAddon
from billow.services.hosting.overdue import not_exempt
from billow.services.hosting.upgrades import upgrade_charge


def _service(amount: str, cycle: str, due: date) -> Service:
    return Service(amount=Decimal(amount), billingcycle=cycle, nextduedate=due, regdate=date(2026, 1, 1),
                   anchor_day=1)


def test_upgrade_charge_same_cycle_is_the_difference_of_the_remaining_shares():
    # 15 of 30 days left (June): half of 20 less half of 10.
    amount, remaining, total = upgrade_charge(
        _service("10.00", "Monthly", date(2026, 7, 1)), Decimal("20.00"), "Monthly", date(2026, 6, 16), 2)
    assert (amount, remaining, total) == (Decimal("5.00"), 15, 30)


def test_upgrade_charge_downgrade_is_a_credit_and_a_new_cycle_is_paid_in_full():
    service = _service("20.00", "Monthly", date(2026, 7, 1))
    assert upgrade_charge(service, Decimal("10.00"), "Monthly", date(2026, 6, 16), 2)[0] == Decimal("-5.00")
    assert upgrade_charge(service, Decimal("100.00"), "Annually", date(2026, 6, 16), 2)[0] == Decimal("90.00")


def test_upgrade_charge_of_a_one_time_service_never_goes_below_nothing():
    service = _service("30.00", "One Time", date(2026, 7, 1))
    charge = upgrade_charge(service, Decimal("50.00"), "One Time", date(2026, 6, 16), 2)
    assert charge == (Decimal("20.00"), 0, 0)
    assert upgrade_charge(service, Decimal("10.00"), "One Time", date(2026, 6, 16), 2)[0] == Decimal("0")


def test_one_exemption_check_for_services_and_addons(uow):
    # Both forms compile to a query (services also honour the auto-suspend override).
    today = date(2026, 6, 16)
    assert list(uow.session.scalars(select(Service.id).where(not_exempt(Service, today)))) == []
    assert list(uow.session.scalars(select(ServiceAddon.id).where(not_exempt(ServiceAddon, today)))) == []
    assert "overideautosuspend" in str(not_exempt(Service, today))
    assert "overideautosuspend" not in str(not_exempt(ServiceAddon, today))
