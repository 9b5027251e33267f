"""Provisioning modules: discovered through the ``billow.servers`` entry point group.

:func:`get_module` returns a fresh instance per call (modules keep a per-call log), and
:func:`available` lists every installed module by system name. The built-ins
(``none``, ``cpanel``, ``infrafabric``) are registered in ``pyproject.toml`` like any
third-party module, so a broken install shows up the same way for all of them.
"""

from __future__ import annotations

from functools import lru_cache

from billow.errors import NotFound
from billow.modules.discovery import discover
from billow.modules.servers.base import ServerModule
from billow.modules.servers.cpanel import CpanelModule
from billow.modules.servers.infrafabric import InfraFabricModule
from billow.modules.servers.none import NoneModule

#: Built-ins, also used when the package metadata is missing (running from a source tree).
BUILTIN: dict[str, type[ServerModule]] = {
    "none": NoneModule,
    "cpanel": CpanelModule,
    "infrafabric": InfraFabricModule,
}


@lru_cache(maxsize=1)
def registry() -> dict[str, type[ServerModule]]:
    return discover("billow.servers", ServerModule, BUILTIN)


def available() -> list[str]:
    return sorted(registry())


def module_class(name: str) -> type[ServerModule]:
    try:
        return registry()[name]
    except KeyError:
        raise NotFound("Invalid module name provided.") from None


def get_module(name: str) -> ServerModule:
    return module_class(name)()
