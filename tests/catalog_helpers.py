"""Catalog test helpers: a small shop (groups, products, prices, options, addons, promotions)
arranged through the services, and the WHMCS example shapes to compare answers with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from billow.api.params import parse_php_pairs
from billow.db.models import Currency
from billow.services.catalog import addons, config_options, product_fields, products
from billow.services.clients.accounts import ClientInput, add_client
from billow.services.hosting import servers
from whmcs_shapes import assert_same_shape

EXAMPLES = json.loads((Path("/work/shared/whmcs/api-actions.json")).read_text())
_counter = {"n": 0}


def example(action: str) -> dict[str, Any]:
    """WHMCS's example response for *action*, with flattened PHP keys nested again."""
    raw = EXAMPLES[action]["example_response"]
    return _lists(parse_php_pairs(list(raw.items())))


def _lists(value: Any) -> Any:
    """PHP arrays with keys 0..n are JSON lists."""
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_lists(value[k]) for k in sorted(value, key=int)]
        return {k: _lists(v) for k, v in value.items()}
    return value


#: Every key of the WHMCS example is present with the same JSON type and nesting; extra
#: keys and ``null`` values are accepted (the shared helper, with the catalog's tolerance).
assert_shape = partial(assert_same_shape, open_objects=True, null_scalars=True)


def make_client(uow: Any, **values: Any) -> Any:
    _counter["n"] += 1
    data = {
        "firstname": "Cat",
        "lastname": f"Client{_counter['n']}",
        "email": f"cat{_counter['n']}@example.com",
        "country": "US",
    }
    data.update(values)
    client = add_client(uow, ClientInput(values=data), skip_validation=True)
    uow.session.flush()
    return client


@dataclass
class Shop:
    currency: Currency
    group: Any
    hosting: Any  # cpanel-style hosting product, monthly/annually, setup fee
    vps: Any  # server product with configurable RAM options
    manual: Any  # module "none", auto-setup on accept
    addon: Any
    ram: Any
    ram_choices: list[Any]
    field: Any


def build_shop(uow: Any, *, hosting_module: str = "none", vps_module: str = "none") -> Shop:
    """Products priced in the default currency: the fixture of most catalog tests."""
    currency = (
        uow.session.query(Currency).filter_by(is_default=True).first() or uow.session.query(Currency).first()
    )
    if currency is None:
        currency = Currency(code="USD", prefix="$", suffix=" USD", is_default=True, decimals=2)
        uow.session.add(currency)
        uow.session.flush()
    group = products.add_group(uow, "Shared Hosting")
    hosting = products.add_product(
        uow,
        products.ProductInput(
            name="Starter",
            gid=group.id,
            type="hostingaccount",
            module=hosting_module,
            autosetup="on",
            module_settings={"configoption1": "starter_pkg"},
            pricing={
                currency.id: {
                    "monthly": "10.00",
                    "msetupfee": "5.00",
                    "annually": "100.00",
                    "asetupfee": "0.00",
                }
            },
        ),
    )
    vps = products.add_product(
        uow,
        products.ProductInput(
            name="VPS",
            gid=group.id,
            type="server",
            module=vps_module,
            autosetup="on",
            module_settings={"configoption1": "small-1"},
            pricing={currency.id: {"monthly": "20.00", "quarterly": "57.00"}},
        ),
    )
    manual = products.add_product(
        uow,
        products.ProductInput(
            name="Support Plan",
            gid=group.id,
            type="other",
            module="none",
            autosetup="on",
            pricing={currency.id: {"monthly": "3.00"}},
        ),
    )
    cgroup = config_options.add_config_group(uow, "VPS options", [vps.id])
    ram = config_options.add_config_option(
        uow,
        cgroup.id,
        "RAM",
        1,
        [
            ("1024|1 GB", {currency.id: {"monthly": "0.00", "quarterly": "0.00"}}),
            ("4096|4 GB", {currency.id: {"monthly": "6.00", "quarterly": "18.00"}}),
        ],
    )
    choices = [c for _, cs in config_options.product_options(uow, vps.id) for c in cs]
    addon = addons.add_addon(
        uow,
        "Backups",
        packages=[hosting.id, vps.id],
        pricing={currency.id: {"monthly": "2.00", "quarterly": "6.00", "annually": "20.00"}},
    )
    field = product_fields.add_product_field(uow, hosting.id, "Purpose", description="What is the site for?")
    uow.session.flush()
    return Shop(currency, group, hosting, vps, manual, addon, ram, choices, field)


def add_server(uow: Any, module: str, url: str, **kw: Any) -> Any:
    host, _, port = url.split("//", 1)[1].partition(":")
    return servers.add_server(
        uow,
        servers.ServerInput(
            name=kw.pop("name", f"{module} box"),
            type=module,
            hostname=host,
            port=int(port),
            secure=False,
            **kw,
        ),
    )


D = Decimal
