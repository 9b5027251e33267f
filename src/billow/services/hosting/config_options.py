"""A service's chosen configurable options: read, written and turned into request values.

One place builds "the options this service has now", for the module's ``configoptions``,
for ``UpdateClientProduct`` (merging changed options into the current ones) and for
upgrade quotes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from billow.db.models import Service, ServiceConfigOption
from billow.services.catalog import config_options as catalog_options
from billow.uow import UnitOfWork


def service_options(
    uow: UnitOfWork, service: Service, product_id: int | None = None
) -> list[catalog_options.ChosenOption]:
    """The options *service* has chosen among its product's (or *product_id*'s) options."""
    rows = {
        r.option_id: r
        for r in uow.session.scalars(
            select(ServiceConfigOption).where(ServiceConfigOption.service_id == service.id)
        )
    }
    chosen = []
    for option, choices in catalog_options.product_options(uow, product_id or service.packageid):
        row = rows.get(option.id)
        if row is None:
            continue
        choice = next((c for c in choices if c.id == row.choice_id), None)
        chosen.append(catalog_options.ChosenOption(option, choice, row.qty))
    return chosen


def save_options(uow: UnitOfWork, service: Service, chosen: list[catalog_options.ChosenOption]) -> None:
    """Replace *service*'s chosen options with *chosen*."""
    uow.session.execute(delete(ServiceConfigOption).where(ServiceConfigOption.service_id == service.id))
    add_options(uow, service, chosen)
    uow.session.flush()


def add_options(uow: UnitOfWork, service: Service, chosen: list[catalog_options.ChosenOption]) -> None:
    """Record *chosen* for a service that has none yet (a new order's service)."""
    for option in chosen:
        uow.session.add(
            ServiceConfigOption(
                service_id=service.id,
                option_id=option.option.id,
                choice_id=option.choice.id if option.choice else 0,
                qty=option.qty,
            )
        )


def option_values(chosen: list[catalog_options.ChosenOption]) -> dict[str, Any]:
    """``{option id: value}`` as a request gives them: a quantity, else the choice id."""
    return {
        str(o.option.id): (o.qty if o.option.optiontype in (3, 4) else (o.choice.id if o.choice else ""))
        for o in chosen
    }


def module_values(chosen: list[catalog_options.ChosenOption]) -> dict[str, Any]:
    """``{option name: value}`` as a provisioning module's ``configoptions`` gives them."""
    return {o.option.name: o.value for o in chosen}
