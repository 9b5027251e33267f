"""A small book of business for the automation tests: products, clients, services, addons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    Client,
    ClientGroup,
    Currency,
    Product,
    ProductGroup,
    Service,
    ServiceAddon,
)
from billow.services.clients.accounts import ClientInput, add_client
from billow.uow import UnitOfWork

_seq = {"n": 0}


def currency(uow: UnitOfWork) -> Currency:
    found = uow.session.scalar(select(Currency).where(Currency.is_default.is_(True)))
    if found is None:
        found = Currency(code="USD", prefix="$", is_default=True, decimals=2)
        uow.session.add(found)
        uow.session.flush()
    return found


def product(uow: UnitOfWork, name: str, *, paytype: str = "recurring", module: str = "none",
            **extra: Any) -> Product:
    group = uow.session.scalar(select(ProductGroup)) or ProductGroup(name="Hosting")
    uow.session.add(group)
    uow.session.flush()
    made = Product(gid=group.id, type="hostingaccount", name=name, paytype=paytype, servertype=module,
                   extra=dict(extra))
    uow.session.add(made)
    uow.session.flush()
    return made


def client(uow: UnitOfWork, label: str = "", *, group: ClientGroup | None = None, **values: Any) -> Client:
    currency(uow)
    _seq["n"] += 1
    data = {"firstname": label or "Client", "lastname": f"N{_seq['n']}",
            "email": f"{label or 'client'}{_seq['n']}@example.com", "country": "US"}
    made = add_client(uow, ClientInput(values=data), skip_validation=True)
    if group is not None:
        made.group_id = group.id
    for key, value in values.items():
        setattr(made, key, value)
    uow.session.flush()
    return made


def exempt_group(uow: UnitOfWork) -> ClientGroup:
    group = ClientGroup(groupname="VIP", susptermexempt=True)
    uow.session.add(group)
    uow.session.flush()
    return group


def service(uow: UnitOfWork, owner: Client, prod: Product, *, cycle: str = "Monthly",
            amount: str = "10.00", due: date | None, status: str = "Active", regdate: date | None = None,
            domain: str = "") -> Service:
    made = Service(userid=owner.id, packageid=prod.id, billingcycle=cycle, amount=Decimal(amount),
                   firstpaymentamount=Decimal(amount), nextduedate=due, nextinvoicedate=due, status=status,
                   regdate=regdate or (due.replace(year=due.year - 1) if due else date(2026, 1, 1)),
                   domain=domain or f"site{owner.id}-{prod.id}.example")
    uow.session.add(made)
    uow.session.flush()
    return made


def addon(uow: UnitOfWork, svc: Service, *, cycle: str = "Monthly", amount: str = "2.00",
          due: date) -> ServiceAddon:
    made = ServiceAddon(service_id=svc.id, userid=svc.userid, name="Backups", recurring=Decimal(amount),
                        billingcycle=cycle, status="Active", nextduedate=due, nextinvoicedate=due,
                        regdate=due.replace(year=due.year - 1))
    uow.session.add(made)
    uow.session.flush()
    return made
