"""Service and addon actions: reading and editing clients' services, module commands,
upgrades and cancellation requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.api.actions._shared import onoff, page, paging, whmcs_date, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.db.models import Client, Order, Product, ProductGroup, Server
from billow.errors import ValidationError
from billow.money import fmt
from billow.services.catalog.cycles import cycle
from billow.services.clients.custom_fields import custom_field_values
from billow.services.clients.lifecycle import format_money
from billow.services.hosting import (
    addons,
    cancellations,
    config_options,
    module_params,
    provisioning,
    upgrades,
)
from billow.services.hosting import services as hosting_services
from billow.services.orders import placing
from billow.services.orders import queries as order_queries

OPTION_TYPE_NAMES = {1: "dropdown", 2: "radio", 3: "yesno", 4: "quantity"}


def _service_id(params: Params) -> int:
    """``serviceid`` (or the pre-7.7 ``accountid``), required by every Module* action."""
    service_id = params.int("serviceid") or params.int("accountid")
    if not service_id:
        raise ValidationError("Service ID is required")
    return service_id


def get_clients_products(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = hosting_services.list_services(
        ctx.uow,
        client_id=params.int("clientid"),
        service_id=params.int("serviceid"),
        pid=params.int("pid"),
        domain=params.str("domain"),
        username=params.str("username2"),
        offset=start,
        limit=limit,
    )
    products = {
        p.id: p
        for p in ctx.session.scalars(select(Product).where(Product.id.in_({s.packageid for s in rows})))
    }
    groups = {g.id: g for g in ctx.session.scalars(select(ProductGroup))}
    servers = {
        s.id: s for s in ctx.session.scalars(select(Server).where(Server.id.in_({s.server_id for s in rows})))
    }
    ordernums = dict(
        ctx.session.execute(
            select(Order.id, Order.ordernum).where(Order.id.in_({s.orderid for s in rows}))
        ).all()
    )
    items = []
    for service in rows:
        product = products.get(service.packageid)
        group = groups.get(product.gid) if product else None
        server = servers.get(service.server_id)
        fields = custom_field_values(ctx.uow, "product", service.id, service.packageid)
        options = config_options.service_options(ctx.uow, service)
        items.append(
            {
                "id": str(service.id),
                "qty": str(service.qty),
                "clientid": str(service.userid),
                "orderid": str(service.orderid),
                "ordernumber": str(ordernums.get(service.orderid, "")),
                "pid": str(service.packageid),
                "regdate": whmcs_date(service.regdate),
                "name": product.name if product else "",
                "translated_name": product.name if product else "",
                "groupname": group.name if group else "",
                "translated_groupname": group.name if group else "",
                "domain": service.domain,
                "dedicatedip": service.dedicatedip,
                "serverid": str(service.server_id),
                "servername": server.name if server else "",
                "serverip": server.ipaddress if server else "",
                "serverhostname": server.hostname if server else "",
                "suspensionreason": service.suspendreason,
                "firstpaymentamount": fmt(service.firstpaymentamount),
                "recurringamount": fmt(service.amount),
                "paymentmethod": service.paymentmethod,
                "paymentmethodname": order_queries.payment_method_name(ctx.uow, service.paymentmethod),
                "billingcycle": service.billingcycle,
                "nextduedate": whmcs_date(service.nextduedate),
                "status": service.status,
                "username": service.username,
                "password": module_params.service_password(service),
                "subscriptionid": service.subscriptionid,
                "promoid": str(service.promoid),
                "overideautosuspend": onoff(service.overideautosuspend),
                "overidesuspenduntil": whmcs_date(service.overidesuspenduntil),
                "ns1": service.ns1,
                "ns2": service.ns2,
                "assignedips": service.assignedips,
                "notes": service.notes,
                "diskusage": str(service.diskusage),
                "disklimit": str(service.disklimit),
                "bwusage": str(service.bwusage),
                "bwlimit": str(service.bwlimit),
                "lastupdate": whmcs_datetime(service.lastupdate),
                "customfields": {
                    "customfield": [
                        {"id": str(d.id), "name": d.fieldname, "translated_name": d.fieldname, "value": v}
                        for d, v in fields
                    ]
                },
                "configoptions": {
                    "configoption": [
                        {
                            "id": str(o.option.id),
                            "option": o.option.name,
                            "type": OPTION_TYPE_NAMES.get(o.option.optiontype, "dropdown"),
                            "value": o.display,
                        }
                        for o in options
                    ]
                },
            }
        )
    result = page(total, start, "products", "product", items)
    result.update(
        {
            "clientid": str(params.int("clientid")) if params.has("clientid") else None,
            "serviceid": str(params.int("serviceid")) if params.has("serviceid") else None,
            "pid": str(params.int("pid")) if params.has("pid") else None,
            "domain": params.str("domain") if params.has("domain") else None,
        }
    )
    result["totalresults"] = str(total)
    return result


def update_client_product(ctx: Context, params: Params) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("pid", "serverid", "diskusage", "disklimit", "bwusage", "bwlimit", "promoid"):
        if params.has(key):
            values[key] = params.int(key)
    for key in ("regdate", "nextduedate", "terminationdate", "overidesuspenduntil"):
        if params.has(key):
            values[key] = params.date(key, error=f"Invalid {key} date")
    for key in ("firstpaymentamount", "recurringamount"):
        if params.has(key):
            values[key] = params.decimal(key)
    for key in (
        "domain",
        "paymentmethod",
        "billingcycle",
        "subscriptionid",
        "status",
        "notes",
        "serviceusername",
        "servicepassword",
        "ns1",
        "ns2",
        "dedicatedip",
        "assignedips",
        "suspendreason",
    ):
        if params.has(key):
            values[key] = params.str(key)
    if "domain" in values:
        values["domain"] = values["domain"].lower()
    if params.has("overideautosuspend"):
        values["overideautosuspend"] = params.bool("overideautosuspend")
    if params.has("paymentmethod"):
        placing.check_payment_method(ctx.uow, values["paymentmethod"])
    changes = hosting_services.ServiceChanges(
        values=values,
        unset=[str(u) for u in params.list("unset")],
        customfields={str(k): str(v) for k, v in params.php_array("customfields").items()},
        configoptions=params.php_array("configoptions"),
        autorecalc=params.bool("autorecalc"),
    )
    service = hosting_services.update_service(ctx.uow, params.int("serviceid"), changes)
    return {"serviceid": str(service.id)}


def get_clients_addons(ctx: Context, params: Params) -> dict[str, Any]:
    rows = addons.list_addons(
        ctx.uow,
        client_id=params.int("clientid"),
        service_id=params.int("serviceid"),
        addon_id=params.int("addonid"),
    )
    items = [
        {
            "id": str(a.id),
            "qty": str(a.qty),
            "userid": str(a.userid),
            "orderid": str(a.orderid),
            "serviceid": str(a.service_id),
            "addonid": str(a.addonid),
            "name": a.name,
            "setupfee": fmt(a.setupfee),
            "recurring": fmt(a.recurring),
            "billingcycle": a.billingcycle,
            "tax": onoff(a.tax),
            "status": a.status,
            "regdate": whmcs_date(a.regdate),
            "nextduedate": whmcs_date(a.nextduedate),
            "nextinvoicedate": whmcs_date(a.nextinvoicedate),
            "paymentmethod": a.paymentmethod,
            "paymentmethodname": order_queries.payment_method_name(ctx.uow, a.paymentmethod),
            "notes": a.notes,
        }
        for a in rows
    ]
    return {
        "serviceid": params.str("serviceid"),
        "clientid": params.str("clientid"),
        "totalresults": str(len(items)),
        "addons": {"addon": items},
    }


def update_client_addon(ctx: Context, params: Params) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("status", "name", "billingcycle", "notes"):
        if params.has(key):
            values[key] = params.str(key)
    if params.has("addonid"):
        values["addonid"] = params.int("addonid")
    for key in ("setupfee", "recurring"):
        if params.has(key):
            values[key] = params.decimal(key)
    for key in ("nextduedate", "terminationdate"):
        if params.has(key):
            values[key] = params.date(key, error=f"Invalid {key} date")
    row = addons.update_addon(ctx.uow, params.int("id"), values, autorecalc=params.bool("autorecalc"))
    return {"id": str(row.id)}


def _module_action(key: str):  # type: ignore[no-untyped-def]
    def handler(ctx: Context, params: Params) -> dict[str, Any]:
        service = provisioning.get_service(ctx.uow, _service_id(params))
        if key == "changepw":
            result = provisioning.change_password(ctx.uow, service.id, params.str("servicepassword"))
        elif key == "custom":
            result = provisioning.custom(ctx.uow, service.id, params.str("func_name"))
        else:
            result = provisioning.run(ctx.uow, service, key, reason=params.str("suspendreason"))
        provisioning.require_success(result)
        return {}

    return handler


def upgrade_product(ctx: Context, params: Params) -> dict[str, Any]:
    service_id = params.int("serviceid")
    type_ = params.str("type").lower()
    if type_ not in ("product", "configoptions"):
        provisioning.get_service(ctx.uow, service_id, "Service ID Not Found")
        raise ValidationError("Invalid Upgrade Type")
    new_cycle = params.str("newproductbillingcycle")
    quote = upgrades.calculate_upgrade(
        ctx.uow,
        service_id,
        type_,
        new_pid=params.int("newproductid"),
        new_cycle=new_cycle,
        configoptions=params.dict("configoptions"),
    )
    client = ctx.session.get(Client, quote.service.userid)
    result: dict[str, Any] = {
        "oldproductid": str(quote.old_product.id),
        "oldproductname": quote.old_product.name,
        "newproductid": quote.new_product.id,
        "newproductname": quote.new_product.name,
        "daysuntilrenewal": quote.days_remaining,
        "totaldays": quote.total_days,
        "newproductbillingcycle": cycle(quote.new_cycle).system,
        "price": format_money(quote.amount, client.currency if client else None),
    }
    if params.bool("calconly"):
        return result
    upgrade, order, invoice_id = upgrades.upgrade_service(ctx.uow, quote, params.str("paymentmethod"))
    result.update(
        {
            "id": str(upgrade.id),
            "orderid": order.id,
            "order_number": str(order.ordernum),
            "invoiceid": invoice_id or None,
        }
    )
    return result


def add_cancel_request(ctx: Context, params: Params) -> dict[str, Any]:
    request = cancellations.add_cancel_request(
        ctx.uow, params.int("serviceid"), params.str("reason"), params.str("type") or "End of Billing Period"
    )
    service = provisioning.get_service(ctx.uow, request.service_id)
    return {"serviceid": str(service.id), "userid": str(service.userid)}


def get_cancelled_packages(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = cancellations.list_cancel_requests(ctx.uow, start, limit)
    items = [
        {
            "id": str(r.id),
            "date": whmcs_datetime(r.date),
            "relid": str(r.service_id),
            "reason": r.reason,
            "type": r.type,
            "created_at": whmcs_datetime(r.created_at),
            "updated_at": whmcs_datetime(r.updated_at),
        }
        for r in rows
    ]
    result = page(total, start, "packages", "package", items)
    result.update({"totalresults": str(total), "startnumber": str(start), "numreturned": str(len(items))})
    return result


ACTIONS = [
    Action("GetClientsProducts", get_clients_products),
    Action("UpdateClientProduct", update_client_product),
    Action("GetClientsAddons", get_clients_addons),
    Action("UpdateClientAddon", update_client_addon),
    Action("ModuleCreate", _module_action("create")),
    Action("ModuleSuspend", _module_action("suspend")),
    Action("ModuleUnsuspend", _module_action("unsuspend")),
    Action("ModuleTerminate", _module_action("terminate")),
    Action("ModuleChangePackage", _module_action("changepackage")),
    Action("ModuleChangePw", _module_action("changepw")),
    Action("ModuleCustom", _module_action("custom")),
    Action("UpgradeProduct", upgrade_product),
    Action("AddCancelRequest", add_cancel_request),
    Action("GetCancelledPackages", get_cancelled_packages),
]
