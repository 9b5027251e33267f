"""Gateway activation and settings: what ``billow gateway`` (and later the admin area) does.

Settings are kept encrypted by :mod:`billow.modules.gateways` (``seal``/``unseal``); what
this module shows is masked: a setting is secret when its field is a ``password`` field or
its key names a secret (``secret``, ``key``, ``password``, ``token``, ``signature``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from billow.db.models import GatewaySetting
from billow.errors import NotFound, ValidationError
from billow.modules.gateways import (
    configure_gateway,
    display_name,
    gateway_classes,
    load_gateway,
    unseal,
)
from billow.modules.gateways.base import Gateway, supports
from billow.uow import UnitOfWork

MASK = "********"
HOOKS = ("link", "capture", "refund", "store_remote", "remove_remote")
_SECRET_WORDS = ("secret", "key", "password", "token", "signature", "hash")


@dataclass
class GatewayView:
    """A gateway as shown to an admin: never a secret in clear."""

    name: str
    display_name: str
    active: bool
    test_mode: bool
    sortorder: int
    settings: dict[str, str] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)


def is_secret(gateway: Gateway | type[Gateway], key: str) -> bool:
    for config in gateway.config:
        if config.key == key and config.type == "password":
            return True
    return any(word in key.lower() for word in _SECRET_WORDS)


def masked(gateway: Gateway | type[Gateway], settings: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if v and is_secret(gateway, k) else v) for k, v in settings.items()}


def secret_values(uow: UnitOfWork, name: str) -> list[str]:
    """The values of *name*'s secret settings (for masking them wherever they appear)."""
    gateway = load_gateway(uow, name)
    if gateway is None:
        return []
    return [v for k, v in gateway.settings.items() if v and is_secret(gateway, k)]


def _class(name: str) -> type[Gateway]:
    cls = gateway_classes().get((name or "").strip().lower())
    if cls is None:
        raise NotFound(f"Gateway not found: {name}", code="gateway_not_found")
    return cls


def _parse(cls: type[Gateway], pairs: Mapping[str, str]) -> dict[str, str]:
    known = {c.key for c in cls.config}
    unknown = sorted(k for k in pairs if known and k not in known)
    if unknown:
        raise ValidationError(f"Unknown setting for {cls.system_name}: {', '.join(unknown)}",
                              code="gateway_setting_unknown")
    return dict(pairs)


def activate(uow: UnitOfWork, name: str, settings: Mapping[str, str], *, test_mode: bool = False,
             display: str = "", sortorder: int | None = None) -> GatewayView:
    """Activate *name* with *settings* (merged over what is stored), in test or live mode."""
    cls = _class(name)
    row = uow.session.get(GatewaySetting, cls.system_name)
    current = unseal(row.settings) if row is not None else {}
    merged = {**current, **_parse(cls, settings)}
    configure_gateway(uow, cls.system_name, active=True, settings=merged, test_mode=test_mode,
                      display=display or (row.display_name if row is not None else ""),
                      sortorder=sortorder if sortorder is not None else _order(row))
    return show(uow, cls.system_name)


def _order(row: GatewaySetting | None) -> int:
    return row.sortorder if row is not None else 0


def deactivate(uow: UnitOfWork, name: str) -> GatewayView:
    cls = _class(name)
    row = uow.session.get(GatewaySetting, cls.system_name)
    if row is None:
        configure_gateway(uow, cls.system_name, active=False)
    else:
        row.active = False
    return show(uow, cls.system_name)


def update_settings(uow: UnitOfWork, name: str, settings: Mapping[str, str]) -> GatewayView:
    """Change some settings of *name*, keeping its activation and mode."""
    cls = _class(name)
    row = uow.session.get(GatewaySetting, cls.system_name)
    current = unseal(row.settings) if row is not None else {}
    configure_gateway(
        uow, cls.system_name, active=row.active if row is not None else cls.active_by_default,
        settings={**current, **_parse(cls, settings)}, test_mode=row is not None and bool(row.test_mode),
        display=row.display_name if row is not None else "", sortorder=_order(row))
    return show(uow, cls.system_name)


def show(uow: UnitOfWork, name: str) -> GatewayView:
    cls = _class(name)
    gateway = load_gateway(uow, cls.system_name)
    assert gateway is not None
    row = uow.session.get(GatewaySetting, cls.system_name)
    return GatewayView(
        name=cls.system_name, display_name=display_name(uow, gateway),
        active=row.active if row is not None else cls.active_by_default,
        test_mode=bool(row.test_mode) if row is not None else False,
        sortorder=row.sortorder if row is not None else 0,
        settings=masked(gateway, gateway.settings),
        hooks=[h for h in HOOKS if supports(gateway, h)])


def all_gateways(uow: UnitOfWork) -> list[GatewayView]:
    """Every installed gateway, active or not, by name."""
    return [show(uow, name) for name in sorted(gateway_classes())]
