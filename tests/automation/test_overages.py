"""Overage billing: the month's disk and bandwidth above the soft limits, on the last day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from billow import event_catalog, events
from billow.automation.runner import run_cron
from billow.automation.tasks.billing import CreateInvoices
from billow.automation.tasks.overages import OverageBilling
from billow.db.models import (
    BillableItem,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionGroup,
    Currency,
    CustomField,
    CustomFieldValue,
    Invoice,
    Product,
    ProductConfigLink,
    ServiceConfigOption,
)
from billow.errors import NotFound, ValidationError
from billow.services.billing.overages import is_billing_day, set_product_overages
from billow.services.settings import set_setting

from . import book

FEB_END = date(2027, 2, 28)
MB_PER_GB = 1024


class SimulatedCrash(BaseException):
    """Stands for a killed process: not an error a task may catch."""


def _product(uow, name: str = "Shared Hosting", **terms) -> Product:
    made = book.product(uow, name)
    settings = {"enabled": True, "disk_limit": 1, "disk_unit": "GB", "disk_price": "1.50",
                "bw_limit": 10000, "bw_unit": "MB", "bw_price": "0.0125"}
    settings.update(terms)
    return set_product_overages(uow, made.id, **settings)


def _service(uow, owner, product, *, disk: int = 0, bw: int = 0, status: str = "Active", domain: str = ""):
    svc = book.service(uow, owner, product, due=date(2027, 3, 15), status=status,
                       domain=domain or f"site{owner.id}.example")
    svc.diskusage, svc.bwusage = disk, bw
    return svc


def _invoices(db) -> list[tuple[int, Decimal, list[tuple[str, str, Decimal]]]]:
    with db() as session:
        return [(inv.client_id, inv.total, [(line.type, line.description, line.amount) for line in inv.items])
                for inv in session.scalars(select(Invoice).order_by(Invoice.id))]


def _items(db) -> list[BillableItem]:
    with db() as session:
        rows = list(session.scalars(select(BillableItem).order_by(BillableItem.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize(("day", "last"), [
    (date(2027, 1, 31), True), (date(2027, 1, 30), False), (date(2027, 2, 28), True),
    (date(2028, 2, 28), False), (date(2028, 2, 29), True), (date(2027, 4, 30), True),
    (date(2027, 4, 29), False), (date(2027, 12, 31), True), (date(2027, 3, 1), False),
])
def test_the_billing_day_is_the_last_of_the_month(day, last):
    assert is_billing_day(day) is last


def test_charges_come_once_on_the_last_day_with_exact_amounts(db, uow):
    product = _product(uow)
    owner = book.client(uow, "heavy")
    # 1.5 GB of disk on a 1 GB limit at 1.50/GB; 12,345 MB of bandwidth on 10,000 MB at 0.0125/MB.
    svc = _service(uow, owner, product, disk=1536, bw=12345, domain="whmcsdemo.example")
    uow.commit()
    billed_on = []
    day = FEB_END - timedelta(days=3)
    while day <= FEB_END + timedelta(days=3):
        before = len(_invoices(db))
        report = run_cron(db, as_of=day, tasks=[OverageBilling()])
        assert report.result("OverageBilling").status == "completed"
        if len(_invoices(db)) > before:
            billed_on.append(day)
        day += timedelta(days=1)
    assert billed_on == [FEB_END]
    heading = "Shared Hosting - whmcsdemo.example (01/02/2027 - 28/02/2027)"
    [(client_id, total, lines)] = _invoices(db)
    assert client_id == owner.id and total == Decimal("30.06")
    assert [(kind, text) for kind, text, _ in lines] == [
        ("Item", f"{heading}\nTotal Disk Usage = 1.5 GB - Overage Charge = 0.5 GB @ 1.50/GB"),
        ("Item", f"{heading}\nTotal Bandwidth Usage = 12345 MB - Overage Charge = 2345 MB @ 0.0125/MB"),
    ]
    # 0.5 x 1.50 = 0.75; 2,345 x 0.0125 = 29.3125, rounded half-up to the cent.
    assert [amount for _, _, amount in lines] == [Decimal("0.75"), Decimal("29.31")]
    items = _items(db)
    with db() as session:
        invoice = session.scalar(select(Invoice))
        assert sorted(line.relid for line in invoice.items) == [i.id for i in items]
        assert invoice.date == FEB_END and invoice.duedate == FEB_END and invoice.status == "Unpaid"
    assert all(i.invoiceaction == "nextcron" and i.invoicecount == 1 and i.invoice_id == invoice.id
               for i in items)
    assert svc.id  # the service stays as it was: usage is not reset by billing


def test_no_charge_within_the_limits(db, uow):
    product = _product(uow)
    at_limit = _service(uow, book.client(uow, "exact"), product, disk=MB_PER_GB, bw=10000)
    under = _service(uow, book.client(uow, "light"), product, disk=10, bw=20)
    # 1,064 MB is 1.039 GB: measured to a tenth of a GB that is no overage at all.
    crumbs = _service(uow, book.client(uow, "crumbs"), product, disk=MB_PER_GB + 40, bw=0)
    uow.commit()
    report = run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    assert report.result("OverageBilling").counts == {"within_limits": 3}
    assert _invoices(db) == [] and _items(db) == []
    assert {at_limit.id, under.id, crumbs.id}


def test_rounding_to_a_tenth_of_a_gigabyte_and_to_the_currency(db, uow):
    product = _product(uow, disk_limit=1, disk_price="0.3333", bw_limit=999999999)
    _service(uow, book.client(uow, "tenth"), product, disk=1100)  # 1.0742 GB: 0.1 GB over
    tb = _product(uow, "Storage", disk_limit=0, disk_unit="TB", disk_price="10", bw_limit=999999999)
    _service(uow, book.client(uow, "tb"), tb, disk=1024 * 1024 + 52429)  # 1.05 TB, all billed
    _service(uow, book.client(uow, "tie"), _product(uow, "Tie", bw_limit=100), bw=110)  # 0.125: half up
    uow.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    lines = [lines[0] for _, _, lines in _invoices(db)]
    assert [line[2] for line in lines] == [Decimal("0.03"), Decimal("10.50"), Decimal("0.13")]
    assert lines[0][1].endswith("Total Disk Usage = 1.1 GB - Overage Charge = 0.1 GB @ 0.3333/GB")
    assert lines[1][1].endswith("Total Disk Usage = 1.0500 TB - Overage Charge = 1.0500 TB @ 10.00/TB")


def test_next_invoice_method_adds_items_that_ride_on_the_renewal(db, uow):
    set_setting(uow, "OverageBillingMethod", "2")
    product = _product(uow)
    owner = book.client(uow, "later")
    svc = _service(uow, owner, product, disk=2048)
    uow.commit()
    report = run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    assert report.result("OverageBilling").counts == {"services": 1, "disk": 1, "next_invoice_items": 1}
    assert _invoices(db) == []
    [item] = _items(db)
    assert (item.invoiceaction, item.invoicecount, item.amount) == ("nextinvoice", 0, Decimal("1.50"))
    # The renewal invoice (14 days before the 15 March due date) carries it as its last line.
    run_cron(db, as_of=date(2027, 3, 1), tasks=[CreateInvoices()])
    [(client_id, total, lines)] = _invoices(db)
    assert client_id == owner.id and total == Decimal("11.50")
    assert [(kind, amount) for kind, _, amount in lines] == [("Hosting", Decimal("10.00")),
                                                             ("Item", Decimal("1.50"))]
    assert _items(db)[0].invoicecount == 1 and svc.id


def test_invoice_now_makes_one_invoice_per_client_that_generation_never_repeats(db, uow):
    product = _product(uow)
    other = _product(uow, "Reseller", disk_limit=5, disk_price="2")
    twice = book.client(uow, "two-services")
    _service(uow, twice, product, disk=3 * MB_PER_GB)
    _service(uow, twice, other, disk=6 * MB_PER_GB, bw=10001)
    once = book.client(uow, "one-service")
    _service(uow, once, product, bw=10100)
    uow.commit()
    report = run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    assert report.result("OverageBilling").counts == {"services": 3, "disk": 2, "bandwidth": 2, "invoices": 2}
    invoices = _invoices(db)
    assert [(client, total, len(lines)) for client, total, lines in invoices] == [
        (twice.id, Decimal("5.01"), 3),  # 2 GB x 1.50 + 1 GB x 2.00 + 1 MB x 0.0125 (0.01)
        (once.id, Decimal("1.25"), 1),   # 100 MB x 0.0125
    ]
    # Invoice generation the next day finds nothing of the overage items left to bill.
    run_cron(db, as_of=date(2027, 3, 1), tasks=[CreateInvoices()])
    later = _invoices(db)[2:]
    assert all(kind != "Item" for _, _, lines in later for kind, _, _ in lines)


def test_disabled_products_and_unbilled_statuses_are_left_alone(db, uow):
    off = _product(uow, "No overages", enabled=False)
    product = _product(uow, bw_price="0")  # bandwidth free: only disk is charged
    owner = book.client(uow, "mixed")
    _service(uow, owner, off, disk=50 * MB_PER_GB, bw=99999)
    billed = _service(uow, owner, product, disk=2 * MB_PER_GB, bw=99999, status="Suspended")
    for status in ("Pending", "Terminated", "Cancelled", "Fraud"):
        _service(uow, owner, product, disk=9 * MB_PER_GB, status=status)
    uow.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    [(_, total, lines)] = _invoices(db)
    assert total == Decimal("1.50") and len(lines) == 1 and "Total Disk Usage = 2.0 GB" in lines[0][1]
    assert f"site{owner.id}.example" in lines[0][1] and billed.status == "Suspended"


def test_a_rerun_of_the_month_bills_nothing_twice(db, uow):
    product = _product(uow)
    owner = book.client(uow, "rerun")
    svc = _service(uow, owner, product, disk=2 * MB_PER_GB)
    uow.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    again = run_cron(db, as_of=FEB_END, tasks=[OverageBilling()], force=True)
    assert again.result("OverageBilling").counts == {}
    # More usage reported later that day changes nothing: the month is billed.
    with db() as session:
        session.get(type(svc), svc.id).diskusage = 5 * MB_PER_GB
        session.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()], force=True)
    assert len(_invoices(db)) == 1 and len(_items(db)) == 1
    # The next month is a new month.
    run_cron(db, as_of=date(2027, 3, 31), tasks=[OverageBilling()])
    invoices = _invoices(db)
    assert len(invoices) == 2 and "(01/03/2027 - 31/03/2027)" in invoices[1][2][0][1]
    assert invoices[1][1] == Decimal("6.00")


@pytest.mark.parametrize("crash_at_batch", [1, 2])
def test_a_crash_then_rerun_bills_each_client_exactly_once(db, uow, crash_at_batch):
    product = _product(uow)
    owners = [book.client(uow, f"c{n}") for n in range(5)]
    for owner in owners:
        _service(uow, owner, product, disk=2 * MB_PER_GB)
    uow.commit()
    seen = {"n": 0}

    def crash(task, items) -> None:
        seen["n"] += 1
        if seen["n"] == crash_at_batch:
            raise SimulatedCrash

    task = OverageBilling()
    task.batch_size = 2
    with pytest.raises(SimulatedCrash):
        run_cron(db, as_of=FEB_END, tasks=[task], before_batch=crash)
    report = run_cron(db, as_of=FEB_END, tasks=[task])
    assert report.result("OverageBilling").status == "completed"
    assert sorted(client for client, _, _ in _invoices(db)) == [o.id for o in owners]
    assert len(_items(db)) == 5


def test_a_non_default_currency_is_converted_and_rounded_to_its_decimals(db, uow):
    product = _product(uow)
    usd = book.currency(uow)
    eur = Currency(code="EUR", prefix="€", rate=Decimal("0.91"), decimals=2)
    jpy = Currency(code="JPY", prefix="¥", rate=Decimal("151.5"), decimals=0)
    uow.session.add_all([eur, jpy])
    uow.session.flush()
    euro = book.client(uow, "euro", currency_id=eur.id)
    yen = book.client(uow, "yen", currency_id=jpy.id)
    for owner in (euro, yen):
        _service(uow, owner, product, disk=1536, bw=12345)
    uow.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    invoices = _invoices(db)
    assert usd.is_default
    # EUR: 1.50 x 0.91 = 1.365/GB -> 0.5 GB = 0.6825 -> 0.68; 0.0125 x 0.91 = 0.011375/MB
    # shown at four decimals (0.0114) -> 2,345 MB = 26.733 -> 26.73.
    [(_, eur_total, eur_lines), (_, jpy_total, jpy_lines)] = invoices
    assert [a for _, _, a in eur_lines] == [Decimal("0.68"), Decimal("26.73")]
    assert eur_total == Decimal("27.41")
    assert eur_lines[0][1].endswith("@ 1.365/GB") and eur_lines[1][1].endswith("@ 0.0114/MB")
    # JPY: 1.50 x 151.5 = 227.25/GB -> 113.625 -> 114 yen; 0.0125 x 151.5 = 1.8938/MB -> 4441.
    assert [a for _, _, a in jpy_lines] == [Decimal("114"), Decimal("4441")] and jpy_total == Decimal("4555")
    assert jpy_lines[0][1].endswith("@ 227.25/GB") and jpy_lines[1][1].endswith("@ 1.8938/MB")


def test_disk_space_and_bandwidth_options_override_the_soft_limits(db, uow):
    product = _product(uow, disk_limit=1, bw_limit=100, bw_unit="MB", bw_price="1")
    group = ConfigOptionGroup(name="Plan")
    uow.session.add(group)
    uow.session.flush()
    uow.session.add(ProductConfigLink(group_id=group.id, product_id=product.id))
    disk = ConfigOption(group_id=group.id, name="Disk Space", optiontype=4)
    plan = ConfigOption(group_id=group.id, name="Bandwidth|Monthly transfer", optiontype=1)
    uow.session.add_all([disk, plan])
    uow.session.flush()
    big = ConfigOptionChoice(option_id=plan.id, name="300|300 MB transfer")
    uow.session.add(big)
    field = CustomField(type="product", relid=product.id, fieldname="Bandwidth")
    uow.session.add(field)
    uow.session.flush()
    owner = book.client(uow, "upgraded")
    by_option = _service(uow, owner, product, disk=3 * MB_PER_GB, bw=350)
    uow.session.add_all([ServiceConfigOption(service_id=by_option.id, option_id=disk.id, qty=2),
                         ServiceConfigOption(service_id=by_option.id, option_id=plan.id, choice_id=big.id)])
    by_field = _service(uow, book.client(uow, "field"), product, bw=350)
    uow.session.add(CustomFieldValue(field_id=field.id, relid=by_field.id, value="320"))
    uow.commit()
    run_cron(db, as_of=FEB_END, tasks=[OverageBilling()])
    [(_, first, lines), (_, second, field_lines)] = _invoices(db)
    # Disk limit 2 GB (option): 1 GB over; bandwidth limit 300 MB (option): 50 MB over.
    assert [a for _, _, a in lines] == [Decimal("1.50"), Decimal("50.00")] and first == Decimal("51.50")
    # Bandwidth limit 320 MB (custom field): 30 MB over.
    assert [a for _, _, a in field_lines] == [Decimal("30.00")] and second == Decimal("30.00")


def test_product_settings_are_validated(db, uow):
    product = book.product(uow, "Plain")
    assert (product.overagesenabled, product.overagesdiskunit) == (False, "MB")
    with pytest.raises(ValidationError, match="MB, GB or TB"):
        set_product_overages(uow, product.id, disk_unit="PB")
    with pytest.raises(ValidationError, match="up to 4 decimals"):
        set_product_overages(uow, product.id, bw_price="0.00001")
    with pytest.raises(ValidationError, match="zero or more"):
        set_product_overages(uow, product.id, disk_limit=-1)
    with pytest.raises(NotFound, match="Product ID not found"):
        set_product_overages(uow, 9999, enabled=True)
    heard: list[dict] = []
    events.registry.add("ProductEdit", heard.append, 1)
    changed = set_product_overages(uow, product.id, enabled=True, bw_unit="gb", bw_price="0.5")
    assert changed.overagesenabled is True
    assert (changed.overagesbwunit, changed.overagesbwprice) == ("GB", Decimal("0.5"))
    # The ProductEdit hook carries WHMCS's variables (configoptionX stands for configoption1..24).
    [variables] = heard
    assert event_catalog.missing_variables("ProductEdit", variables) == ["configoptionX"]
    assert (variables["pid"], variables["overagesenabled"], variables["overagesbwprice"]) == \
        (product.id, True, Decimal("0.5"))
    assert "configoption24" in variables


def test_billing_method_setting_over_the_api(api):
    assert api.ok("GetConfigurationValue", setting="OverageBillingMethod")["value"] == "1"
    api.ok("SetConfigurationValue", setting="OverageBillingMethod", value="2")
    assert api.ok("GetConfigurationValue", setting="OverageBillingMethod")["value"] == "2"


def test_cli_sets_overages_and_cron_date_bills_them(db, uow):
    from billow import cli

    made = book.product(uow, "Cli Hosting")
    owner = book.client(uow, "cli")
    _service(uow, owner, made, disk=3 * MB_PER_GB)
    uow.commit()
    runner = CliRunner()
    out = runner.invoke(cli.app, ["product", "overages", str(made.id), "--enable", "--disk-limit", "2",
                                  "--disk-unit", "GB", "--disk-price", "0.75", "--json"])
    assert out.exit_code == 0, out.output
    bad = runner.invoke(cli.app, ["product", "overages", str(made.id), "--bw-unit", "XB"])
    assert bad.exit_code == 1 and "MB, GB or TB" in bad.output
    listed = runner.invoke(cli.app, ["cron", "--list"])
    assert "OverageBilling" in listed.output
    early = runner.invoke(cli.app, ["cron", "--date", "2027-02-27", "--only", "OverageBilling"])
    assert early.exit_code == 0, early.output
    assert _invoices(db) == []
    ran = runner.invoke(cli.app, ["cron", "--date", "2027-02-28", "--only", "OverageBilling"])
    assert ran.exit_code == 0, ran.output
    [(client_id, total, _)] = _invoices(db)
    assert client_id == owner.id and total == Decimal("0.75")
