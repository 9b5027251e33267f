"""Finding installed plugins: the built-ins plus the classes of an entry-point group.

Every kind of module (servers, gateways, fraud, and registrars to come) is found the same
way, so a broken or mistyped plugin is treated the same everywhere: it is logged and
skipped, and never hides the other plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import TypeVar

log = logging.getLogger("billow.modules")

T = TypeVar("T")


def discover(
    group: str,
    base: type[T],
    builtin: Mapping[str, type[T]],
    *,
    key: Callable[[str, type[T]], str] = lambda entry_name, cls: entry_name,
) -> dict[str, type[T]]:
    """*builtin*, then every ``base`` subclass that entry-point *group* names, by *key*."""
    found: dict[str, type[T]] = dict(builtin)
    for ep in entry_points(group=group):
        try:
            cls = ep.load()
        except Exception:  # noqa: BLE001 - one broken plugin must not hide the others
            log.exception("%s entry point %s failed to load", group, ep.name)
            continue
        if isinstance(cls, type) and issubclass(cls, base):
            found[key(ep.name, cls)] = cls
        else:
            log.error("%s entry point %s is not a %s subclass", group, ep.name, base.__name__)
    return found
