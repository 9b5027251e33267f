"""Hooks around module calls, AcceptOrder overrides, server placement, usage, option types."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from billow.db.models import ModuleQueueEntry, Product, Service
from billow.events import HookAbort, registry
from billow.services.catalog import config_options, product_fields, products
from billow.services.hosting import module_params, module_queue, panel_reads, servers
from billow.uow import UnitOfWork
from catalog_helpers import add_server, build_shop, make_client


def _shop(uow, whm):
    shop = build_shop(uow, hosting_module="cpanel")
    server = add_server(uow, "cpanel", whm.url, username="root", accesshash=whm.token)
    client = make_client(uow)
    uow.commit()
    return shop, server, client


def test_pre_module_create_hook_can_abort_or_override(api, uow, db, whm):
    shop, _server, client = _shop(uow, whm)
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="hooked.example.com",
    )

    def refuse(variables):
        raise HookAbort("Manual review required")

    registry.add("PreModuleCreate", refuse)
    assert api.error("ModuleCreate", serviceid=placed["serviceids"]) == "Manual review required"
    with db() as s:
        assert s.get(Service, int(placed["serviceids"])).status == "Pending" and not whm.accounts
    registry.clear()
    seen = {}
    registry.add("PreModuleCreate", lambda v: {"configoption1": "gold_pkg"})
    registry.add("AfterModuleCreate", lambda v: seen.update(v["params"]))
    api.ok("ModuleCreate", serviceid=placed["serviceids"])
    assert whm.accounts["hooked"]["plan"] == "gold_pkg"
    assert seen["serverpassword"] in ("", "********") and seen["serveraccesshash"] == "********"
    assert seen["password"] == "********" and seen["domain"] == "hooked.example.com"


def test_accept_order_overrides(api, uow, db, whm):
    shop, server, client = _shop(uow, whm)
    placed = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, domain="over.example.com"
    )
    assert api.error("AcceptOrder", orderid=placed["orderid"], serverid=999) == "Server ID not found"
    api.ok(
        "AcceptOrder",
        orderid=placed["orderid"],
        autosetup=0,
        serviceusername="custom1",
        servicepassword="Given!Pass1",
        serverid=server.id,
    )
    assert not whm.accounts
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.status, service.username, service.server_id) == ("Pending", "custom1", server.id)
        assert module_params.service_password(service) == "Given!Pass1"
    api.ok("ModuleCreate", serviceid=placed["serviceids"])
    assert whm.accounts["custom1"]["password"] == "Given!Pass1"


def test_usage_update_and_queue_filters(api, uow, db, whm):
    shop, server, client = _shop(uow, whm)
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="usage.example.com",
    )
    api.ok("AcceptOrder", orderid=placed["orderid"])
    with UnitOfWork(db) as work:
        assert panel_reads.update_usage(work, server.id) == 1
        work.commit()
    body = api.ok("GetClientsProducts", serviceid=placed["serviceids"])["products"]["product"][0]
    assert (body["diskusage"], body["disklimit"], body["bwusage"], body["bwlimit"]) == (
        "150",
        "1000",
        "300",
        "2048",
    )
    whm.down = True
    assert "503" in api.error("ModuleSuspend", serviceid=placed["serviceids"], suspendreason="x")
    assert api.ok("GetModuleQueue", relatedId=placed["serviceids"], serviceType="service")["count"] == "1"
    assert api.ok("GetModuleQueue", moduleName="infrafabric")["count"] == "0"
    assert api.ok("GetModuleQueue", since="2999-01-01")["count"] == "0"
    with db() as s:
        entry = s.scalar(select(ModuleQueueEntry))
        assert entry.arguments == {"reason": "x"} and s.get(Service, entry.service_id).status == "Active"
    whm.down = False
    with UnitOfWork(db) as work:
        assert module_queue.retry(work, entry.id).success
        work.commit()
    assert whm.accounts["usage"]["reason"] == "x"


def test_server_placement_least_full_and_fill(uow):
    build_shop(uow)
    a = servers.add_server(
        uow, servers.ServerInput(name="A", type="cpanel", hostname="a", maxaccounts=2, active=True)
    )
    b = servers.add_server(uow, servers.ServerInput(name="B", type="cpanel", hostname="b", maxaccounts=4))
    least = servers.add_group(uow, "least", [a.id, b.id], 1)
    fill = servers.add_group(uow, "fill", [a.id, b.id], 2)
    client = make_client(uow)
    product_id = uow.session.scalar(select(Product.id))
    uow.session.add(Service(userid=client.id, packageid=product_id, server_id=a.id, status="Active"))
    uow.session.flush()
    assert servers.choose_server(uow, "cpanel", least.id).id == b.id  # A is 50% full, B empty
    assert servers.choose_server(uow, "cpanel", fill.id).id == a.id  # keep filling the default
    uow.session.add(Service(userid=client.id, packageid=product_id, server_id=a.id, status="Suspended"))
    uow.session.flush()
    assert servers.choose_server(uow, "cpanel", fill.id).id == b.id  # A is full now
    assert servers.choose_server(uow, "cpanel", 0).id == b.id
    assert servers.choose_server(uow, "none", 0) is None


def test_quantity_and_yes_no_options_are_priced_per_unit(api, uow, db):
    shop = build_shop(uow)
    client = make_client(uow)
    group = config_options.add_config_group(uow, "Extras", [shop.manual.id])
    ips = config_options.add_config_option(
        uow,
        group.id,
        "Extra IPs",
        4,
        [("IP", {shop.currency.id: {"monthly": "1.50"}})],
        qtyminimum=0,
        qtymaximum=8,
    )
    ssl = config_options.add_config_option(
        uow, group.id, "SSL", 3, [("Yes", {shop.currency.id: {"monthly": "4.00", "msetupfee": "2.00"}})]
    )
    uow.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.manual.id,
        **{f"configoptions[0][{ips.id}]": 3, f"configoptions[0][{ssl.id}]": 1},
    )
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        # 3.00 + 3 x 1.50 + 4.00 ; setup 2.00 on the first payment
        assert (service.amount, service.firstpaymentamount) == (Decimal("11.5000"), Decimal("13.5000"))
    assert (
        api.error(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            pid=shop.manual.id,
            **{f"configoptions[0][{ips.id}]": 9},
        )
        == "Extra IPs must be at most 8"
    )
    options = api.ok("GetClientsProducts", serviceid=placed["serviceids"])["products"]["product"][0][
        "configoptions"
    ]
    assert {o["option"]: (o["type"], o["value"]) for o in options["configoption"]} == {
        "Extra IPs": ("quantity", "3"),
        "SSL": ("yesno", "1"),
    }


def test_no_server_with_room_is_a_queued_failure(api, uow, db, whm):
    shop, server, client = _shop(uow, whm)
    servers.update_server(uow, server.id, {"maxaccounts": 1})
    uow.commit()
    first = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, domain="one.example"
    )
    api.ok("AcceptOrder", orderid=first["orderid"])
    second = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, domain="two.example"
    )
    assert (
        api.error("AcceptOrder", orderid=second["orderid"])
        == "No cPanel server with free capacity is available"
    )
    assert list(whm.accounts) == ["one"]
    assert api.ok("GetModuleQueue")["queue"][0]["serviceId"] == second["serviceids"]


def test_product_upgrade_reaches_the_panel_after_payment(api, uow, db, whm):
    shop, _server, client = _shop(uow, whm)
    gold = products.add_product(
        uow,
        products.ProductInput(
            name="Gold",
            gid=shop.group.id,
            type="hostingaccount",
            module="cpanel",
            module_settings={"configoption1": "gold_pkg"},
            pricing={shop.currency.id: {"monthly": "30.00"}},
        ),
    )
    uow.commit()
    placed = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, domain="up.example"
    )
    from billow.services.billing import payments

    with UnitOfWork(db) as work:
        payments.add_payment(work, int(placed["invoiceid"]), transid="first", gateway="mailin")
        work.commit()
    api.ok("AcceptOrder", orderid=placed["orderid"])
    upgrade = api.ok(
        "UpgradeProduct",
        serviceid=placed["serviceids"],
        type="product",
        newproductid=gold.id,
        newproductbillingcycle="monthly",
        paymentmethod="mailin",
    )
    assert whm.accounts["up"]["plan"] == "starter_pkg"
    with UnitOfWork(db) as work:
        payments.add_payment(work, int(upgrade["invoiceid"]), transid="upgrade", gateway="mailin")
        work.commit()
    assert whm.accounts["up"]["plan"] == "gold_pkg"
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert (service.packageid, service.amount) == (gold.id, Decimal("30.0000"))


def test_refused_password_change_keeps_the_old_password(api, uow, db, whm):
    shop, _server, client = _shop(uow, whm)
    placed = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, domain="pw.example"
    )
    api.ok("AcceptOrder", orderid=placed["orderid"])
    before = whm.accounts["pw"]["password"]
    assert (
        api.error("ModuleChangePw", serviceid=placed["serviceids"], servicepassword="short")
        == "The password is too weak."
    )
    with db() as s:
        assert module_params.service_password(s.get(Service, int(placed["serviceids"]))) == before


def test_required_product_custom_field(api, uow, whm):
    shop, _server, client = _shop(uow, whm)
    product_fields.add_product_field(uow, shop.manual.id, "Reason", required=True)
    uow.commit()
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id)
        == "You did not provide required custom field value for Reason"
    )
