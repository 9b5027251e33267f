"""The catalog: product groups, products, their prices, configurable options, addons,
custom fields and promotions.

Prices are set per currency and per billing cycle through :func:`set_price` (one row per
priced thing and currency, WHMCS ``tblpricing``); what an order or renewal costs is
computed in :mod:`billow.services.catalog.pricing`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    Addon,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionGroup,
    Currency,
    CustomField,
    Price,
    Product,
    ProductConfigLink,
    ProductGroup,
    Promotion,
)
from billow.errors import NotFound, ValidationError
from billow.modules.servers import available as server_modules
from billow.money import to_decimal
from billow.services.activity import log_activity
from billow.services.catalog.cycles import PRICE_KEYS, SETUP_KEYS
from billow.uow import UnitOfWork

PRODUCT_TYPES = ("hostingaccount", "reselleraccount", "server", "other")
PAY_TYPES = ("free", "onetime", "recurring")
AUTOSETUP = ("", "on", "order", "payment")
PROMO_TYPES = ("Percentage", "Fixed Amount", "Price Override", "Free Setup")
#: WHMCS's numbering of configurable option types.
OPTION_TYPES = {1: "dropdown", 2: "radio", 3: "yesno", 4: "quantity"}
_HEX = re.compile(r"^#?[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- groups ---------------------------------------------------------------------------------
def add_group(
    uow: UnitOfWork, name: str, *, hidden: bool = False, headline: str = "", tagline: str = "", order: int = 0
) -> ProductGroup:
    if not name.strip():
        raise ValidationError("You must supply a name for the product group")
    group = ProductGroup(
        name=name.strip(), slug=slugify(name), hidden=hidden, headline=headline, tagline=tagline, order=order
    )
    uow.session.add(group)
    uow.session.flush()
    return group


# -- products -------------------------------------------------------------------------------
@dataclass
class ProductInput:
    name: str
    gid: int
    type: str = "other"
    paytype: str = "recurring"
    autosetup: str = ""
    module: str = ""
    servergroup: int = 0
    slug: str = ""
    description: str = ""
    shortdescription: str = ""
    tagline: str = ""
    color: str = ""
    hidden: bool = False
    retired: bool = False
    stockcontrol: bool = False
    qty: int = 0
    allowqty: int = 0
    showdomainoptions: bool = False
    tax: bool = False
    is_featured: bool = False
    proratabilling: bool = False
    proratadate: int = 0
    proratachargenextmonth: int = 0
    welcomeemail: int = 0
    subdomain: str = ""
    order: int = 0
    module_settings: dict[str, str] = field(default_factory=dict)
    #: {currency_id: {"monthly": "9.95", "msetupfee": "1.00", ...}}
    pricing: dict[int, dict[str, Any]] = field(default_factory=dict)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def add_product(uow: UnitOfWork, data: ProductInput) -> Product:
    """Create a product (``AddProduct``), validating each field with WHMCS's message."""
    if not data.name.strip():
        raise ValidationError("You must supply a name for the product")
    if not data.gid or uow.session.get(ProductGroup, data.gid) is None:
        raise ValidationError("You must supply a valid Product Group ID")
    if data.type not in PRODUCT_TYPES:
        raise ValidationError(
            'Invalid product type. Must be one of "hostingaccount", "reselleraccount", "server" or "other"'
        )
    if data.paytype not in PAY_TYPES:
        raise ValidationError('Invalid pay type. Must be one of "free", "onetime" or "recurring"')
    if data.autosetup not in AUTOSETUP:
        raise ValidationError('Invalid autosetup value. Must be one of "", "on", "order" or "payment"')
    if data.color and not _HEX.match(data.color):
        raise ValidationError("The color must be a valid hexadecimal value.")
    if data.module and data.module not in server_modules():
        raise ValidationError("Invalid module name provided.")
    if data.welcomeemail < 0:
        raise ValidationError("You must supply a valid welcome email ID")
    for rec in data.recommendations:
        rid = int(rec.get("id") or 0)
        if not rid or uow.session.get(Product, rid) is None:
            raise ValidationError(
                "The recommendation product ID is invalid. This must be an existing product ID."
            )
    product = Product(
        gid=data.gid,
        type=data.type,
        name=data.name.strip(),
        slug=data.slug or slugify(data.name),
        description=data.description,
        shortdescription=data.shortdescription,
        tagline=data.tagline,
        color=data.color,
        hidden=data.hidden,
        retired=data.retired,
        stockcontrol=data.stockcontrol,
        qty=data.qty,
        allowqty=data.allowqty,
        showdomainoptions=data.showdomainoptions,
        tax=data.tax,
        is_featured=data.is_featured,
        paytype=data.paytype,
        proratabilling=data.proratabilling,
        proratadate=data.proratadate,
        proratachargenextmonth=data.proratachargenextmonth,
        welcomeemail=data.welcomeemail,
        subdomain=data.subdomain,
        autosetup=data.autosetup,
        servertype=data.module,
        servergroup=data.servergroup,
        module_settings=dict(data.module_settings),
        order=data.order,
        extra={**data.extra, "recommendations": data.recommendations},
    )
    uow.session.add(product)
    uow.session.flush()
    for currency_id, values in data.pricing.items():
        set_price(uow, "product", product.id, int(currency_id), values)
    log_activity(uow, f"Product Created - {product.name} - Product ID: {product.id}")
    return product


def get_product(uow: UnitOfWork, pid: int) -> Product:
    product = uow.session.get(Product, pid) if pid else None
    if product is None:
        raise NotFound("Product ID not found")
    return product


def list_products(
    uow: UnitOfWork, *, pids: list[int] | None = None, gid: int = 0, module: str = ""
) -> list[Product]:
    query = select(Product).order_by(Product.gid, Product.order, Product.id)
    if pids:
        query = query.where(Product.id.in_(pids))
    if gid:
        query = query.where(Product.gid == gid)
    if module:
        query = query.where(Product.servertype == module)
    return list(uow.session.scalars(query))


def set_price(uow: UnitOfWork, kind: str, relid: int, currency_id: int, values: Mapping[str, Any]) -> Price:
    """Set the prices of (*kind*, *relid*) in one currency; unknown keys are refused."""
    if uow.session.get(Currency, currency_id) is None:
        raise ValidationError("Invalid currency ID")
    row = uow.session.scalar(
        select(Price).where(Price.type == kind, Price.relid == relid, Price.currency_id == currency_id)
    )
    if row is None:
        row = Price(type=kind, relid=relid, currency_id=currency_id)
        uow.session.add(row)
    for key, value in values.items():
        if key not in PRICE_KEYS and key not in SETUP_KEYS:
            raise ValidationError(f"Invalid pricing key {key}")
        try:
            setattr(row, key, to_decimal(str(value)))
        except ValueError:
            raise ValidationError(f"Invalid price for {key}") from None
    uow.session.flush()
    return row


def prices_of(uow: UnitOfWork, kind: str, relids: list[int]) -> dict[tuple[int, int], Price]:
    """All price rows of *kind* for *relids*, keyed by (relid, currency_id)."""
    if not relids:
        return {}
    rows = uow.session.scalars(select(Price).where(Price.type == kind, Price.relid.in_(relids)))
    return {(r.relid, r.currency_id): r for r in rows}


def take_stock(uow: UnitOfWork, product: Product, qty: int) -> None:
    """Reserve *qty* of a stock-controlled product, refusing when not enough is left."""
    if not product.stockcontrol:
        return
    if product.qty < qty:
        raise ValidationError(f"{product.name} is out of stock")
    product.qty -= qty


def return_stock(product: Product, qty: int) -> None:
    if product.stockcontrol:
        product.qty += qty


# -- configurable options -------------------------------------------------------------------
def add_config_group(
    uow: UnitOfWork, name: str, product_ids: list[int], description: str = ""
) -> ConfigOptionGroup:
    group = ConfigOptionGroup(name=name, description=description)
    uow.session.add(group)
    uow.session.flush()
    for pid in product_ids:
        get_product(uow, pid)
        uow.session.add(ProductConfigLink(group_id=group.id, product_id=pid))
    uow.session.flush()
    return group


def add_config_option(
    uow: UnitOfWork,
    group_id: int,
    name: str,
    optiontype: int,
    choices: list[tuple[str, dict[int, dict[str, Any]]]],
    *,
    qtyminimum: int = 0,
    qtymaximum: int = 0,
    order: int = 0,
) -> ConfigOption:
    """Add an option with its choices; each choice is (name, {currency_id: prices})."""
    if optiontype not in OPTION_TYPES:
        raise ValidationError("Invalid option type")
    option = ConfigOption(
        group_id=group_id,
        name=name,
        optiontype=optiontype,
        qtyminimum=qtyminimum,
        qtymaximum=qtymaximum,
        order=order,
    )
    uow.session.add(option)
    uow.session.flush()
    for index, (choice_name, pricing) in enumerate(choices):
        choice = ConfigOptionChoice(option_id=option.id, name=choice_name, sortorder=index)
        uow.session.add(choice)
        uow.session.flush()
        for currency_id, values in pricing.items():
            set_price(uow, "configoptions", choice.id, currency_id, values)
    return option


def product_options(uow: UnitOfWork, pid: int) -> list[tuple[ConfigOption, list[ConfigOptionChoice]]]:
    """The configurable options linked to product *pid*, with their choices, in order."""
    options = list(
        uow.session.scalars(
            select(ConfigOption)
            .join(ProductConfigLink, ProductConfigLink.group_id == ConfigOption.group_id)
            .where(ProductConfigLink.product_id == pid)
            .order_by(ConfigOption.order, ConfigOption.id)
        )
    )
    if not options:
        return []
    choices = list(
        uow.session.scalars(
            select(ConfigOptionChoice)
            .where(ConfigOptionChoice.option_id.in_([o.id for o in options]))
            .order_by(ConfigOptionChoice.sortorder, ConfigOptionChoice.id)
        )
    )
    by_option: dict[int, list[ConfigOptionChoice]] = {}
    for choice in choices:
        by_option.setdefault(choice.option_id, []).append(choice)
    return [(o, by_option.get(o.id, [])) for o in options]


@dataclass(frozen=True)
class ChosenOption:
    option: ConfigOption
    choice: ConfigOptionChoice | None
    qty: int

    @property
    def value(self) -> str:
        """The value modules see: the choice's name before ``|``, or the quantity."""
        if self.option.optiontype == 4:
            return str(self.qty)
        if self.option.optiontype == 3:
            return "1" if self.qty else "0"
        return self.choice.name.split("|", 1)[0] if self.choice else ""

    @property
    def display(self) -> str:
        if self.option.optiontype in (3, 4):
            return self.value
        return self.choice.name.split("|", 1)[-1] if self.choice else ""


def resolve_options(uow: UnitOfWork, pid: int, given: Mapping[str, Any]) -> list[ChosenOption]:
    """Turn ``{optionid: choiceid | qty | {"optionid":..,"qty":..}}`` into chosen options.

    Options not given take their first choice (dropdown/radio) or zero/the minimum
    (yes-no/quantity), as WHMCS fills an order form's defaults.
    """
    chosen = []
    for option, choices in product_options(uow, pid):
        raw = given.get(str(option.id), given.get(option.id)) if given else None  # type: ignore[call-overload]
        if isinstance(raw, Mapping):
            raw = raw.get("optionid") or raw.get("qty") or raw.get("value")
        if option.optiontype in (3, 4):
            try:
                qty = int(str(raw or 0).strip() or 0)
            except ValueError:
                raise ValidationError(f"Invalid value for configurable option {option.name}") from None
            if option.optiontype == 3:
                qty = 1 if qty else 0
            else:
                if option.qtymaximum and qty > option.qtymaximum:
                    raise ValidationError(f"{option.name} must be at most {option.qtymaximum}")
                qty = max(qty, option.qtyminimum)
            chosen.append(ChosenOption(option, choices[0] if choices else None, qty))
            continue
        if raw in (None, ""):
            chosen.append(ChosenOption(option, choices[0] if choices else None, 1))
            continue
        match = next((c for c in choices if str(c.id) == str(raw).strip()), None)
        if match is None:
            raise ValidationError(f"Invalid option selected for {option.name}")
        chosen.append(ChosenOption(option, match, 1))
    return chosen


# -- addons ---------------------------------------------------------------------------------
def add_addon(
    uow: UnitOfWork,
    name: str,
    *,
    billingcycle: str = "recurring",
    packages: list[int] | None = None,
    pricing: dict[int, dict[str, Any]] | None = None,
    tax: bool = False,
    description: str = "",
    autoactivate: str = "",
    module: str = "",
    module_settings: dict[str, str] | None = None,
) -> Addon:
    """Add a product addon. With a *module*, client addons of it are provisioned through
    that module (*module_settings* are its ``configoption1``..); *autoactivate* is when
    ("on" accept, "order", "payment", "" never), like a product's auto-setup."""
    if billingcycle not in PAY_TYPES:
        raise ValidationError('Invalid pay type. Must be one of "free", "onetime" or "recurring"')
    if module and module not in server_modules():
        raise ValidationError("Invalid module name provided.")
    addon = Addon(
        name=name,
        billingcycle=billingcycle,
        packages=list(packages or []),
        tax=tax,
        description=description,
        autoactivate=autoactivate,
        module=module,
        module_settings=dict(module_settings or {}),
    )
    uow.session.add(addon)
    uow.session.flush()
    for currency_id, values in (pricing or {}).items():
        set_price(uow, "addon", addon.id, currency_id, values)
    return addon


def get_addon(uow: UnitOfWork, addon_id: int) -> Addon:
    addon = uow.session.get(Addon, addon_id) if addon_id else None
    if addon is None:
        raise NotFound("Addon ID invalid")
    return addon


# -- custom fields --------------------------------------------------------------------------
def add_product_field(
    uow: UnitOfWork,
    pid: int,
    name: str,
    *,
    fieldtype: str = "text",
    description: str = "",
    required: bool = False,
    showorder: bool = True,
    adminonly: bool = False,
    fieldoptions: str = "",
    regexpr: str = "",
) -> CustomField:
    get_product(uow, pid)
    definition = CustomField(
        type="product",
        relid=pid,
        fieldname=name,
        fieldtype=fieldtype,
        description=description,
        required=required,
        showorder=showorder,
        adminonly=adminonly,
        fieldoptions=fieldoptions,
        regexpr=regexpr,
    )
    uow.session.add(definition)
    uow.session.flush()
    return definition


def product_fields(uow: UnitOfWork, pid: int) -> list[CustomField]:
    return list(
        uow.session.scalars(
            select(CustomField)
            .where(CustomField.type == "product", CustomField.relid == pid)
            .order_by(CustomField.sortorder, CustomField.id)
        )
    )


# -- promotions -----------------------------------------------------------------------------
@dataclass
class PromotionInput:
    code: str
    type: str = "Percentage"
    value: Decimal = Decimal("0")
    recurring: bool = False
    recurfor: int = 0
    cycles: str = ""
    appliesto: list[int] = field(default_factory=list)
    requires: list[int] = field(default_factory=list)
    startdate: date | None = None
    expirationdate: date | None = None
    maxuses: int = 0
    onceperclient: bool = False
    newsignups: bool = False
    existingclient: bool = False
    applyonce: bool = False
    lifetimepromo: bool = False
    notes: str = ""


def add_promotion(uow: UnitOfWork, data: PromotionInput) -> Promotion:
    code = data.code.strip()
    if not code:
        raise ValidationError("You must supply a promotion code")
    if data.type not in PROMO_TYPES:
        raise ValidationError("Invalid promotion type")
    if uow.session.scalar(select(Promotion).where(Promotion.code == code)) is not None:
        raise ValidationError("Promotion Code already exists")
    promo = Promotion(
        code=code,
        type=data.type,
        value=data.value,
        recurring=data.recurring,
        recurfor=data.recurfor,
        cycles=data.cycles,
        appliesto=",".join(map(str, data.appliesto)),
        requires=",".join(map(str, data.requires)),
        startdate=data.startdate,
        expirationdate=data.expirationdate,
        maxuses=data.maxuses,
        onceperclient=data.onceperclient,
        newsignups=data.newsignups,
        existingclient=data.existingclient,
        applyonce=data.applyonce,
        lifetimepromo=data.lifetimepromo,
        notes=data.notes,
    )
    uow.session.add(promo)
    uow.session.flush()
    return promo


def list_promotions(uow: UnitOfWork, code: str = "") -> list[Promotion]:
    query = select(Promotion).order_by(Promotion.id)
    if code:
        query = query.where(Promotion.code == code)
    return list(uow.session.scalars(query))


def find_promotion(uow: UnitOfWork, code: str) -> Promotion | None:
    return uow.session.scalar(select(Promotion).where(Promotion.code == code.strip()))
