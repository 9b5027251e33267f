"""Disk space and bandwidth overage billing: the month's usage above a product's soft limits.

WHMCS's rules (docs "Overage Billing"), in one place for the automation task and the CLI:

* A product opts in (``overagesenabled``) with a soft disk limit and a soft bandwidth
  limit, each in its own unit (MB, GB or TB; 1 GB = 1024 MB), and a price per unit in the
  default currency with up to four decimals. A limit of 0 bills all usage.
* A configurable option or product custom field named "Disk Space" / "Bandwidth" on the
  service overrides the product's limit (same unit), so an upgraded plan gets more room.
* Charges are worked out on the last day of each month from the usage the server modules
  reported (``diskusage``/``bwusage``, MB), for Active and Suspended services.
* The overage is measured to a tenth of a gigabyte (1.5 GB over at 1.00/GB bills 1.50):
  whole MB, one decimal of a GB, four decimals of a TB (0.0001 TB is about 0.1 GB).
* The price is converted to the client's currency by the currencies' exchange rates and
  the amount rounded to that currency's decimals.
* ``OverageBillingMethod`` decides when the client pays: ``1`` (default) an invoice of
  its own on the day, ``2`` a billable item added to the client's next invoice (so an
  unpaid overage can lead to suspension with the service's renewal).

The lines read like WHMCS's::

    Shared Hosting - example.com (01/05/2027 - 31/05/2027)
    Total Disk Usage = 1.5 GB - Overage Charge = 0.5 GB @ 1.50/GB
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select

from billow.db.models import (
    BillableItem,
    ConfigOption,
    ConfigOptionChoice,
    Currency,
    CustomField,
    CustomFieldValue,
    Product,
    ProductConfigLink,
    Service,
    ServiceConfigOption,
)
from billow.errors import ValidationError
from billow.money import ZERO, quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoice_batch import InvoiceDraft, create_invoices
from billow.services.catalog.products import get_product
from billow.services.settings import get_setting, setting_on
from billow.uow import UnitOfWork

#: MB in one unit.
UNITS: dict[str, int] = {"MB": 1, "GB": 1024, "TB": 1024 * 1024}
#: Decimals an overage is measured to, per unit (a tenth of a GB at most).
PRECISION: dict[str, int] = {"MB": 0, "GB": 1, "TB": 4}
#: Statuses whose usage is billed (a suspended service used its resources until suspended).
BILLED_STATUSES = ("Active", "Suspended")
#: ``OverageBillingMethod`` values, and the billable-item invoice actions they give.
INVOICE_NOW, NEXT_INVOICE = "1", "2"
INVOICE_NOW_ACTION, NEXT_INVOICE_ACTION = "nextcron", "nextinvoice"
#: The names of the limit-overriding configurable options / custom fields, per resource.
LIMIT_FIELDS = {"disk": "disk space", "bw": "bandwidth"}
PRICE_PLACES = 4


@dataclass(frozen=True)
class OverageTerms:
    """A product's overage settings (what ``overagesenabled`` ... hold in WHMCS)."""

    enabled: bool
    disk_limit: int
    bw_limit: int
    disk_price: Decimal
    bw_price: Decimal
    disk_unit: str = "MB"
    bw_unit: str = "MB"

    @classmethod
    def of(cls, product: Product) -> OverageTerms:
        return cls(bool(product.overagesenabled), product.overagesdisklimit or 0,
                   product.overagesbwlimit or 0, product.overagesdiskprice or ZERO,
                   product.overagesbwprice or ZERO,
                   product.overagesdiskunit or "MB", product.overagesbwunit or "MB")


@dataclass(frozen=True)
class OverageCharge:
    """One resource's charge for one service and month: a future invoice line."""

    service_id: int
    client_id: int
    resource: str  # "disk" | "bw"
    usage: Decimal  # in unit, at the measuring precision
    overage: Decimal  # in unit
    unit: str
    price: Decimal  # per unit, client currency, 4 decimals
    amount: Decimal  # client currency, its decimals
    description: str


def is_billing_day(day: date) -> bool:
    """Overages are worked out on the last day of each month (28/29 February included)."""
    return day.day == calendar.monthrange(day.year, day.month)[1]


def period_key(day: date) -> str:
    """The month a charge belongs to (``2027-02``): part of its idempotency key."""
    return f"{day.year:04d}-{day.month:02d}"


def billing_method(uow: UnitOfWork) -> str:
    """``OverageBillingMethod``: ``2`` adds to the next invoice; anything else invoices now."""
    return NEXT_INVOICE if get_setting(uow, "OverageBillingMethod").strip() == NEXT_INVOICE else INVOICE_NOW


def set_product_overages(
    uow: UnitOfWork,
    pid: int,
    *,
    enabled: bool | None = None,
    disk_limit: int | None = None,
    bw_limit: int | None = None,
    disk_price: object = None,
    bw_price: object = None,
    disk_unit: str | None = None,
    bw_unit: str | None = None,
) -> Product:
    """Change a product's overage settings (the "Other" tab); None leaves a value as it is."""
    product = get_product(uow, pid)
    for name, limit in (("disk", disk_limit), ("bandwidth", bw_limit)):
        if limit is not None and limit < 0:
            raise ValidationError(f"The {name} overage limit must be zero or more",
                                  code="invalid_overage_limit")
    prices = {}
    for name, price in (("disk", disk_price), ("bandwidth", bw_price)):
        if price is None:
            continue
        try:
            value = to_decimal(price)
        except (TypeError, ValueError, InvalidOperation):
            raise ValidationError(f"The {name} overage price must be an amount",
                                  code="invalid_overage_price") from None
        if value < 0 or value != quantize(value, PRICE_PLACES):
            raise ValidationError(f"The {name} overage price must be zero or more, with up to 4 decimals",
                                  code="invalid_overage_price")
        prices[name] = value
    units = {}
    for name, unit in (("disk", disk_unit), ("bandwidth", bw_unit)):
        if unit is None:
            continue
        units[name] = unit.strip().upper()
        if units[name] not in UNITS:
            raise ValidationError("The overage unit must be MB, GB or TB", code="invalid_overage_unit")
    if enabled is not None:
        product.overagesenabled = enabled
    if disk_limit is not None:
        product.overagesdisklimit = disk_limit
    if bw_limit is not None:
        product.overagesbwlimit = bw_limit
    product.overagesdiskprice = prices.get("disk", product.overagesdiskprice)
    product.overagesbwprice = prices.get("bandwidth", product.overagesbwprice)
    product.overagesdiskunit = units.get("disk", product.overagesdiskunit)
    product.overagesbwunit = units.get("bandwidth", product.overagesbwunit)
    uow.session.flush()

    log_activity(uow, f"Product Overage Settings Modified - Product ID: {product.id}")
    uow.emit("ProductEdit", product_edit_vars(product), resource_type="product", resource_id=product.id)
    return product


#: ProductEdit variables Billow keeps in ``Product.extra`` (as given when the product was added).
_EXTRA_VARS = {
    "autoterminatedays": 0, "autoterminateemail": 0, "upgradeemail": 0, "freedomain": "",
    "freedomainpaymentterms": "", "freedomaintlds": "", "affiliatepaytype": "", "affiliatepayamount": ZERO,
    "affiliateonetime": False, "ondemandrenewalconfigurationoverride": "", "ondemandrenewalsenabled": 0,
    "ondemandrenewalperiodmonthly": 0, "ondemandrenewalperiodquarterly": 0,
    "ondemandrenewalperiodsemiannually": 0, "ondemandrenewalperiodannually": 0,
    "ondemandrenewalperiodbiennially": 0, "ondemandrenewalperiodtriennially": 0,
}


def product_edit_vars(product: Product) -> dict[str, object]:
    """WHMCS's ``ProductEdit`` variables: the saved product, overage settings included."""
    extra = product.extra or {}
    values: dict[str, object] = {
        "pid": product.id, "type": product.type, "gid": product.gid, "name": product.name,
        "description": product.description, "welcomeemail": product.welcomeemail,
        "showdomainoptions": product.showdomainoptions, "stockcontrol": product.stockcontrol,
        "qty": product.qty, "tax": product.tax, "is_featured": product.is_featured, "hidden": product.hidden,
        "retired": product.retired, "paytype": product.paytype, "allowqty": bool(product.allowqty),
        "recurringcycles": product.recurringcycles, "proratabilling": product.proratabilling,
        "proratadate": product.proratadate, "proratachargenextmonth": product.proratachargenextmonth,
        "servertype": product.servertype, "servergroup": product.servergroup, "autosetup": product.autosetup,
        "configoptionsupgrade": product.configoptionsupgrade, "subdomain": product.subdomain,
        "overagesenabled": bool(product.overagesenabled), "overagesdisklimit": product.overagesdisklimit,
        "overagesbwlimit": product.overagesbwlimit, "overagesdiskprice": product.overagesdiskprice,
        "overagesbwprice": product.overagesbwprice,
    }
    for key, default in _EXTRA_VARS.items():
        values[key] = extra.get(key, default)
    for index in range(1, 25):
        values[f"configoption{index}"] = (product.module_settings or {}).get(f"configoption{index}", "")
    return values


def _number(text: str) -> Decimal | None:
    """The leading number of a limit override ("20", "20 GB"); None when there is none."""
    head = (text or "").strip().split(" ", 1)[0].replace(",", "")
    try:
        value = Decimal(head)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def limit_overrides(uow: UnitOfWork, services: list[Service]) -> dict[int, dict[str, Decimal]]:
    """Per service, limits set by a "Disk Space"/"Bandwidth" configurable option or custom
    field (the option wins, as in WHMCS); read for a whole page of services at once."""
    ids = [s.id for s in services]
    found: dict[int, dict[str, Decimal]] = {}
    if not ids:
        return found
    wanted = {v: k for k, v in LIMIT_FIELDS.items()}
    products = {s.id: s.packageid for s in services}
    fields = uow.session.execute(
        select(CustomFieldValue.relid, CustomField.fieldname, CustomField.relid, CustomFieldValue.value)
        .join(CustomField, CustomField.id == CustomFieldValue.field_id)
        .where(CustomField.type == "product", CustomFieldValue.relid.in_(ids)))
    for service_id, name, pid, value in fields:
        resource = wanted.get(name.split("|", 1)[0].strip().lower())
        number = _number(value)
        if resource and number is not None and products.get(service_id) == pid:
            found.setdefault(service_id, {})[resource] = number
    options = uow.session.execute(
        select(ServiceConfigOption.service_id, ConfigOption.name, ConfigOption.optiontype,
               ServiceConfigOption.qty, ConfigOptionChoice.name, ProductConfigLink.product_id)
        .join(ConfigOption, ConfigOption.id == ServiceConfigOption.option_id)
        .join(ProductConfigLink, ProductConfigLink.group_id == ConfigOption.group_id)
        .outerjoin(ConfigOptionChoice, ConfigOptionChoice.id == ServiceConfigOption.choice_id)
        .where(ServiceConfigOption.service_id.in_(ids)))
    for service_id, name, optiontype, qty, choice, pid in options:
        resource = wanted.get(name.split("|", 1)[0].strip().lower())
        if not resource or products.get(service_id) != pid:
            continue
        value = str(qty) if optiontype == 4 else (choice or "").split("|", 1)[0]
        number = _number(value)
        if number is not None:
            found.setdefault(service_id, {})[resource] = number
    return found


def _shown(value: Decimal, places: int) -> str:
    """A price as the line shows it: at least the currency's decimals, at most four."""
    text = f"{value.normalize():f}"
    decimals = len(text.partition(".")[2])
    return f"{value:.{max(places, min(decimals, PRICE_PLACES))}f}"


def compute_charges(
    product: Product,
    service: Service,
    currency: Currency,
    default: Currency,
    as_of: date,
    overrides: dict[str, Decimal] | None = None,
) -> list[OverageCharge]:
    """The disk and bandwidth charges of *service* for the month ending *as_of*."""
    terms = OverageTerms.of(product)
    if not terms.enabled:
        return []
    overrides = overrides or {}
    rate = (currency.rate or Decimal(1)) / (default.rate or Decimal(1))
    places = currency.decimals if currency.decimals is not None else 2
    title = f"{product.name} - {service.domain}" if service.domain else product.name
    start = as_of.replace(day=1)
    heading = f"{title} ({start.strftime('%d/%m/%Y')} - {as_of.strftime('%d/%m/%Y')})"
    charges = []
    for resource, used_mb, limit, price, unit, label in (
        ("disk", service.diskusage, terms.disk_limit, terms.disk_price, terms.disk_unit, "Total Disk Usage"),
        ("bw", service.bwusage, terms.bw_limit, terms.bw_price, terms.bw_unit, "Total Bandwidth Usage"),
    ):
        unit = unit if unit in UNITS else "MB"
        step = Decimal(1).scaleb(-PRECISION[unit])
        usage = (Decimal(used_mb or 0) / UNITS[unit]).quantize(step, rounding=ROUND_HALF_UP)
        allowed = overrides.get(resource, Decimal(limit))
        overage = (Decimal(used_mb or 0) / UNITS[unit] - allowed).quantize(step, rounding=ROUND_HALF_UP)
        unit_price = quantize(price * rate, PRICE_PLACES)
        amount = quantize(overage * unit_price, places)
        if overage <= 0 or amount <= 0:
            continue
        description = (f"{heading}\n{label} = {usage} {unit} - Overage Charge = {overage} {unit} "
                       f"@ {_shown(unit_price, places)}/{unit}")
        charges.append(OverageCharge(service.id, service.userid, resource, usage, overage, unit, unit_price,
                                     amount, description))
    return charges


def store_charges(uow: UnitOfWork, charges: list[OverageCharge], as_of: date,
                  method: str) -> list[BillableItem]:
    """Store *charges* as billable items, one row each, flushed together.

    WHMCS also goes through billable items (``tblbillableitems``, written by its cron
    directly): with :data:`NEXT_INVOICE` the items wait for the client's next generated
    invoice and ride on it as its last lines; with :data:`INVOICE_NOW` they are marked
    "next cron" and :func:`invoice_charges` puts them on an invoice in the same
    transaction. The rows are built here rather than through ``AddBillableItem``'s
    validation: the charges are already checked, and one flush per page instead of one
    per item is what keeps a month end with many overages quick.
    """
    action = NEXT_INVOICE_ACTION if method == NEXT_INVOICE else INVOICE_NOW_ACTION
    items = [BillableItem(client_id=c.client_id, description=c.description, unit="quantity", quantity=ZERO,
                          amount=c.amount, invoiceaction=action, recur=0, recurcycle="", recurfor=0,
                          duedate=as_of, invoicecount=0, invoice_id=0, taxed=False) for c in charges]
    uow.session.add_all(items)
    uow.session.flush()
    return items


def invoice_charges(uow: UnitOfWork, by_client: dict[int, list[BillableItem]], as_of: date) -> dict[int, int]:
    """Put each client's overage items on an invoice of its own, dated and due *as_of*.

    One batch through :mod:`billow.services.billing.invoice_batch` for the whole page; returns
    the invoice id per client. The items are marked invoiced (``invoicecount``/
    ``invoice_id``) in the same transaction, so invoice generation never bills them again.
    """
    clients = sorted(by_client)
    drafts = [InvoiceDraft(client_id, [InvoiceLine(i.description, i.amount, taxed=i.taxed, type="Item",
                                                   relid=i.id, duedate=as_of) for i in by_client[client_id]],
                           as_of) for client_id in clients]
    made = create_invoices(uow, drafts, on=as_of,
                           apply_credit=not setting_on(uow, "NoAutoApplyCredit"))
    invoices = {client_id: invoice.id for client_id, invoice in zip(clients, made, strict=True)}
    for client_id, items in by_client.items():
        for item in items:
            item.invoicecount, item.invoice_id = 1, invoices[client_id]
    return invoices
