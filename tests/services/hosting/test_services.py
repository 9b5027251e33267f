"""Service and addon actions, cancellation requests, upgrades, module settings, and the
hooks into billing (due items) and the client lifecycle (stats, close, delete)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billow.api.params import encode_php_array
from billow.clock import frozen
from billow.db.models import Invoice, Service, ServiceAddon
from billow.services.billing import generation as invoicegen
from billow.uow import UnitOfWork
from catalog_helpers import assert_shape, build_shop, example, make_client


def _ordered(api, uow, **extra):
    shop = build_shop(uow)
    client = make_client(uow)
    uow.commit()
    placed = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.hosting.id,
        domain="svc.example.com",
        billingcycle="monthly",
        addons=str(shop.addon.id),
        **extra,
    )
    return shop, client, placed


def test_get_clients_products_filters_and_paging(api, uow):
    shop, client, placed = _ordered(api, uow)
    body = api.ok("GetClientsProducts", clientid=client.id)
    assert_shape(body, example("GetClientsProducts"))
    product = body["products"]["product"][0]
    assert (product["domain"], product["firstpaymentamount"], product["recurringamount"]) == (
        "svc.example.com",
        "15.00",
        "10.00",
    )
    assert product["groupname"] == "Shared Hosting" and product["paymentmethodname"]
    assert api.ok("GetClientsProducts", domain="svc.example.com")["numreturned"] == 1
    assert api.ok("GetClientsProducts", domain="other.example.com")["numreturned"] == 0
    assert api.ok("GetClientsProducts", clientid=client.id, limitstart=1)["numreturned"] == 0


def test_update_client_product(api, uow, db):
    shop, client, placed = _ordered(api, uow)
    sid = placed["serviceids"]
    body = api.ok(
        "UpdateClientProduct",
        serviceid=sid,
        nextduedate="2027-02-28",
        recurringamount="12.50",
        status="Active",
        serviceusername="abc",
        servicepassword="Pw!12345",
        notes="vip",
        overideautosuspend="on",
        customfields=encode_php_array({shop.field.id: "shop"}),
        billingcycle="Annually",
    )
    assert_shape(body, example("UpdateClientProduct"))
    with db() as s:
        service = s.get(Service, int(sid))
        assert (
            str(service.nextduedate),
            service.amount,
            service.status,
            service.username,
            service.notes,
            service.overideautosuspend,
            service.billingcycle,
        ) == ("2027-02-28", Decimal("12.5000"), "Active", "abc", "vip", True, "Annually")
    api.ok(
        "UpdateClientProduct",
        serviceid=sid,
        autorecalc=1,
        **{"unset[0]": "notes", "unset[1]": "serviceusername"},
    )
    with db() as s:
        service = s.get(Service, int(sid))
        assert (service.amount, service.notes, service.username) == (Decimal("100.0000"), "", "")
    assert api.error("UpdateClientProduct", serviceid=999) == "Service ID Not Found"
    assert api.error("UpdateClientProduct", serviceid=sid, billingcycle="weekly") == "Invalid Billing Cycle"


def test_addons_list_and_update(api, uow, db):
    shop, client, placed = _ordered(api, uow)
    body = api.ok("GetClientsAddons", clientid=client.id)
    assert_shape(body, example("GetClientsAddons"))
    addon = body["addons"]["addon"][0]
    assert (addon["name"], addon["recurring"], addon["billingcycle"], addon["status"]) == (
        "Backups",
        "2.00",
        "Monthly",
        "Pending",
    )
    updated = api.ok(
        "UpdateClientAddon", id=addon["id"], status="Active", recurring="3.00", nextduedate="2027-01-31"
    )
    assert_shape(updated, example("UpdateClientAddon"))
    with db() as s:
        row = s.get(ServiceAddon, int(addon["id"]))
        assert (row.status, row.recurring, str(row.nextduedate)) == (
            "Active",
            Decimal("3.0000"),
            "2027-01-31",
        )
    api.ok("UpdateClientAddon", id=addon["id"], autorecalc=1)
    with db() as s:
        assert s.get(ServiceAddon, int(addon["id"])).recurring == Decimal("2.0000")
    assert api.error("UpdateClientAddon", id=999, status="Active") == "Addon ID Not Found"
    assert api.error("UpdateClientAddon", id=addon["id"]) == "Nothing to Update"
    assert api.ok("GetClientsAddons", addonid=999)["totalresults"] == "0"


def test_cancel_requests(api, uow):
    shop, client, placed = _ordered(api, uow)
    body = api.ok("AddCancelRequest", serviceid=placed["serviceids"], reason="Moving", type="Immediate")
    assert_shape(body, example("AddCancelRequest"))
    assert body["userid"] == str(client.id)
    assert (
        api.error("AddCancelRequest", serviceid=placed["serviceids"])
        == "Existing Cancellation Request Exists"
    )
    assert api.error("AddCancelRequest", serviceid=999) == "Service ID Not Found"
    packages = api.ok("GetCancelledPackages")
    assert_shape(packages, example("GetCancelledPackages"))
    assert packages["packages"]["package"][0]["type"] == "Immediate"


def test_upgrade_product_calculation_and_errors(api, uow, db):
    shop, client, placed = _ordered(api, uow)
    sid = placed["serviceids"]
    with UnitOfWork(db) as work:
        service = work.session.get(Service, int(sid))
        service.status, service.regdate, service.nextduedate = "Active", date(2024, 1, 31), date(2024, 2, 29)
        work.commit()
    with frozen(date(2024, 2, 15)):
        calc = api.ok(
            "UpgradeProduct",
            serviceid=sid,
            type="product",
            newproductid=shop.vps.id,
            newproductbillingcycle="monthly",
            paymentmethod="mailin",
            calconly=1,
        )
    # Leap-year February: 29 days in the cycle ending 29 Feb, 14 left; (20 - 10) * 14 / 29 = 4.83
    assert (calc["daysuntilrenewal"], calc["totaldays"], calc["price"]) == (14, 29, "$4.83 USD")
    assert calc["newproductname"] == "VPS" and calc["oldproductid"] == str(shop.hosting.id)
    assert "orderid" not in calc
    assert (
        api.error("UpgradeProduct", serviceid=999, type="product", paymentmethod="mailin")
        == "Service ID Not Found"
    )
    assert (
        api.error("UpgradeProduct", serviceid=sid, type="bogus", paymentmethod="mailin")
        == "Invalid Upgrade Type"
    )
    assert api.error(
        "UpgradeProduct", serviceid=sid, type="product", newproductid=shop.vps.id, paymentmethod="cheque"
    ).startswith("Invalid Payment Method. Valid options include")
    with frozen(date(2024, 2, 15)):
        done = api.ok(
            "UpgradeProduct",
            serviceid=sid,
            type="product",
            newproductid=shop.manual.id,
            newproductbillingcycle="monthly",
            paymentmethod="mailin",
        )
    # A downgrade costs nothing: applied at once, no invoice.
    assert done["invoiceid"] is None
    with db() as s:
        service = s.get(Service, int(sid))
        assert (service.packageid, service.amount) == (shop.manual.id, Decimal("3.0000"))


def test_module_configuration_actions(api, uow):
    body = api.ok("GetModuleConfigurationParameters", moduleType="fraud", moduleName="rules")
    assert_shape(body, example("GetModuleConfigurationParameters"))
    assert body["parameters"][0]["name"] == "blocked_countries"
    assert (
        api.ok("GetModuleConfigurationParameters", moduleType="servers", moduleName="cpanel")["parameters"][
            0
        ]["name"]
        == "WHM Package Name"
    )
    assert api.error("ActivateModule", moduleType="widgets", moduleName="x").startswith(
        "Invalid module type provided. Supported module types include: "
    )
    assert (
        api.error("ActivateModule", moduleType="fraud", moduleName="maxmind")
        == "Invalid module name provided."
    )
    assert (
        api.error("ActivateModule", moduleType="servers", moduleName="cpanel")
        == "Module activation not supported by module type."
    )
    assert api.error("DeactivateModule", moduleType="fraud", moduleName="rules").startswith(
        "Failed to deactivate"
    )
    api.ok("ActivateModule", moduleType="fraud", moduleName="rules")
    api.ok("DeactivateModule", moduleType="fraud", moduleName="rules")
    assert api.error("UpdateModuleConfiguration", moduleType="fraud", moduleName="rules").startswith(
        "Module Configuration Update Failed"
    )


def test_due_items_generate_renewal_invoices_and_advance_dates(api, uow, db):
    shop, client, placed = _ordered(api, uow, noinvoice=1)
    sid = int(placed["serviceids"])
    with UnitOfWork(db) as work:
        service = work.session.get(Service, sid)
        service.status = "Active"
        service.regdate = service.nextduedate = service.nextinvoicedate = date(2025, 1, 31)
        addon = work.session.scalar(select(ServiceAddon))
        addon.status = "Active"
        addon.regdate = addon.nextduedate = addon.nextinvoicedate = date(2025, 1, 31)
        work.commit()
    with frozen(date(2025, 1, 20)), UnitOfWork(db) as work:
        created = invoicegen.generate_invoices(work, as_of=date(2025, 1, 31))
        work.commit()
    assert len(created) == 1
    with db() as s:
        invoice = s.get(Invoice, created[0].id)
        assert invoice.total == Decimal("12.0000") and {i.type for i in invoice.items} == {"Hosting", "Addon"}
        service = s.get(Service, sid)
        assert str(service.nextinvoicedate) == "2025-02-28" and str(service.nextduedate) == "2025-01-31"
    with UnitOfWork(db) as work:
        assert invoicegen.generate_invoices(work, as_of=date(2025, 1, 31)) == []
    with UnitOfWork(db) as work:
        from billow.services.billing import payments

        payments.add_payment(work, created[0].id, transid="renew1", gateway="mailin")
        work.commit()
    with db() as s:
        service = s.get(Service, sid)
        # paid: due moves one cycle, anchored on the 31st (Feb 28 -> then Mar 31)
        assert str(service.nextduedate) == "2025-02-28"
    with UnitOfWork(db) as work:
        work.session.get(Service, sid).nextinvoicedate = date(2025, 2, 28)
        work.commit()
    with frozen(date(2025, 2, 20)), UnitOfWork(db) as work:
        invoicegen.generate_invoices(work, as_of=date(2025, 2, 28))
        work.commit()
    with db() as s:
        assert str(s.get(Service, sid).nextinvoicedate) == "2025-03-31"


def test_client_stats_close_and_delete(api, uow, db):
    shop, client, placed = _ordered(api, uow)
    api.ok("AcceptOrder", orderid=placed["orderid"])
    stats = api.ok("GetClientsDetails", clientid=client.id, stats=1)["stats"]
    assert (stats["productsnumactivehosting"], stats["productsnumtotal"], stats["productsnumactive"]) == (
        1,
        1,
        1,
    )
    api.ok("CloseClient", clientid=client.id)
    with db() as s:
        assert s.scalar(select(Service)).status == "Cancelled"
        assert s.scalar(select(ServiceAddon)).status == "Cancelled"
    api.ok("DeleteClient", clientid=client.id)
    with db() as s:
        assert s.scalar(select(Service)) is None and s.scalar(select(ServiceAddon)) is None


def test_on_demand_service_renewal_order(api, uow, db):
    shop, client, placed = _ordered(api, uow, noinvoice=1)
    sid = int(placed["serviceids"])
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin", servicerenewals=sid)
        == f"Service ID {sid} can not be renewed at this time."
    )
    with UnitOfWork(db) as work:
        service = work.session.get(Service, sid)
        service.status = "Active"
        service.regdate = service.nextduedate = service.nextinvoicedate = date(2025, 3, 31)
        work.commit()
    with frozen(date(2025, 3, 20)):
        renewal = api.ok("AddOrder", clientid=client.id, paymentmethod="mailin", servicerenewals=sid)
    with db() as s:
        invoice = s.get(Invoice, int(renewal["invoiceid"]))
        assert invoice.total == Decimal("10.0000") and invoice.items[0].description.endswith("(Renewal)")
        assert str(s.get(Service, sid).nextinvoicedate) == "2025-04-30"
    with UnitOfWork(db) as work:
        assert [
            i for i in invoicegen.collect_due_items(work, date(2025, 4, 1), None, None) if i.relid == sid
        ] == []
    other = make_client(uow)
    uow.commit()
    assert (
        api.error("AddOrder", clientid=other.id, paymentmethod="mailin", servicerenewals=sid)
        == "Service ID not owned by Client ID provided"
    )
