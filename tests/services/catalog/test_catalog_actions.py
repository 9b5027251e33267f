"""GetProducts, AddProduct, GetPromotions, GetServers and the server CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from typer.testing import CliRunner

from billow.db.models import Price, Product, Server
from billow.security import decrypt
from billow.services.catalog import promotions
from catalog_helpers import add_server, assert_shape, build_shop, example


def test_get_products_shape_pricing_and_filters(api, uow):
    shop = build_shop(uow, hosting_module="cpanel")
    uow.commit()
    body = api.ok("GetProducts")
    assert_shape(body, example("GetProducts"))
    assert body["totalresults"] == 3
    by_pid = {p["pid"]: p for p in body["products"]["product"]}
    starter = by_pid[shop.hosting.id]
    usd = starter["pricing"][shop.currency.code]
    assert (usd["monthly"], usd["msetupfee"], usd["annually"], usd["quarterly"]) == (
        "10.00",
        "5.00",
        "100.00",
        "-1.00",
    )
    assert starter["module"] == "cpanel" and starter["customfields"]["customfield"][0]["name"] == "Purpose"
    vps = by_pid[shop.vps.id]
    option = vps["configoptions"]["configoption"][0]
    assert option["name"] == "RAM" and option["type"] == "1"
    assert [o["name"] for o in option["options"]["option"]] == ["1 GB", "4 GB"]
    assert option["options"]["option"][1]["pricing"][shop.currency.code]["quarterly"] == "18.00"
    only = api.ok("GetProducts", pid=f"{shop.vps.id},{shop.manual.id}")
    assert {p["pid"] for p in only["products"]["product"]} == {shop.vps.id, shop.manual.id}
    assert api.ok("GetProducts", module="cpanel")["totalresults"] == 1
    assert api.ok("GetProducts", gid=999)["totalresults"] == 0


def test_add_product_with_pricing_per_currency(api, uow, db):
    shop = build_shop(uow)
    uow.commit()
    body = api.ok(
        "AddProduct",
        name="Reseller Pro",
        gid=shop.group.id,
        type="reselleraccount",
        paytype="recurring",
        module="cpanel",
        autosetup="payment",
        stockcontrol=1,
        qty=5,
        hidden=1,
        configoption1="reseller_pkg",
        **{
            f"pricing[{shop.currency.id}][monthly]": "29.95",
            f"pricing[{shop.currency.id}][msetupfee]": "9.95",
            f"pricing[{shop.currency.id}][annually]": "299.00",
        },
    )
    assert isinstance(body["pid"], int)
    with db() as s:
        product = s.get(Product, body["pid"])
        assert (product.autosetup, product.stockcontrol, product.qty, product.hidden) == (
            "payment",
            True,
            5,
            True,
        )
        assert product.module_settings == {"configoption1": "reseller_pkg"}
        price = s.scalar(select(Price).where(Price.type == "product", Price.relid == product.id))
        assert (price.monthly, price.msetupfee, price.annually, price.biennially) == (
            Decimal("29.9500"),
            Decimal("9.9500"),
            Decimal("299.0000"),
            Decimal("-1.0000"),
        )


def test_add_product_errors(api, uow):
    shop = build_shop(uow)
    uow.commit()
    gid = shop.group.id
    assert api.error("AddProduct", gid=gid) == "You must supply a name for the product"
    assert api.error("AddProduct", name="X", gid=99) == "You must supply a valid Product Group ID"
    assert api.error("AddProduct", name="X", gid=gid, type="vps") == (
        'Invalid product type. Must be one of "hostingaccount", "reselleraccount", "server" or "other"'
    )
    assert api.error("AddProduct", name="X", gid=gid, paytype="weekly") == (
        'Invalid pay type. Must be one of "free", "onetime" or "recurring"'
    )
    assert api.error("AddProduct", name="X", gid=gid, autosetup="later") == (
        'Invalid autosetup value. Must be one of "", "on", "order" or "payment"'
    )
    assert (
        api.error("AddProduct", name="X", gid=gid, color="blue")
        == "The color must be a valid hexadecimal value."
    )
    assert (
        api.error("AddProduct", name="X", gid=gid, welcomeemail=-1)
        == "You must supply a valid welcome email ID"
    )
    assert api.error("AddProduct", name="X", gid=gid, **{"recommendations[0][id]": 999}) == (
        "The recommendation product ID is invalid. This must be an existing product ID."
    )


def test_get_promotions(api, uow):
    build_shop(uow)
    promotions.add_promotion(
        uow,
        promotions.PromotionInput(
            code="SPRING",
            type="Percentage",
            value=Decimal("10"),
            recurring=True,
            appliesto=[1, 2],
            expirationdate=date(2030, 1, 1),
            maxuses=100,
        ),
    )
    promotions.add_promotion(uow, promotions.PromotionInput(code="SETUP", type="Free Setup"))
    uow.commit()
    body = api.ok("GetPromotions")
    assert_shape(body, example("GetPromotions"))
    assert body["totalresults"] == 2
    spring = body["promotions"]["promotion"][0]
    assert (spring["code"], spring["value"], spring["appliesto"], spring["expirationdate"]) == (
        "SPRING",
        10,
        "1,2",
        "2030-01-01",
    )
    assert api.ok("GetPromotions", code="SETUP")["promotions"]["promotion"][0]["type"] == "Free Setup"
    assert api.ok("GetPromotions", code="NOPE")["totalresults"] == 0


def test_get_servers_counts_services(api, uow, whm):
    shop = build_shop(uow, hosting_module="cpanel")
    server = add_server(
        uow, "cpanel", whm.url, name="Saturn", username="root", accesshash=whm.token, maxaccounts=200
    )
    add_server(uow, "infrafabric", "http://127.0.0.1:9", name="Cloud")
    uow.commit()
    body = api.ok("GetServers")
    assert_shape(body, example("GetServers"))
    assert [s["name"] for s in body["servers"]] == ["Saturn", "Cloud"]
    assert body["servers"][0]["maxAllowedServices"] == 200 and body["servers"][0]["module"] == "cpanel"
    from catalog_helpers import make_client

    client = make_client(uow)
    uow.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="saturn.example.com",
    )
    api.ok("AcceptOrder", orderid=placed["orderid"])
    for_service = api.ok("GetServers", serviceId=placed["serviceids"])
    assert [s["id"] for s in for_service["servers"]] == [server.id]
    assert for_service["servers"][0]["activeServices"] == 1 and for_service["servers"][0]["percentUsed"] == 0


def test_server_cli_stores_secrets_encrypted(db, uow, whm, monkeypatch):
    from billow.cli import app

    runner = CliRunner()
    monkeypatch.setenv("BILLOW_SERVER_ACCESSHASH", whm.token)
    host, _, port = whm.url.split("//")[1].partition(":")
    result = runner.invoke(
        app,
        [
            "server",
            "add",
            "Saturn",
            "--module",
            "cpanel",
            "--hostname",
            host,
            "--port",
            port,
            "--insecure",
            "--username",
            "root",
            "--max-accounts",
            "10",
            "--default",
        ],
    )
    assert result.exit_code == 0, result.output
    with db() as s:
        server = s.scalar(select(Server))
        assert server.accesshash_enc and whm.token not in server.accesshash_enc
        assert decrypt(server.accesshash_enc) == whm.token
    assert runner.invoke(app, ["server", "test", str(server.id)]).exit_code == 0
    monkeypatch.delenv("BILLOW_SERVER_ACCESSHASH")
    listed = json.loads(runner.invoke(app, ["server", "list", "--json"]).stdout)
    assert listed[0]["name"] == "Saturn" and "accesshash" not in json.dumps(listed)
    assert (
        runner.invoke(
            app, ["servergroup", "add", "Shared", "--server", str(server.id), "--fill", "2"]
        ).exit_code
        == 0
    )
    groups = json.loads(runner.invoke(app, ["servergroup", "list", "--json"]).stdout)
    assert groups == [{"id": 1, "name": "Shared", "filltype": 2, "servers": [server.id]}]
    bad = runner.invoke(app, ["server", "add", "X", "--module", "plesk", "--hostname", "h"])
    assert bad.exit_code == 1 and "Invalid module name" in bad.output
    assert runner.invoke(app, ["server", "update", str(server.id), "--disabled"]).exit_code == 0
    assert runner.invoke(app, ["server", "remove", str(server.id)]).exit_code == 0
