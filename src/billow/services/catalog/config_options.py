"""Configurable options of products: option groups, options and their choices, and
resolving the choices an order gives into :class:`ChosenOption` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from billow.db.models import (
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionGroup,
    ProductConfigLink,
)
from billow.errors import ValidationError
from billow.services.catalog.price_rows import set_price
from billow.services.catalog.products import get_product
from billow.uow import UnitOfWork

#: WHMCS's numbering of configurable option types.
OPTION_TYPES = {1: "dropdown", 2: "radio", 3: "yesno", 4: "quantity"}


def add_config_group(
    uow: UnitOfWork, name: str, product_ids: list[int], description: str = ""
) -> ConfigOptionGroup:
    group = ConfigOptionGroup(name=name, description=description)
    uow.session.add(group)
    uow.session.flush()
    for pid in product_ids:
        get_product(uow, pid)
        uow.session.add(ProductConfigLink(group_id=group.id, product_id=pid))
    uow.session.flush()
    return group


def add_config_option(
    uow: UnitOfWork,
    group_id: int,
    name: str,
    optiontype: int,
    choices: list[tuple[str, dict[int, dict[str, Any]]]],
    *,
    qtyminimum: int = 0,
    qtymaximum: int = 0,
    order: int = 0,
) -> ConfigOption:
    """Add an option with its choices; each choice is (name, {currency_id: prices})."""
    if optiontype not in OPTION_TYPES:
        raise ValidationError("Invalid option type", code="invalid_option_type")
    option = ConfigOption(
        group_id=group_id,
        name=name,
        optiontype=optiontype,
        qtyminimum=qtyminimum,
        qtymaximum=qtymaximum,
        order=order,
    )
    uow.session.add(option)
    uow.session.flush()
    for index, (choice_name, pricing) in enumerate(choices):
        choice = ConfigOptionChoice(option_id=option.id, name=choice_name, sortorder=index)
        uow.session.add(choice)
        uow.session.flush()
        for currency_id, values in pricing.items():
            set_price(uow, "configoptions", choice.id, currency_id, values)
    return option


def product_options(uow: UnitOfWork, pid: int) -> list[tuple[ConfigOption, list[ConfigOptionChoice]]]:
    """The configurable options linked to product *pid*, with their choices, in order."""
    options = list(
        uow.session.scalars(
            select(ConfigOption)
            .join(ProductConfigLink, ProductConfigLink.group_id == ConfigOption.group_id)
            .where(ProductConfigLink.product_id == pid)
            .order_by(ConfigOption.order, ConfigOption.id)
        )
    )
    if not options:
        return []
    choices = list(
        uow.session.scalars(
            select(ConfigOptionChoice)
            .where(ConfigOptionChoice.option_id.in_([o.id for o in options]))
            .order_by(ConfigOptionChoice.sortorder, ConfigOptionChoice.id)
        )
    )
    by_option: dict[int, list[ConfigOptionChoice]] = {}
    for choice in choices:
        by_option.setdefault(choice.option_id, []).append(choice)
    return [(o, by_option.get(o.id, [])) for o in options]


@dataclass(frozen=True)
class ChosenOption:
    option: ConfigOption
    choice: ConfigOptionChoice | None
    qty: int

    @property
    def value(self) -> str:
        """The value modules see: the choice's name before ``|``, or the quantity."""
        if self.option.optiontype == 4:
            return str(self.qty)
        if self.option.optiontype == 3:
            return "1" if self.qty else "0"
        return self.choice.name.split("|", 1)[0] if self.choice else ""

    @property
    def display(self) -> str:
        if self.option.optiontype in (3, 4):
            return self.value
        return self.choice.name.split("|", 1)[-1] if self.choice else ""


def resolve_options(uow: UnitOfWork, pid: int, given: Mapping[str, Any]) -> list[ChosenOption]:
    """Turn ``{optionid: choiceid | qty | {"optionid":..,"qty":..}}`` into chosen options.

    Options not given take their first choice (dropdown/radio) or zero/the minimum
    (yes-no/quantity), as WHMCS fills an order form's defaults.
    """
    chosen = []
    for option, choices in product_options(uow, pid):
        raw = given.get(str(option.id), given.get(option.id)) if given else None  # type: ignore[call-overload]
        if isinstance(raw, Mapping):
            raw = raw.get("optionid") or raw.get("qty") or raw.get("value")
        if option.optiontype in (3, 4):
            try:
                qty = int(str(raw or 0).strip() or 0)
            except ValueError:
                raise ValidationError(
                    f"Invalid value for configurable option {option.name}", code="invalid_config_option"
                ) from None
            if option.optiontype == 3:
                qty = 1 if qty else 0
            else:
                if option.qtymaximum and qty > option.qtymaximum:
                    raise ValidationError(
                        f"{option.name} must be at most {option.qtymaximum}",
                        code="config_option_quantity_too_high",
                    )
                qty = max(qty, option.qtyminimum)
            chosen.append(ChosenOption(option, choices[0] if choices else None, qty))
            continue
        if raw in (None, ""):
            chosen.append(ChosenOption(option, choices[0] if choices else None, 1))
            continue
        match = next((c for c in choices if str(c.id) == str(raw).strip()), None)
        if match is None:
            raise ValidationError(f"Invalid option selected for {option.name}", code="invalid_config_option")
        chosen.append(ChosenOption(option, match, 1))
    return chosen
