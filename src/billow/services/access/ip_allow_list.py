"""The API's IP allow-list: networks allowed for every credential or for one."""

from __future__ import annotations

import ipaddress

from sqlalchemy import delete, select

from billow.db.models import (
    AllowedIP,
    ApiCredential,
)
from billow.errors import ValidationError
from billow.uow import UnitOfWork


def normalise_network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ValidationError(f"Not an IP address or CIDR range: {text}", code="invalid_network") from None


def add_allowed_ip(
    uow: UnitOfWork, network: str, *, note: str = "", credential: ApiCredential | None = None
) -> AllowedIP:
    normalised = normalise_network(network)
    cred_id = credential.id if credential else None
    same_owner = (
        AllowedIP.credential_id.is_(None) if cred_id is None else AllowedIP.credential_id == cred_id
    )
    existing = uow.session.scalar(
        select(AllowedIP).where(AllowedIP.network == normalised, same_owner)
    )
    if existing:
        existing.note = note or existing.note
        return existing
    entry = AllowedIP(network=normalised, note=note, credential_id=cred_id)
    uow.session.add(entry)
    uow.session.flush()
    return entry


def remove_allowed_ip(uow: UnitOfWork, network: str) -> int:
    normalised = normalise_network(network)
    result = uow.session.execute(delete(AllowedIP).where(AllowedIP.network == normalised))
    return result.rowcount or 0


def list_allowed_ips(uow: UnitOfWork) -> list[AllowedIP]:
    return list(uow.session.scalars(select(AllowedIP).order_by(AllowedIP.id)))


def ip_in(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for network in networks:
        net = ipaddress.ip_network(network, strict=False)
        if address.version == net.version and address in net:
            return True
    return False
