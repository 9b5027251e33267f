"""What a module is given for a service: WHMCS's ``$params`` (:func:`build_params`) and the
service's panel credentials (stored encrypted; generated username and password).
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from sqlalchemy import select

from billow.db.models import Client, Product, ProductGroup, Server, Service
from billow.errors import NotFound
from billow.modules.servers.base import ModuleParams
from billow.security import decrypt, encrypt
from billow.services.clients.custom_fields import custom_field_values
from billow.services.hosting.config_options import module_values, service_options
from billow.services.hosting.servers import server_params
from billow.uow import UnitOfWork


def service_password(service: Service) -> str:
    return decrypt(service.password_enc) if service.password_enc else ""


def set_service_password(service: Service, password: str) -> None:
    service.password_enc = encrypt(password) if password else ""


def generate_password(length: int = 14) -> str:
    """A password that satisfies common panel rules: upper, lower, digit and symbol."""
    alphabet = string.ascii_letters + string.digits + "!@#%^*-_"
    while True:
        text = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in text)
            and any(c.isupper() for c in text)
            and any(c.isdigit() for c in text)
            and any(c in "!@#%^*-_" for c in text)
        ):
            return text


def generate_username(uow: UnitOfWork, service: Service) -> str:
    """WHMCS's rule: up to 8 lower-case letters/digits from the domain, starting with a
    letter, never starting with ``test``; made unique among services with a digit suffix."""
    base = re.sub(r"[^a-z0-9]", "", service.domain.lower().split(".")[0]) or "user"
    base = base.lstrip("0123456789") or "user"
    if base.startswith("test"):
        base = "u" + base
    base = base[:8]
    taken = set(
        uow.session.scalars(
            select(Service.username).where(Service.username.like(f"{base[:6]}%"), Service.id != service.id)
        )
    )
    if base not in taken:
        return base
    for n in range(1, 1000):
        candidate = f"{base[: 8 - len(str(n))]}{n}"
        if candidate not in taken:
            return candidate
    return base[:4] + secrets.token_hex(2)


def build_params(uow: UnitOfWork, service: Service, product: Product | None = None) -> ModuleParams:
    """WHMCS's ``$params`` for *service* (see the provisioning module contract)."""
    product = product or uow.session.get(Product, service.packageid)
    if product is None:
        raise NotFound("Product ID not found", code="product_not_found")
    client = uow.session.get(Client, service.userid)
    server = uow.session.get(Server, service.server_id) if service.server_id else None
    params: dict[str, Any] = {
        "accountid": service.id,
        "serviceid": service.id,
        "userid": service.userid,
        "pid": product.id,
        "producttype": product.type,
        "moduletype": product.servertype,
        "packageid": product.id,
        "domain": service.domain,
        "username": service.username,
        "password": service_password(service),
        "status": service.status,
        "dedicatedip": service.dedicatedip,
        "assignedips": service.assignedips,
        "billingcycle": service.billingcycle,
        "qty": service.qty,
        "suspendreason": service.suspendreason,
        "moduledata": dict(service.module_data or {}),
    }
    for index in range(1, 25):
        params[f"configoption{index}"] = (product.module_settings or {}).get(f"configoption{index}", "")
    params["configoptions"] = module_values(service_options(uow, service, product.id))
    params["customfields"] = {
        d.fieldname: v for d, v in custom_field_values(uow, "product", service.id, product.id)
    }
    params["clientsdetails"] = _client_details(client)
    params.update(server_params(server))
    return ModuleParams(params)


def _client_details(client: Client | None) -> dict[str, Any]:
    if client is None:
        return {}
    return {
        "userid": client.id,
        "id": client.id,
        "firstname": client.firstname,
        "lastname": client.lastname,
        "fullname": client.fullname,
        "companyname": client.companyname,
        "email": client.email,
        "address1": client.address1,
        "address2": client.address2,
        "city": client.city,
        "state": client.state,
        "postcode": client.postcode,
        "country": client.country,
        "countrycode": client.country,
        "phonenumber": client.phonenumber,
        "language": client.language,
        "currency": client.currency_id,
    }


def service_group_name(uow: UnitOfWork, product: Product) -> str:
    group = uow.session.get(ProductGroup, product.gid)
    return group.name if group else ""
