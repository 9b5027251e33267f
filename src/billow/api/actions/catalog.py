"""Catalog actions: products, promotions and servers in WHMCS's shapes."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from billow.api.actions._shared import whmcs_date
from billow.api.context import Context
from billow.api.params import Params, parse_amount, parse_int
from billow.api.registry import Action
from billow.config import get_settings
from billow.db.models import Currency, Price, Product, ProductGroup, ServiceAddon
from billow.errors import NotFound, ValidationError
from billow.money import fmt
from billow.services.catalog import addons, config_options, price_rows, product_fields, promotions
from billow.services.catalog import products as catalog_products
from billow.services.catalog.cycles import PRICE_KEYS, SETUP_KEYS
from billow.services.catalog.products import ProductInput
from billow.services.hosting import servers
from billow.services.hosting.provisioning import get_service

ZERO_PRICES = {k: "0.00" for k in (*SETUP_KEYS, *PRICE_KEYS)}


def _currencies(ctx: Context) -> list[Currency]:
    return list(ctx.session.scalars(select(Currency).order_by(Currency.id)))


def _price_block(row: Price | None, currency: Currency, *, disabled_default: str) -> dict[str, str]:
    places = currency.decimals
    block = {k: "0.00" for k in SETUP_KEYS}
    block.update({k: disabled_default for k in PRICE_KEYS})
    if row is not None:
        block.update({k: fmt(getattr(row, k), places) for k in (*SETUP_KEYS, *PRICE_KEYS)})
    return block


def _product_pricing(
    ctx: Context, product: Product, currencies: list[Currency], prices: dict[tuple[int, int], Price]
) -> dict[str, Any]:
    pricing: dict[str, Any] = {}
    for currency in currencies:
        row = prices.get((product.id, currency.id))
        block: dict[str, Any] = {"prefix": currency.prefix, "suffix": currency.suffix}
        if product.paytype == "free":
            block.update(ZERO_PRICES)
        else:
            block.update(_price_block(row, currency, disabled_default="-1.00"))
            if product.paytype == "onetime":
                block.update({k: "-1.00" for k in PRICE_KEYS if k != "monthly"})
        pricing[currency.code] = block
    return pricing


def _config_options(ctx: Context, product: Product, currencies: list[Currency]) -> list[dict[str, Any]]:
    linked = config_options.product_options(ctx.uow, product.id)
    choice_prices = price_rows.prices_of(ctx.uow, "configoptions", [c.id for _, cs in linked for c in cs])
    out = []
    for option, choices in linked:
        if option.hidden:
            continue
        out.append(
            {
                "id": option.id,
                "name": option.name,
                "type": str(option.optiontype),
                "minqty": option.qtyminimum,
                "maxqty": option.qtymaximum,
                "options": {
                    "option": [
                        {
                            "id": c.id,
                            "name": c.name.split("|", 1)[-1],
                            "rawName": c.name,
                            "recurring": 0,
                            "required": None,
                            "pricing": {
                                cur.code: _price_block(
                                    choice_prices.get((c.id, cur.id)), cur, disabled_default="0.00"
                                )
                                for cur in currencies
                            },
                        }
                        for c in choices
                        if not c.hidden
                    ]
                },
            }
        )
    return out


def get_products(ctx: Context, params: Params) -> dict[str, Any]:
    pid_text = params.str("pid")
    pids: list[int] = []
    if pid_text:
        pids = [parse_int(p, "Invalid pid") for p in pid_text.split(",") if p.strip()]
    products = catalog_products.list_products(
        ctx.uow, pids=pids, gid=params.int("gid"), module=params.str("module")
    )
    currencies = _currencies(ctx)
    prices = price_rows.prices_of(ctx.uow, "product", [p.id for p in products])
    base = get_settings().system_url
    items = []
    for product in products:
        group = ctx.session.get(ProductGroup, product.gid)
        fields = [
            f for f in product_fields.product_fields(ctx.uow, product.id) if f.showorder and not f.adminonly
        ]
        items.append(
            {
                "pid": product.id,
                "gid": product.gid,
                "type": product.type,
                "name": product.name,
                "slug": product.slug,
                "product-url": f"{base.rstrip('/')}/{group.slug if group else 'store'}/{product.slug}",
                "description": product.description,
                "module": product.servertype,
                "paytype": product.paytype,
                "allowqty": product.allowqty,
                "quantity_available": product.qty if product.stockcontrol else 0,
                "pricing": _product_pricing(ctx, product, currencies, prices),
                "customfields": {
                    "customfield": [
                        {
                            "id": f.id,
                            "name": f.fieldname,
                            "description": f.description,
                            "required": "on" if f.required else "",
                        }
                        for f in fields
                    ]
                },
                "configoptions": {"configoption": _config_options(ctx, product, currencies)},
            }
        )
    return {
        "totalresults": len(items),
        "startnumber": 0,
        "numreturned": len(items),
        "products": {"product": items},
    }


def _pricing_param(params: Params) -> dict[int, dict[str, Any]]:
    raw = params.dict("pricing")
    out: dict[int, dict[str, Any]] = {}
    for currency_id, cycles in raw.items():
        if not isinstance(cycles, dict):
            raise ValidationError("Invalid pricing array: expected pricing[currencyid][cycle]")
        prices = {str(k): v if v in (None, "") else parse_amount(v, f"Invalid price for {k}")
                  for k, v in cycles.items()}
        out[parse_int(currency_id, "Invalid pricing currency id")] = prices
    return out


def add_product(ctx: Context, params: Params) -> dict[str, Any]:
    recommendations = [v for v in params.list("recommendations") if isinstance(v, dict)]
    settings = {
        f"configoption{i}": params.str(f"configoption{i}")
        for i in range(1, 25)
        if params.has(f"configoption{i}")
    }
    extra = {k: params.str(k) for k in params if k.startswith("ondemandrenewal")}
    product = catalog_products.add_product(
        ctx.uow,
        ProductInput(
            name=params.str("name"),
            gid=params.int("gid"),
            slug=params.str("slug"),
            type=params.str("type") or "hostingaccount",
            paytype=params.str("paytype") or "recurring",
            autosetup=params.str("autosetup"),
            module=params.str("module"),
            servergroup=params.int("servergroupid"),
            description=params.str("description"),
            shortdescription=params.str("shortdescription"),
            tagline=params.str("tagline"),
            color=params.str("color"),
            hidden=params.bool("hidden"),
            retired=params.bool("retired"),
            stockcontrol=params.bool("stockcontrol"),
            qty=params.int("qty"),
            allowqty=params.int("allowqty"),
            showdomainoptions=params.bool("showdomainoptions"),
            tax=params.bool("tax"),
            is_featured=params.bool("isFeatured"),
            proratabilling=params.bool("proratabilling"),
            proratadate=params.int("proratadate"),
            proratachargenextmonth=params.int("proratachargenextmonth"),
            welcomeemail=params.int("welcomeemail"),
            subdomain=params.str("subdomain"),
            order=params.int("order"),
            module_settings=settings,
            pricing=_pricing_param(params),
            recommendations=recommendations,
            extra=extra,
        ),
    )
    return {"pid": product.id}


def get_promotions(ctx: Context, params: Params) -> dict[str, Any]:
    rows = promotions.list_promotions(ctx.uow, params.str("code"))
    items = [
        {
            "id": p.id,
            "code": p.code,
            "type": p.type,
            "recurring": int(p.recurring),
            "value": float(p.value) if p.value != p.value.to_integral() else int(p.value),
            "cycles": p.cycles,
            "appliesto": p.appliesto,
            "requires": p.requires,
            "requiresexisting": int(p.requiresexisting),
            "startdate": whmcs_date(p.startdate),
            "expirationdate": whmcs_date(p.expirationdate),
            "maxuses": p.maxuses,
            "uses": p.uses,
            "lifetimepromo": int(p.lifetimepromo),
            "applyonce": int(p.applyonce),
            "newsignups": int(p.newsignups),
            "existingclient": int(p.existingclient),
            "onceperclient": int(p.onceperclient),
            "recurfor": p.recurfor,
            "upgrades": int(p.upgrades),
            "upgradeconfig": p.upgradeconfig,
            "notes": p.notes,
        }
        for p in rows
    ]
    return {"totalresults": len(items), "promotions": {"promotion": items}}


def _fetch_status(address: str) -> dict[str, Any]:
    """Probe the server's status address (WHMCS's server status page) with a short timeout."""
    if not address:
        return {"http": False, "load": "", "uptime": ""}
    try:
        response = httpx.get(address, timeout=3.0)
    except httpx.HTTPError:
        return {"http": False, "load": "", "uptime": ""}
    load = uptime = ""
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            data = response.json()
            load, uptime = str(data.get("load", "")), str(data.get("uptime", ""))
        except ValueError:
            load = uptime = ""
    return {"http": response.status_code < 400, "load": load, "uptime": uptime}


def get_servers(ctx: Context, params: Params) -> dict[str, Any]:
    module = ""
    if params.int("serviceId"):
        service = get_service(ctx.uow, params.int("serviceId"))
        product = ctx.session.get(Product, service.packageid)
        module = product.servertype if product else ""
    elif params.int("addonId"):
        addon = ctx.session.get(ServiceAddon, params.int("addonId"))
        if addon is None:
            raise NotFound("Addon ID Not Found")
        module = addons.get_addon(ctx.uow, addon.addonid).module if addon.addonid else ""
    fetch = params.bool("fetchStatus")
    counts = servers.active_counts(ctx.uow)
    items = []
    listed = servers.list_servers(ctx.uow, module)
    statuses: dict[int, dict[str, Any]] = {}
    if fetch:
        with ctx.uow.outside_transaction():  # no transaction or writer lock while fetching
            statuses = {server.id: _fetch_status(server.statusaddress) for server in listed}
    for server in listed:
        used = counts.get(server.id, 0)
        items.append(
            {
                "id": server.id,
                "name": server.name,
                "hostname": server.hostname,
                "ipaddress": server.ipaddress,
                "active": not server.disabled,
                "activeServices": used,
                "maxAllowedServices": server.maxaccounts,
                "percentUsed": round(used * 100 / server.maxaccounts) if server.maxaccounts else 0,
                "module": server.type,
                "status": statuses.get(server.id) or {"http": False, "load": "", "uptime": ""},
            }
        )
    return {"servers": items, "fetchStatus": "1" if fetch else ""}


ACTIONS = [
    Action("GetProducts", get_products),
    Action("AddProduct", add_product),
    Action("GetPromotions", get_promotions),
    Action("GetServers", get_servers),
]
