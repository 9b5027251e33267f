"""Reading and editing clients' services (``GetClientsProducts``, ``UpdateClientProduct``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from billow.db.models import Client, Service
from billow.db.queries import count_of
from billow.errors import NotFound, ValidationError
from billow.services.activity import log_activity
from billow.services.catalog import config_options as catalog_options
from billow.services.catalog import pricing
from billow.services.catalog import products as catalog_products
from billow.services.catalog.cycles import cycle
from billow.services.clients.custom_fields import check_custom_fields, save_custom_fields
from billow.services.hosting import provisioning
from billow.services.hosting.config_options import option_values, save_options, service_options
from billow.services.hosting.module_params import set_service_password
from billow.services.hosting.servers import get_server
from billow.uow import UnitOfWork

SERVICE_STATUSES = ("Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed")




def apply_columns(row: Any, values: dict[str, Any], columns: dict[str, str]) -> None:
    """Copy the given *values* onto *row*'s mapped columns.

    An admin who moves the next due date moves the next invoice date with it (WHMCS's
    rule for services and addons alike), so both edits share this one place.
    """
    for key, column in columns.items():
        if key in values:
            setattr(row, column, values[key])
    if "nextduedate" in values:
        row.nextinvoicedate = values["nextduedate"]


def list_services(
    uow: UnitOfWork,
    *,
    client_id: int = 0,
    service_id: int = 0,
    pid: int = 0,
    domain: str = "",
    username: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[int, list[Service]]:
    query = select(Service)
    if client_id:
        query = query.where(Service.userid == client_id)
    if service_id:
        query = query.where(Service.id == service_id)
    if pid:
        query = query.where(Service.packageid == pid)
    if domain:
        query = query.where(Service.domain == domain.lower())
    if username:
        query = query.where(Service.username == username)
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(Service.id).offset(offset).limit(limit))
    return total, list(rows)


def service_client(uow: UnitOfWork, client_id: int) -> Client:
    client = uow.session.get(Client, client_id)
    if client is None:
        raise NotFound("Client ID Not Found", code="client_not_found")
    return client


@dataclass
class ServiceChanges:
    values: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    customfields: dict[str, str] = field(default_factory=dict)
    configoptions: dict[str, Any] = field(default_factory=dict)
    autorecalc: bool = False


UNSETTABLE = {
    "domain": "domain",
    "serviceusername": "username",
    "servicepassword": "password_enc",
    "subscriptionid": "subscriptionid",
    "ns1": "ns1",
    "ns2": "ns2",
    "dedicatedip": "dedicatedip",
    "assignedips": "assignedips",
    "notes": "notes",
    "suspendreason": "suspendreason",
}


def update_service(uow: UnitOfWork, service_id: int, changes: ServiceChanges) -> Service:
    """Change a service's stored fields only (``UpdateClientProduct``): no module call."""
    service = provisioning.get_service(uow, service_id, "Service ID Not Found")
    uow.emit("PreServiceEdit", {"serviceid": service.id}, resource_type="service", resource_id=service.id)
    v = changes.values
    if "pid" in v:
        catalog_products.get_product(uow, int(v["pid"]))
        service.packageid = int(v["pid"])
    if "serverid" in v:
        if int(v["serverid"]):
            get_server(uow, int(v["serverid"]))
        service.server_id = int(v["serverid"])
    if "billingcycle" in v:
        service.billingcycle = cycle(str(v["billingcycle"])).display
    if "status" in v:
        if v["status"] not in SERVICE_STATUSES:
            raise ValidationError("Invalid Service Status", code="invalid_service_status")
        service.status = v["status"]
    if "servicepassword" in v:
        set_service_password(service, str(v["servicepassword"]))
    simple = {
        "regdate": "regdate",
        "nextduedate": "nextduedate",
        "terminationdate": "termination_date",
        "domain": "domain",
        "firstpaymentamount": "firstpaymentamount",
        "recurringamount": "amount",
        "paymentmethod": "paymentmethod",
        "subscriptionid": "subscriptionid",
        "notes": "notes",
        "serviceusername": "username",
        "overideautosuspend": "overideautosuspend",
        "overidesuspenduntil": "overidesuspenduntil",
        "ns1": "ns1",
        "ns2": "ns2",
        "dedicatedip": "dedicatedip",
        "assignedips": "assignedips",
        "diskusage": "diskusage",
        "disklimit": "disklimit",
        "bwusage": "bwusage",
        "bwlimit": "bwlimit",
        "suspendreason": "suspendreason",
        "promoid": "promoid",
    }
    apply_columns(service, v, simple)
    for key in changes.unset:
        column = UNSETTABLE.get(key)
        if column is None:
            raise ValidationError(f"Invalid unset field {key}", code="invalid_unset_field")
        setattr(service, column, "")
    if changes.customfields:
        check_custom_fields(
            uow, changes.customfields, required=False, kind="product", relid=service.packageid
        )
        save_custom_fields(uow, "product", service.id, changes.customfields)
    if changes.configoptions:
        current = option_values(service_options(uow, service))
        current.update({str(k): val for k, val in changes.configoptions.items()})
        save_options(uow, service, catalog_options.resolve_options(uow, service.packageid, current))
    if changes.autorecalc:
        product = catalog_products.get_product(uow, service.packageid)
        client = service_client(uow, service.userid)
        service.amount = pricing.service_recurring(
            uow, service, service_options(uow, service), product, client.currency_id, service.billingcycle
        )
    uow.emit(
        "ServiceEdit",
        {"userid": service.userid, "serviceid": service.id},
        resource_type="service",
        resource_id=service.id,
    )
    log_activity(uow, f"Modified Product/Service - Service ID: {service.id}", client_id=service.userid)
    return service
