"""What an order asks for (``AddOrder``'s products, addons, domains, renewals) and what
placing it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billow.db.models import Order


@dataclass
class OrderItem:
    """One product line of ``AddOrder`` (the i-th entry of its parallel arrays)."""

    pid: int
    billingcycle: str = ""
    domain: str = ""
    qty: int = 1
    configoptions: dict[str, Any] = field(default_factory=dict)
    customfields: dict[str, str] = field(default_factory=dict)
    priceoverride: Decimal | None = None
    #: (addon id, quantity)
    addons: list[tuple[int, int]] = field(default_factory=list)
    hostname: str = ""
    ns1prefix: str = ""
    ns2prefix: str = ""
    rootpw: str = ""


@dataclass
class AddonOrder:
    """An addon-only line: *addon_id* on the client's existing *service_id*."""

    addon_id: int
    service_id: int
    qty: int = 1


@dataclass
class OrderRequest:
    client_id: int
    paymentmethod: str
    items: list[OrderItem] = field(default_factory=list)
    addon_items: list[AddonOrder] = field(default_factory=list)
    service_renewals: list[int] = field(default_factory=list)
    promocode: str = ""
    promooverride: bool = False
    affid: int = 0
    contactid: int = 0
    clientip: str = ""
    noinvoice: bool = False
    noinvoiceemail: bool = False
    noemail: bool = False
    nameservers: list[str] = field(default_factory=list)


@dataclass
class PlacedOrder:
    order: Order
    service_ids: list[int]
    addon_ids: list[int]
    domain_ids: list[int]
    invoice_id: int
