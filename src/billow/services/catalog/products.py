"""Product groups and products: adding, finding, listing, and their stock.

What an order or renewal costs is computed in :mod:`billow.services.catalog.pricing`;
the price rows themselves are set in :mod:`billow.services.catalog.price_rows`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    Product,
    ProductGroup,
)
from billow.errors import NotFound, ValidationError
from billow.modules.servers import available as server_modules
from billow.services.activity import log_activity
from billow.services.catalog.price_rows import set_price
from billow.uow import UnitOfWork

PRODUCT_TYPES = ("hostingaccount", "reselleraccount", "server", "other")

PAY_TYPES = ("free", "onetime", "recurring")

AUTOSETUP = ("", "on", "order", "payment")

_HEX = re.compile(r"^#?[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")

def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def add_group(
    uow: UnitOfWork, name: str, *, hidden: bool = False, headline: str = "", tagline: str = "", order: int = 0
) -> ProductGroup:
    if not name.strip():
        raise ValidationError(
            "You must supply a name for the product group", code="product_group_name_required"
        )
    group = ProductGroup(
        name=name.strip(), slug=slugify(name), hidden=hidden, headline=headline, tagline=tagline, order=order
    )
    uow.session.add(group)
    uow.session.flush()
    return group


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
        raise ValidationError("You must supply a name for the product", code="product_name_required")
    if not data.gid or uow.session.get(ProductGroup, data.gid) is None:
        raise ValidationError("You must supply a valid Product Group ID", code="product_group_not_found")
    if data.type not in PRODUCT_TYPES:
        raise ValidationError(
            'Invalid product type. Must be one of "hostingaccount", "reselleraccount", "server" or "other"',
            code="invalid_product_type",
        )
    if data.paytype not in PAY_TYPES:
        raise ValidationError(
            'Invalid pay type. Must be one of "free", "onetime" or "recurring"', code="invalid_pay_type"
        )
    if data.autosetup not in AUTOSETUP:
        raise ValidationError(
            'Invalid autosetup value. Must be one of "", "on", "order" or "payment"', code="invalid_autosetup"
        )
    if data.color and not _HEX.match(data.color):
        raise ValidationError("The color must be a valid hexadecimal value.", code="invalid_color")
    if data.module and data.module not in server_modules():
        raise ValidationError("Invalid module name provided.", code="invalid_module_name")
    if data.welcomeemail < 0:
        raise ValidationError("You must supply a valid welcome email ID", code="welcome_email_not_found")
    for rec in data.recommendations:
        rid = int(rec.get("id") or 0)
        if not rid or uow.session.get(Product, rid) is None:
            raise ValidationError(
                "The recommendation product ID is invalid. This must be an existing product ID.",
                code="recommended_product_not_found",
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
        raise NotFound("Product ID not found", code="product_not_found")
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


def take_stock(uow: UnitOfWork, product: Product, qty: int) -> None:
    """Reserve *qty* of a stock-controlled product, refusing when not enough is left."""
    if not product.stockcontrol:
        return
    if product.qty < qty:
        raise ValidationError(f"{product.name} is out of stock", code="out_of_stock")
    product.qty -= qty


def return_stock(product: Product, qty: int) -> None:
    if product.stockcontrol:
        product.qty += qty
