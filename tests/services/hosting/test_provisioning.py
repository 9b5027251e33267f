"""Order → accept → provision → suspend → unsuspend → upgrade → terminate, end to end
through the API against the local WHM and InfraFabric servers; failures, queue, retry."""

from __future__ import annotations

import os
from decimal import Decimal

from sqlalchemy import select
from typer.testing import CliRunner

from billow.api.params import encode_php_array
from billow.config import reset_settings
from billow.db.models import ModuleLog, ModuleQueueEntry, Order, OutboxEvent, Service
from billow.services.billing import payments
from billow.uow import UnitOfWork
from catalog_helpers import add_server, assert_shape, build_shop, example, make_client


def _arrange(uow, whm, fabric):
    shop = build_shop(uow, hosting_module="cpanel", vps_module="infrafabric")
    add_server(uow, "cpanel", whm.url, username="root", accesshash=whm.token, maxaccounts=50)
    add_server(uow, "infrafabric", fabric.url, username=fabric.key, password=fabric.secret)
    client = make_client(uow)
    uow.commit()
    return shop, client


def _pay(db, invoice_id):
    with UnitOfWork(db) as work:
        payments.add_payment(work, invoice_id, transid=f"t{invoice_id}", gateway="mailin")
        work.commit()


def test_full_lifecycle_reaches_the_panels(api, uow, db, whm, fabric):
    shop, client = _arrange(uow, whm, fabric)
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        **{
            "pid[0]": shop.hosting.id,
            "pid[1]": shop.vps.id,
            "domain[0]": "shop.example.com",
            "domain[1]": "vm.example.com",
            "billingcycle[0]": "monthly",
            "billingcycle[1]": "monthly",
        },
    )
    hosting_id, vps_id = map(int, placed["serviceids"].split(","))
    _pay(db, int(placed["invoiceid"]))
    api.ok("AcceptOrder", orderid=placed["orderid"])
    assert whm.accounts["shop"]["plan"] == "starter_pkg"
    [instance] = fabric.instances.values()
    assert instance["plan"] == "small-1" and instance["resources"] == {"ram_mb": 1024}
    products = api.ok("GetClientsProducts", clientid=client.id)
    assert_shape(products, example("GetClientsProducts"))
    by_id = {int(p["id"]): p for p in products["products"]["product"]}
    assert by_id[hosting_id]["status"] == "Active" and by_id[hosting_id]["username"] == "shop"
    assert by_id[hosting_id]["password"] == whm.accounts["shop"]["password"]
    assert by_id[hosting_id]["servername"] == "cpanel box"
    assert by_id[vps_id]["dedicatedip"] == instance["ipv4"]
    assert by_id[vps_id]["configoptions"]["configoption"][0]["value"] == "1 GB"

    api.ok("ModuleSuspend", serviceid=hosting_id, suspendreason="Abuse report")
    assert whm.accounts["shop"]["suspended"] and whm.accounts["shop"]["reason"] == "Abuse report"
    api.ok("ModuleSuspend", accountid=vps_id)
    assert instance["status"] == "stopped"
    api.ok("ModuleUnsuspend", serviceid=hosting_id)
    api.ok("ModuleUnsuspend", serviceid=vps_id)
    assert not whm.accounts["shop"]["suspended"] and instance["status"] == "running"

    api.ok("ModuleChangePw", serviceid=hosting_id, servicepassword="Brand!New9pass")
    assert whm.accounts["shop"]["password"] == "Brand!New9pass"
    api.ok("ModuleCustom", serviceid=vps_id, func_name="reboot")
    assert instance["reboots"] == 1
    assert api.error("ModuleCustom", serviceid=vps_id, func_name="explode") == "Invalid Function Name"

    upgrade = api.ok(
        "UpgradeProduct",
        serviceid=vps_id,
        type="configoptions",
        paymentmethod="mailin",
        **{f"configoptions[{shop.ram.id}]": shop.ram_choices[1].id},
    )
    assert_shape(upgrade, {k: v for k, v in example("UpgradeProduct").items() if k != "invoiceid"})
    assert upgrade["invoiceid"] and upgrade["daysuntilrenewal"] == upgrade["totaldays"] > 27
    assert upgrade["price"] == "$6.00 USD"
    assert instance["resources"] == {"ram_mb": 1024}  # not before payment
    assert (
        api.error("UpgradeProduct", serviceid=vps_id, type="configoptions", paymentmethod="mailin")
        == "Unable to accept upgrade order. Previous upgrade invoice for service is still unpaid."
    )
    _pay(db, upgrade["invoiceid"])
    assert instance["resources"] == {"ram_mb": 4096}
    with db() as s:
        assert s.get(Service, vps_id).amount == Decimal("26.0000")
        assert s.get(Order, upgrade["orderid"]).status == "Active"

    api.ok("ModuleTerminate", serviceid=hosting_id)
    api.ok("ModuleTerminate", serviceid=vps_id)
    assert not whm.accounts and not fabric.instances
    with db() as s:
        assert {s.get(Service, i).status for i in (hosting_id, vps_id)} == {"Terminated"}
        names = {e.name for e in s.scalars(select(OutboxEvent))}
        for hook in (
            "PreModuleCreate",
            "AfterModuleCreate",
            "AfterModuleSuspend",
            "AfterModuleUnsuspend",
            "AfterModuleChangePassword",
            "AfterModuleChangePackage",
            "AfterModuleTerminate",
            "AcceptOrder",
            "AfterProductUpgrade",
        ):
            assert hook in names, hook
        logs = s.scalars(select(ModuleLog)).all()
        assert logs and all(whm.token not in (log.request + log.response) for log in logs)
        assert all(fabric.secret not in log.request and "Brand!New9pass" not in log.request for log in logs)


def test_failure_is_queued_service_unchanged_and_retry_succeeds(api, uow, db, whm, fabric):
    shop, client = _arrange(uow, whm, fabric)
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="down.example.com",
        billingcycle="monthly",
    )
    whm.down = True
    message = api.error("AcceptOrder", orderid=placed["orderid"])
    assert "HTTP 503" in message
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert service.status == "Pending" and s.get(Order, int(placed["orderid"])).status == "Active"
    queue = api.ok("GetModuleQueue")
    assert_shape(queue, example("GetModuleQueue"))
    [entry] = queue["queue"]
    assert (entry["moduleName"], entry["moduleAction"], entry["serviceId"]) == (
        "cpanel",
        "CreateAccount",
        placed["serviceids"],
    )
    assert "HTTP 503" in entry["lastAttemptError"]
    assert api.error("ModuleCreate", serviceid=placed["serviceids"]).startswith("Invalid response from WHM")
    assert api.ok("GetModuleQueue", moduleAction="CreateAccount")["queue"][0]["numRetries"] == "1"

    whm.down = False
    from billow.cli import app

    result = CliRunner().invoke(app, ["modulequeue", "retry", "--all"])
    assert result.exit_code == 0, result.output
    with db() as s:
        assert s.get(Service, int(placed["serviceids"])).status == "Active"
        assert s.scalar(select(ModuleQueueEntry)).completed
    assert api.ok("GetModuleQueue")["count"] == "0"


def test_timeout_and_garbage_leave_a_consistent_service(api, uow, db, whm, fabric):
    shop, client = _arrange(uow, whm, fabric)
    placed = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.vps.id, billingcycle="monthly"
    )
    os.environ["BILLOW_MODULE_TIMEOUT_SECONDS"] = "0.3"
    reset_settings()
    try:
        fabric.delay = 1.0
        assert api.error("ModuleCreate", serviceid=placed["serviceids"]) == "Connection timed out"
        fabric.delay = 0
        fabric.garbage = True
        assert api.error("ModuleCreate", serviceid=placed["serviceids"]).startswith("Invalid response")
    finally:
        del os.environ["BILLOW_MODULE_TIMEOUT_SECONDS"]
        reset_settings()
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert service.status == "Pending" and service.module_data == {}
    fabric.garbage = False
    api.ok("ModuleCreate", serviceid=placed["serviceids"])
    assert api.ok("GetModuleQueue")["count"] == "0"


def test_auto_setup_on_payment_and_unsuspend_on_payment(api, uow, db, whm, fabric):
    shop, client = _arrange(uow, whm, fabric)
    with UnitOfWork(db) as work:
        from billow.db.models import Product

        work.session.get(Product, shop.hosting.id).autosetup = "payment"
        work.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="paid.example.com",
        billingcycle="monthly",
    )
    assert not whm.accounts
    _pay(db, int(placed["invoiceid"]))
    assert "paid" in whm.accounts
    with db() as s:
        service = s.get(Service, int(placed["serviceids"]))
        assert service.status == "Active" and service.nextduedate > service.regdate
        assert "OrderPaid" in {e.name for e in s.scalars(select(OutboxEvent))}
    api.ok("ModuleSuspend", serviceid=placed["serviceids"], suspendreason="Overdue on Payment")
    with UnitOfWork(db) as work:
        from billow.services.billing.contract import InvoiceLine
        from billow.services.billing.invoices import create_invoice

        invoice = create_invoice(
            work,
            client.id,
            [InvoiceLine("Renewal", Decimal("10.00"), type="Hosting", relid=int(placed["serviceids"]))],
        )
        work.commit()
    _pay(db, invoice.id)
    assert not whm.accounts["paid"]["suspended"]


def test_module_action_errors(api, uow, whm, fabric):
    shop, client = _arrange(uow, whm, fabric)
    for action in (
        "ModuleCreate",
        "ModuleSuspend",
        "ModuleUnsuspend",
        "ModuleTerminate",
        "ModuleChangePackage",
        "ModuleChangePw",
        "ModuleCustom",
    ):
        assert api.error(action) == "Service ID is required"
        assert api.error(action, serviceid=999) == "Service ID not found"
    placed = api.ok("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id, noinvoice=1)
    from billow.services.catalog import products as catalog_products

    with UnitOfWork(uow.factory) as work:
        bare = catalog_products.add_product(
            work, catalog_products.ProductInput(name="Bare", gid=shop.group.id, paytype="free")
        )
        work.commit()
    api.ok("UpdateClientProduct", serviceid=placed["serviceids"], pid=bare.id)
    assert api.error("ModuleCreate", serviceid=placed["serviceids"]) == "Service not assigned to a module"


def test_encode_helper_roundtrip():
    assert encode_php_array({1: "a"})
