"""AddOrder, AcceptOrder and the other order actions through the real API."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from billow.api.params import encode_php_array
from billow.clock import frozen
from billow.db.models import Invoice, Order, OutboxEvent, Service, ServiceAddon
from catalog_helpers import assert_shape, build_shop, example, make_client


def _setup(uow):
    shop = build_shop(uow)
    client = make_client(uow)
    uow.commit()
    return shop, client


def test_add_order_three_products_with_parallel_arrays(api, uow, db):
    shop, client = _setup(uow)
    with frozen(__import__("datetime").date(2026, 1, 31)):
        body = api.ok(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            **{
                "pid[0]": shop.hosting.id,
                "pid[1]": shop.vps.id,
                "pid[2]": shop.manual.id,
                "billingcycle[0]": "monthly",
                "billingcycle[1]": "quarterly",
                "billingcycle[2]": "Monthly",
                "domain[0]": "Example.com",
                "domain[1]": "vps.example.com",
                "configoptions[1]": encode_php_array({shop.ram.id: shop.ram_choices[1].id}),
                "customfields[0]": encode_php_array({shop.field.id: "blog"}),
                "addons[0]": str(shop.addon.id),
            },
        )
    assert_shape(body, example("AddOrder"))
    assert body["serviceids"].count(",") == 2 and body["addonids"] == "1" and body["domainids"] == ""
    with db() as s:
        order = s.get(Order, body["orderid"])
        assert order.status == "Pending" and order.invoiceid == int(body["invoiceid"])
        services = s.scalars(select(Service).order_by(Service.id)).all()
        assert [x.status for x in services] == ["Pending"] * 3
        hosting, vps, manual = services
        assert (hosting.firstpaymentamount, hosting.amount) == (Decimal("15.0000"), Decimal("10.0000"))
        assert hosting.domain == "example.com" and hosting.billingcycle == "Monthly"
        assert (vps.amount, vps.billingcycle) == (Decimal("75.0000"), "Quarterly")  # 57 + 18 for 4 GB
        invoice = s.get(Invoice, order.invoiceid)
        # 10 + 5 setup + 75 + 3 + 2 addon
        assert invoice.total == Decimal("95.0000") and invoice.status == "Unpaid"
        assert {i.type for i in invoice.items} == {"Hosting", "Setup", "Addon"}
        # First invoice made: the next invoice is one cycle on, clamped at the month end.
        assert str(hosting.nextinvoicedate) == "2026-02-28" and str(vps.nextinvoicedate) == "2026-04-30"
        assert s.scalar(select(ServiceAddon)).status == "Pending"
        names = [e.name for e in s.scalars(select(OutboxEvent))]
        assert "AfterShoppingCartCheckout" in names and "PreShoppingCartCheckout" in names


def test_add_order_scalar_cycle_applies_to_every_item_and_noinvoice(api, uow, db):
    shop, client = _setup(uow)
    body = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="banktransfer",
        noinvoice=1,
        **{"pid[]": [shop.hosting.id, shop.manual.id]},
        billingcycle="monthly",
    )
    assert body["invoiceid"] == "0"
    with db() as s:
        assert [x.billingcycle for x in s.scalars(select(Service))] == ["Monthly", "Monthly"]


def test_add_order_errors(api, uow):
    shop, client = _setup(uow)
    assert (
        api.error("AddOrder", clientid=999, paymentmethod="mailin", pid=shop.hosting.id)
        == "Client ID Not Found"
    )
    assert api.error("AddOrder", clientid=client.id, paymentmethod="bogus", pid=shop.hosting.id).startswith(
        "Invalid Payment Method. Valid options include"
    )
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin")
        == "No items added to cart so order cannot proceed"
    )
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id, addons="999")
        == "Addon ID invalid"
    )
    other = make_client(uow)
    uow.commit()
    placed = api.ok("AddOrder", clientid=other.id, paymentmethod="mailin", pid=shop.hosting.id)
    assert (
        api.error(
            "AddOrder",
            clientid=client.id,
            paymentmethod="mailin",
            addonid=shop.addon.id,
            serviceid=placed["serviceids"],
        )
        == "Service ID not owned by Client ID provided"
    )
    api.ok("CloseClient", clientid=client.id)
    assert (
        api.error("AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.hosting.id)
        == "Unable to add order when client status is Closed"
    )


def test_accept_order_activates_manual_services_and_order_lifecycle(api, uow, db):
    shop, client = _setup(uow)
    body = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        **{"pid[0]": shop.manual.id, "pid[1]": shop.hosting.id},
        billingcycle="monthly",
    )
    assert api.ok("AcceptOrder", orderid=body["orderid"]) == {"result": "success"}
    with db() as s:
        assert [x.status for x in s.scalars(select(Service).order_by(Service.id))] == ["Active", "Active"]
        hosting = s.scalars(select(Service).order_by(Service.id)).all()[1]
        assert hosting.username == "user" and hosting.password_enc
    assert api.error("AcceptOrder", orderid=body["orderid"]) == "Order ID not found or Status not Pending"
    assert api.error("CancelOrder", orderid=body["orderid"]) == "Order ID not found or Status not Pending"
    assert (
        api.error("DeleteOrder", orderid=body["orderid"])
        == "The order status must be in Cancelled or Fraud to be deleted"
    )
    api.ok("PendingOrder", orderid=body["orderid"])
    api.ok("CancelOrder", orderid=body["orderid"])
    with db() as s:
        assert s.get(Order, body["orderid"]).status == "Cancelled"
        assert s.get(Invoice, body["invoiceid"]).status == "Cancelled"
        assert {x.status for x in s.scalars(select(Service))} == {"Cancelled"}
    api.ok("DeleteOrder", orderid=body["orderid"])
    with db() as s:
        assert s.get(Order, body["orderid"]) is None and not s.scalars(select(Service)).all()
    assert api.error("DeleteOrder", orderid=body["orderid"]) == "Order ID not found"
    assert api.error("PendingOrder", orderid=9999) == "Order ID Not Found"
    assert api.error("FraudOrder", orderid=9999) == "Order ID Not Found"


def test_fraud_order_and_get_orders_shapes(api, uow, db):
    shop, client = _setup(uow)
    body = api.ok(
        "AddOrder",
        clientid=client.id,
        paymentmethod="mailin",
        pid=shop.manual.id,
        billingcycle="monthly",
        clientip="10.0.0.1",
    )
    orders = api.ok("GetOrders", userid=client.id)
    assert_shape(orders, example("GetOrders"))
    order = orders["orders"]["order"][0]
    assert order["paymentstatus"] == "Unpaid" and order["lineitems"]["lineitem"][0]["amount"] == "3.00"
    assert order["paymentmethodname"] == "Mail In Payment" or order["paymentmethodname"]
    api.ok("FraudOrder", orderid=body["orderid"])
    statuses = api.ok("GetOrderStatuses")
    assert_shape(statuses, example("GetOrderStatuses"))
    assert {s["title"]: s["count"] for s in statuses["statuses"]["status"]}["Fraud"] == 1
    assert api.ok("GetOrders", status="Pending")["numreturned"] == 0


def test_order_fraud_check_rules(api, uow, db):
    shop, client = _setup(uow)
    assert api.error("OrderFraudCheck", orderid=1) == "Order ID Not Found"
    body = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id, clientip="10.9.9.9"
    )
    assert api.error("OrderFraudCheck", orderid=body["orderid"]) == "No Active Fraud Module"
    api.ok(
        "ActivateModule",
        moduleType="fraud",
        moduleName="rules",
        **{"parameters[blocked_countries]": "RU,KP", "parameters[max_orders_per_ip]": "1"},
    )
    result = api.ok("OrderFraudCheck", orderid=body["orderid"])
    assert_shape(result, example("OrderFraudCheck"))
    assert (result["module"], result["status"]) == ("rules", "Pass")
    second = api.ok(
        "AddOrder", clientid=client.id, paymentmethod="mailin", pid=shop.manual.id, clientip="10.9.9.9"
    )
    result = api.ok("OrderFraudCheck", orderid=second["orderid"])
    assert result["status"] == "Fail" and "10.9.9.9" in result["results"]
    api.ok(
        "UpdateModuleConfiguration",
        moduleType="fraud",
        moduleName="rules",
        **{"parameters[max_orders_per_ip]": "0", "parameters[blocked_email_domains]": "example.com"},
    )
    assert "example.com" in api.ok("OrderFraudCheck", orderid=second["orderid"])["results"]
