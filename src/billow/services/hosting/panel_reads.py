"""Module calls that read from a panel and change no service's state: single sign-on, the
server connection test, and disk/bandwidth usage statistics.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow.db.models import Server, Service
from billow.errors import NotAllowed
from billow.modules.servers import get_module
from billow.modules.servers.base import ModuleParams, ModuleResult
from billow.services.hosting._exchange import log, secrets_of, write_log
from billow.services.hosting.module_params import build_params
from billow.services.hosting.provisioning import get_service, module_for
from billow.services.hosting.servers import get_server, server_params
from billow.uow import UnitOfWork


def single_sign_on(uow: UnitOfWork, service_id: int) -> ModuleResult:
    service = get_service(uow, service_id)
    product, module = module_for(uow, service)
    if not type(module).supports("single_sign_on"):
        raise NotAllowed("Single sign-on is not supported by the module", code="sso_not_supported")
    params = build_params(uow, service, product)
    with uow.outside_transaction():
        result = module.single_sign_on(params)  # type: ignore[attr-defined]
    write_log(uow, module, service.id, secrets_of(params))
    return result


def test_connection(uow: UnitOfWork, server_id: int) -> ModuleResult:
    server = get_server(uow, server_id)
    module = get_module(server.type)
    params = ModuleParams(server_params(server))
    if not type(module).supports("test_connection"):
        return ModuleResult.failed("Test connection is not supported by the module")
    with uow.outside_transaction():
        try:
            result = module.test_connection(params)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - report, never crash the admin's screen
            result = ModuleResult.failed(f"Module error: {exc}")
    write_log(uow, module, 0, secrets_of(params))
    return result


def update_usage(uow: UnitOfWork, server_id: int) -> int:
    """Store disk/bandwidth usage reported by the server's module; returns services updated."""
    server = get_server(uow, server_id)
    module = get_module(server.type)
    if not type(module).supports("usage_update"):
        return 0
    services = list(
        uow.session.scalars(
            select(Service).where(Service.server_id == server.id, Service.status.in_(("Active", "Suspended")))
        )
    )
    updated = 0
    params = ModuleParams(server_params(server))
    records: dict[str, Any] = {}
    with uow.outside_transaction():
        try:
            records = {r.username: r for r in module.usage_update(params)}  # type: ignore[attr-defined]
            server_wide = True
        except Exception as exc:  # noqa: BLE001 - modules reporting one instance need service params
            log.info("server-wide usage update of %s not available: %s", server.name, exc)
            server_wide = False
    if not server_wide:
        each = [(service, build_params(uow, service)) for service in services]
        with uow.outside_transaction():
            for service, service_params in each:
                try:
                    for record in module.usage_update(service_params):  # type: ignore[attr-defined]
                        records[service.username] = record
                except Exception:  # noqa: BLE001
                    log.exception("usage update for service %s failed", service.id)
    write_log(uow, module, 0, secrets_of(params))
    for service in services:
        record = records.get(service.username)
        if record is None:
            continue
        service.diskusage, service.disklimit = record.diskusage, record.disklimit
        service.bwusage, service.bwlimit = record.bwusage, record.bwlimit
        service.lastupdate = uow.now
        updated += 1
    return updated


def usage_servers(uow: UnitOfWork, after: int, limit: int) -> list[int]:
    """Enabled servers whose module reports usage statistics (``UpdateStatsAuto``)."""
    found = []
    for server in uow.session.scalars(select(Server).where(Server.id > after, Server.disabled.is_(False))
                                      .order_by(Server.id)):
        try:
            supported = type(get_module(server.type)).supports("usage_update")
        except Exception:  # noqa: BLE001 - an uninstalled module just has no usage to read
            supported = False
        if supported:
            found.append(server.id)
        if len(found) >= limit:
            break
    return found
