"""Product addons of the catalog: adding and finding them."""

from __future__ import annotations

from typing import Any

from billow.db.models import (
    Addon,
)
from billow.errors import NotFound, ValidationError
from billow.modules.servers import available as server_modules
from billow.services.catalog.price_rows import set_price
from billow.services.catalog.products import PAY_TYPES
from billow.uow import UnitOfWork


def add_addon(
    uow: UnitOfWork,
    name: str,
    *,
    billingcycle: str = "recurring",
    packages: list[int] | None = None,
    pricing: dict[int, dict[str, Any]] | None = None,
    tax: bool = False,
    description: str = "",
    autoactivate: str = "",
    module: str = "",
    module_settings: dict[str, str] | None = None,
) -> Addon:
    """Add a product addon. With a *module*, client addons of it are provisioned through
    that module (*module_settings* are its ``configoption1``..); *autoactivate* is when
    ("on" accept, "order", "payment", "" never), like a product's auto-setup."""
    if billingcycle not in PAY_TYPES:
        raise ValidationError(
            'Invalid pay type. Must be one of "free", "onetime" or "recurring"', code="invalid_pay_type"
        )
    if module and module not in server_modules():
        raise ValidationError("Invalid module name provided.", code="invalid_module_name")
    addon = Addon(
        name=name,
        billingcycle=billingcycle,
        packages=list(packages or []),
        tax=tax,
        description=description,
        autoactivate=autoactivate,
        module=module,
        module_settings=dict(module_settings or {}),
    )
    uow.session.add(addon)
    uow.session.flush()
    for currency_id, values in (pricing or {}).items():
        set_price(uow, "addon", addon.id, currency_id, values)
    return addon


def get_addon(uow: UnitOfWork, addon_id: int) -> Addon:
    addon = uow.session.get(Addon, addon_id) if addon_id else None
    if addon is None:
        raise NotFound("Addon ID invalid", code="addon_not_found")
    return addon
