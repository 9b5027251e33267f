"""Order actions. ``AddOrder`` reads WHMCS's parallel arrays: the i-th ``pid``, ``billingcycle``,
``domain``, ``qty``, ``configoptions``, ``customfields``, ``priceoverride``, ``addons`` ...
describe the i-th product; a scalar where an array is expected applies to every product.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from billow.api.actions._shared import page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params, as_bool, decode_php_array, parse_amount, parse_int
from billow.api.registry import Action
from billow.db.models import Client, Product, ProductGroup
from billow.errors import ValidationError
from billow.money import fmt
from billow.services.orders import fraud, placing, queries, status_changes
from billow.services.orders.requests import AddonOrder, OrderItem, OrderRequest
from billow.services.orders.status_changes import AcceptOptions

PRODUCT_TYPE_NAMES = {
    "hostingaccount": "Hosting Account",
    "reselleraccount": "Reseller Account",
    "server": "Dedicated/VPS Server",
    "other": "Other Product/Service",
}


def _nth(params: Params, key: str, index: int) -> Any:
    """The *index*-th value of array parameter *key*; a scalar applies to every index."""
    raw = params.get(key)
    if raw is None:
        return None
    if isinstance(raw, dict):
        return raw.get(str(index))
    if isinstance(raw, list):
        return raw[index] if index < len(raw) else None
    return raw


def _int_list(text: Any, what: str) -> list[int]:
    if text is None or text == "":
        return []
    parts = text if isinstance(text, list) else str(text).split(",")
    return [parse_int(p, f"Invalid {what}") for p in parts if str(p).strip()]


def _serialized(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    return decode_php_array(value)


def _items(params: Params) -> list[OrderItem]:
    items = []
    for index, pid in enumerate(params.list("pid")):
        pid_value = parse_int(pid, "Invalid Product ID")
        addon_ids = _int_list(_nth(params, "addons", index), "addon id")
        addon_qty = _int_list(_nth(params, "addonsqty", index), "addon quantity")
        override = _nth(params, "priceoverride", index)
        qty = parse_int(_nth(params, "qty", index) or 1, "Invalid quantity or price override")
        price = (parse_amount(override, "Invalid quantity or price override")
                 if override not in (None, "") else None)
        items.append(
            OrderItem(
                pid=pid_value,
                billingcycle=str(_nth(params, "billingcycle", index) or ""),
                domain=str(_nth(params, "domain", index) or ""),
                qty=qty,
                configoptions=_serialized(_nth(params, "configoptions", index)),
                customfields={
                    str(k): str(v) for k, v in _serialized(_nth(params, "customfields", index)).items()
                },
                priceoverride=price,
                addons=[(aid, addon_qty[i] if i < len(addon_qty) else 1) for i, aid in enumerate(addon_ids)],
                hostname=str(_nth(params, "hostname", index) or ""),
                ns1prefix=str(_nth(params, "ns1prefix", index) or ""),
                ns2prefix=str(_nth(params, "ns2prefix", index) or ""),
                rootpw=str(_nth(params, "rootpw", index) or ""),
            )
        )
    return items


def _addon_items(params: Params) -> list[AddonOrder]:
    out = []
    if params.int("addonid"):
        out.append(AddonOrder(params.int("addonid"), params.int("serviceid"), params.int("addonidqty", 1)))
    addon_ids = _int_list(params.list("addonids"), "addon id")
    service_ids = _int_list(params.list("serviceids"), "service id")
    quantities = _int_list(params.list("addonidsqty"), "addon quantity")
    for i, addon_id in enumerate(addon_ids):
        out.append(
            AddonOrder(
                addon_id,
                service_ids[i] if i < len(service_ids) else 0,
                quantities[i] if i < len(quantities) else 1,
            )
        )
    return out


def add_order(ctx: Context, params: Params) -> dict[str, Any]:
    if params.list("domaintype") or params.dict("domainrenewals") or params.list("addonrenewals"):
        raise ValidationError("Domain and addon renewal orders are not available in this installation")
    request = OrderRequest(
        client_id=params.int("clientid"),
        paymentmethod=params.str("paymentmethod"),
        items=_items(params),
        addon_items=_addon_items(params),
        service_renewals=_int_list(params.list("servicerenewals"), "service id"),
        promocode=params.str("promocode"),
        promooverride=params.bool("promooverride"),
        affid=params.int("affid"),
        contactid=params.int("contactid"),
        clientip=params.str("clientip"),
        noinvoice=params.bool("noinvoice"),
        noinvoiceemail=params.bool("noinvoiceemail"),
        noemail=params.bool("noemail"),
        nameservers=[params.str(f"nameserver{i}") for i in range(1, 6) if params.str(f"nameserver{i}")],
    )
    placed = placing.add_order(ctx.uow, request)
    return {
        "orderid": str(placed.order.id),
        "serviceids": ",".join(map(str, placed.service_ids)),
        "addonids": ",".join(map(str, placed.addon_ids)),
        "domainids": ",".join(map(str, placed.domain_ids)),
        "invoiceid": str(placed.invoice_id),
    }


def _opt_bool(params: Params, key: str) -> bool | None:
    return as_bool(params[key]) if params.has(key) and params.str(key) != "" else None


def accept_order(ctx: Context, params: Params) -> dict[str, Any]:
    status_changes.accept_order(
        ctx.uow,
        params.int("orderid"),
        AcceptOptions(
            serverid=params.int("serverid"),
            serviceusername=params.str("serviceusername"),
            servicepassword=params.str("servicepassword"),
            registrar=params.str("registrar"),
            sendregistrar=_opt_bool(params, "sendregistrar"),
            autosetup=_opt_bool(params, "autosetup"),
            sendemail=_opt_bool(params, "sendemail"),
        ),
    )
    return {}


def pending_order(ctx: Context, params: Params) -> dict[str, Any]:
    status_changes.pending_order(ctx.uow, params.int("orderid"))
    return {}


def cancel_order(ctx: Context, params: Params) -> dict[str, Any]:
    status_changes.cancel_order(ctx.uow, params.int("orderid"))
    return {}


def fraud_order(ctx: Context, params: Params) -> dict[str, Any]:
    status_changes.fraud_order(ctx.uow, params.int("orderid"))
    return {}


def delete_order(ctx: Context, params: Params) -> dict[str, Any]:
    status_changes.delete_order(ctx.uow, params.int("orderid"))
    return {}


def _line_items(ctx: Context, order_id: int) -> list[dict[str, Any]]:
    lines = []
    for service in status_changes.order_services(ctx.uow, order_id):
        product = ctx.session.get(Product, service.packageid)
        group = ctx.session.get(ProductGroup, product.gid) if product else None
        lines.append(
            {
                "type": "product",
                "relid": service.id,
                "producttype": PRODUCT_TYPE_NAMES.get(
                    product.type if product else "other", "Other Product/Service"
                ),
                "product": f"{group.name if group else ''} - {product.name if product else ''}".strip(" -"),
                "domain": service.domain,
                "billingcycle": "One-Time" if service.billingcycle == "One Time" else service.billingcycle,
                "amount": fmt(service.firstpaymentamount),
                "status": service.status,
            }
        )
    for addon in status_changes.order_addons(ctx.uow, order_id):
        lines.append(
            {
                "type": "addon",
                "relid": addon.id,
                "producttype": "Addon",
                "product": addon.name,
                "domain": "",
                "billingcycle": addon.billingcycle,
                "amount": fmt(addon.setupfee + addon.recurring),
                "status": addon.status,
            }
        )
    return lines


def get_orders(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = queries.list_orders(
        ctx.uow,
        order_id=params.int("id"),
        client_id=params.int("userid"),
        requestor_id=params.int("requestor_id"),
        status=params.str("status"),
        offset=start,
        limit=limit,
    )
    clients = {
        c.id: c for c in ctx.session.scalars(select(Client).where(Client.id.in_([o.userid for o in rows])))
    }
    items = []
    for order in rows:
        client = clients.get(order.userid)
        currency = client.currency if client else None
        items.append(
            {
                "id": order.id,
                "ordernum": order.ordernum,
                "userid": order.userid,
                "contactid": order.contactid,
                "requestor_id": order.requestor_id,
                "admin_requestor_id": order.admin_requestor_id,
                "date": whmcs_datetime(order.date),
                "nameservers": order.nameservers,
                "transfersecret": order.transfersecret,
                "renewals": order.renewals,
                "renewalsByType": {
                    "domains": [],
                    "services": [
                        int(r.split(":")[1]) for r in order.renewals.split(",") if r.startswith("service:")
                    ],
                    "addons": [],
                },
                "promocode": order.promocode,
                "promotype": order.promotype,
                "promovalue": order.promovalue,
                "orderdata": json.dumps(order.orderdata or {}),
                "amount": fmt(order.amount),
                "paymentmethod": order.paymentmethod,
                "invoiceid": order.invoiceid,
                "status": order.status,
                "ipaddress": order.ipaddress,
                "fraudmodule": order.fraudmodule,
                "fraudoutput": order.fraudoutput,
                "notes": order.notes,
                "paymentmethodname": queries.payment_method_name(ctx.uow, order.paymentmethod),
                "paymentstatus": queries.payment_status(ctx.uow, order),
                "name": client.fullname if client else "",
                "currencyprefix": currency.prefix if currency else "",
                "currencysuffix": currency.suffix if currency else "",
                "frauddata": order.frauddata,
                "validationdata": "",
                "lineitems": {"lineitem": _line_items(ctx, order.id)},
            }
        )
    return page(total, start, "orders", "order", items)


def get_order_statuses(ctx: Context, params: Params) -> dict[str, Any]:
    statuses = [{"title": title, "count": count} for title, count in queries.status_counts(ctx.uow)]
    return {"totalresults": len(statuses), "statuses": {"status": statuses}}


def order_fraud_check(ctx: Context, params: Params) -> dict[str, Any]:
    module, result = fraud.fraud_check(ctx.uow, params.int("orderid"), params.str("ipaddress"))
    return {"status": result.status, "module": module, "results": "; ".join(result.reasons)}


ACTIONS = [
    Action("AddOrder", add_order),
    Action("AcceptOrder", accept_order),
    Action("PendingOrder", pending_order),
    Action("CancelOrder", cancel_order),
    Action("FraudOrder", fraud_order),
    Action("DeleteOrder", delete_order),
    Action("GetOrders", get_orders),
    Action("GetOrderStatuses", get_order_statuses),
    Action("OrderFraudCheck", order_fraud_check),
]
