"""Activation and configuration of modules by type and name (``ActivateModule`` & co).

Each module type names a function returning the configuration fields of one of its
modules (raising ``Invalid module name provided.`` for an unknown one) and whether it can
be activated. Other areas add their types (``gateway``, ``registrar``) to
:data:`MODULE_TYPES` from :mod:`billow.bootstrap`, in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select

from billow.db.models import ModuleSetting
from billow.errors import BillowError, NotAllowed, ValidationError
from billow.modules.fraud import fraud_class
from billow.modules.servers import module_class
from billow.modules.servers.base import ConfigField
from billow.uow import UnitOfWork

ACTIVE = "__active__"


def fraud_fields(name: str) -> tuple[ConfigField, ...]:
    return fraud_class(name).settings


def server_fields(name: str) -> tuple[ConfigField, ...]:
    return module_class(name).product_config


#: type -> (function returning the fields of a named module, whether it can be activated)
MODULE_TYPES: dict[str, tuple[Callable[[str], tuple[ConfigField, ...]], bool]] = {
    "fraud": (fraud_fields, True),
    "servers": (server_fields, False),
}


def _resolve(module_type: str) -> tuple[Any, bool]:
    entry = MODULE_TYPES.get(module_type)
    if entry is None:
        raise ValidationError(
            "Invalid module type provided. Supported module types include: "
            + ", ".join(sorted(MODULE_TYPES)),
            code="invalid_module_type",
        )
    return entry


def config_fields(module_type: str, name: str) -> tuple[ConfigField, ...]:
    fields_of, _ = _resolve(module_type)
    if not name:
        raise ValidationError("Invalid module name provided.", code="invalid_module_name")
    try:
        return fields_of(name)
    except BillowError:
        raise ValidationError("Invalid module name provided.", code="invalid_module_name") from None


def _names(fields: tuple[ConfigField, ...]) -> set[str]:
    return {f.name for f in fields}


def activate(uow: UnitOfWork, module_type: str, name: str, parameters: Mapping[str, Any]) -> None:
    fields = config_fields(module_type, name)
    _, activatable = _resolve(module_type)
    if not activatable:
        raise NotAllowed("Module activation not supported by module type.", code="activation_not_supported")
    _store(uow, module_type, name, {f.name: f.default for f in fields}, fields, only_missing=True)
    _store(uow, module_type, name, parameters, fields)
    _set(uow, module_type, name, ACTIVE, "1")


def update(uow: UnitOfWork, module_type: str, name: str, parameters: Mapping[str, Any]) -> None:
    fields = config_fields(module_type, name)
    _, activatable = _resolve(module_type)
    if not activatable:
        raise NotAllowed("Module activation not supported by module type.", code="activation_not_supported")
    if not is_active(uow, module_type, name):
        raise ValidationError("Module Configuration Update Failed: module is not active",
                              code="module_not_active")
    _store(uow, module_type, name, parameters, fields)


def deactivate(uow: UnitOfWork, module_type: str, name: str) -> None:
    config_fields(module_type, name)
    _, activatable = _resolve(module_type)
    if not activatable:
        raise NotAllowed("Module deactivation not supported by module type.",
                         code="deactivation_not_supported")
    if not is_active(uow, module_type, name):
        raise ValidationError("Failed to deactivate: module is not active", code="module_not_active")
    uow.session.execute(
        delete(ModuleSetting).where(
            ModuleSetting.module_type == module_type, ModuleSetting.module_name == name
        )
    )


def _store(
    uow: UnitOfWork,
    module_type: str,
    name: str,
    values: Mapping[str, Any],
    fields: tuple[ConfigField, ...],
    *,
    only_missing: bool = False,
) -> None:
    known = _names(fields)
    for key, value in values.items():
        if key not in known:
            raise ValidationError(f"Unknown configuration parameter {key}", code="unknown_module_parameter")
        if only_missing and _get(uow, module_type, name, key) is not None:
            continue
        _set(uow, module_type, name, key, str(value))


def _get(uow: UnitOfWork, module_type: str, name: str, key: str) -> ModuleSetting | None:
    return uow.session.scalar(
        select(ModuleSetting).where(
            ModuleSetting.module_type == module_type,
            ModuleSetting.module_name == name,
            ModuleSetting.setting == key,
        )
    )


def _set(uow: UnitOfWork, module_type: str, name: str, key: str, value: str) -> None:
    row = _get(uow, module_type, name, key)
    if row is None:
        uow.session.add(ModuleSetting(module_type=module_type, module_name=name, setting=key, value=value))
        uow.session.flush()
    else:
        row.value = value


def is_active(uow: UnitOfWork, module_type: str, name: str) -> bool:
    row = _get(uow, module_type, name, ACTIVE)
    return row is not None and row.value == "1"


def active_modules(uow: UnitOfWork, module_type: str) -> list[str]:
    return list(
        uow.session.scalars(
            select(ModuleSetting.module_name)
            .where(
                ModuleSetting.module_type == module_type,
                ModuleSetting.setting == ACTIVE,
                ModuleSetting.value == "1",
            )
            .order_by(ModuleSetting.module_name)
        )
    )


def settings_of(uow: UnitOfWork, module_type: str, name: str) -> dict[str, str]:
    rows = uow.session.scalars(
        select(ModuleSetting).where(
            ModuleSetting.module_type == module_type,
            ModuleSetting.module_name == name,
            ModuleSetting.setting != ACTIVE,
        )
    )
    return {r.setting: r.value for r in rows}
