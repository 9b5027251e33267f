"""``billow product``: product settings the API does not carry (overage billing)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from billow.cli.common import console, unit_of_work
from billow.services.billing.overages import set_product_overages

app = typer.Typer(help="Products: settings the API does not carry (overage billing).", no_args_is_help=True)


@app.command("overages")
def product_overages(
    pid: int,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Bill disk and bandwidth overages")
    ] = None,
    disk_limit: Annotated[int | None, typer.Option("--disk-limit", help="Soft disk limit")] = None,
    bw_limit: Annotated[int | None, typer.Option("--bw-limit", help="Soft bandwidth limit")] = None,
    disk_price: Annotated[str | None, typer.Option("--disk-price", help="Price per disk unit")] = None,
    bw_price: Annotated[str | None, typer.Option("--bw-price", help="Price per bandwidth unit")] = None,
    disk_unit: Annotated[str | None, typer.Option("--disk-unit", help="MB, GB or TB")] = None,
    bw_unit: Annotated[str | None, typer.Option("--bw-unit", help="MB, GB or TB")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show or change a product's overage billing (WHMCS product "Other" tab).

    Prices are per unit in the default currency (up to 4 decimals); other currencies are
    converted by their exchange rate when the charges are worked out, on the last day of
    each month (``OverageBillingMethod``: 1 invoice at once, 2 add to the next invoice).
    """
    with unit_of_work() as uow:
        product = set_product_overages(
            uow, pid, enabled=enable, disk_limit=disk_limit, bw_limit=bw_limit, disk_price=disk_price,
            bw_price=bw_price, disk_unit=disk_unit, bw_unit=bw_unit)
        uow.commit()
        row = {"pid": product.id, "overagesenabled": product.overagesenabled,
               "overagesdisklimit": product.overagesdisklimit, "overagesdiskunit": product.overagesdiskunit,
               "overagesdiskprice": f"{product.overagesdiskprice:.4f}",
               "overagesbwlimit": product.overagesbwlimit, "overagesbwunit": product.overagesbwunit,
               "overagesbwprice": f"{product.overagesbwprice:.4f}"}
    if as_json:
        print(json.dumps(row))
        return
    state = "on" if row["overagesenabled"] else "off"
    disk, bw = row["overagesdiskunit"], row["overagesbwunit"]
    console.print(f"product {pid} overages {state}: disk {row['overagesdisklimit']} {disk} "
                  f"then {row['overagesdiskprice']}/{disk}, bandwidth {row['overagesbwlimit']} {bw} "
                  f"then {row['overagesbwprice']}/{bw}")
