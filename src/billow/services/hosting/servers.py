"""Provisioning servers and server groups: definition, credentials, and server choice.

Passwords and access hashes are encrypted with the installation key
(:func:`billow.security.encrypt`) and decrypted only to build a module's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from billow.db.models import Server, ServerGroup, ServerGroupMember, Service
from billow.errors import NotFound, ValidationError
from billow.modules.servers import available as server_modules
from billow.modules.servers import module_class
from billow.security import decrypt, encrypt
from billow.uow import UnitOfWork

#: Services that occupy a slot on their server.
LIVE_STATUSES = ("Active", "Suspended")


@dataclass
class ServerInput:
    name: str
    type: str
    hostname: str = ""
    ipaddress: str = ""
    username: str = ""
    password: str = ""
    accesshash: str = ""
    secure: bool = True
    port: int = 0
    maxaccounts: int = 0
    assignedips: str = ""
    nameserver1: str = ""
    nameserver2: str = ""
    statusaddress: str = ""
    active: bool = False
    disabled: bool = False


def add_server(uow: UnitOfWork, data: ServerInput) -> Server:
    if not data.name.strip():
        raise ValidationError("A server name is required", code="server_name_required")
    if data.type not in server_modules():
        raise ValidationError("Invalid module name provided.", code="invalid_module_name")
    if not (data.hostname or data.ipaddress) and module_class(data.type).requires_server:
        raise ValidationError("A hostname or IP address is required", code="server_hostname_required")
    server = Server(
        name=data.name.strip(),
        type=data.type,
        hostname=data.hostname,
        ipaddress=data.ipaddress,
        username=data.username,
        password_enc=encrypt(data.password) if data.password else "",
        accesshash_enc=encrypt(data.accesshash) if data.accesshash else "",
        secure=data.secure,
        port=data.port,
        maxaccounts=data.maxaccounts,
        assignedips=data.assignedips,
        nameserver1=data.nameserver1,
        nameserver2=data.nameserver2,
        statusaddress=data.statusaddress,
        active=data.active,
        disabled=data.disabled,
    )
    uow.session.add(server)
    uow.session.flush()
    if data.active:
        _make_default(uow, server)
    return server


def update_server(uow: UnitOfWork, server_id: int, changes: dict[str, Any]) -> Server:
    server = get_server(uow, server_id)
    for key, value in changes.items():
        if key == "password":
            server.password_enc = encrypt(value) if value else ""
        elif key == "accesshash":
            server.accesshash_enc = encrypt(value) if value else ""
        elif key in {
            "name",
            "hostname",
            "ipaddress",
            "username",
            "secure",
            "port",
            "maxaccounts",
            "assignedips",
            "nameserver1",
            "nameserver2",
            "statusaddress",
            "disabled",
        }:
            setattr(server, key, value)
        elif key == "active":
            server.active = bool(value)
            if value:
                _make_default(uow, server)
        else:
            raise ValidationError(f"Unknown server field {key}", code="unknown_server_field")
    return server


def _make_default(uow: UnitOfWork, server: Server) -> None:
    for other in uow.session.scalars(
        select(Server).where(Server.type == server.type, Server.id != server.id)
    ):
        other.active = False


def delete_server(uow: UnitOfWork, server_id: int) -> None:
    server = get_server(uow, server_id)
    if active_count(uow, server.id):
        raise ValidationError("The server still has services assigned and cannot be deleted",
                              code="server_in_use")
    uow.session.delete(server)


def get_server(uow: UnitOfWork, server_id: int) -> Server:
    server = uow.session.get(Server, server_id) if server_id else None
    if server is None:
        raise NotFound("Server ID not found", code="server_not_found")
    return server


def list_servers(uow: UnitOfWork, module: str = "") -> list[Server]:
    query = select(Server).order_by(Server.id)
    if module:
        query = query.where(Server.type == module)
    return list(uow.session.scalars(query))


def active_count(uow: UnitOfWork, server_id: int) -> int:
    return (
        uow.session.scalar(
            select(func.count())
            .select_from(Service)
            .where(Service.server_id == server_id, Service.status.in_(LIVE_STATUSES))
        )
        or 0
    )


def active_counts(uow: UnitOfWork) -> dict[int, int]:
    rows = uow.session.execute(
        select(Service.server_id, func.count())
        .where(Service.status.in_(LIVE_STATUSES))
        .group_by(Service.server_id)
    )
    return {int(sid): int(n) for sid, n in rows}


def add_group(uow: UnitOfWork, name: str, server_ids: list[int], filltype: int = 1) -> ServerGroup:
    if not name.strip():
        raise ValidationError("A group name is required", code="server_group_name_required")
    if filltype not in (1, 2):
        raise ValidationError("Fill type must be 1 (least full) or 2 (fill until full)",
                              code="invalid_fill_type")
    if uow.session.scalar(select(ServerGroup).where(ServerGroup.name == name.strip())) is not None:
        raise ValidationError("A server group with that name already exists", code="server_group_exists")
    group = ServerGroup(name=name.strip(), filltype=filltype)
    uow.session.add(group)
    uow.session.flush()
    for sid in server_ids:
        get_server(uow, sid)
        uow.session.add(ServerGroupMember(group_id=group.id, server_id=sid))
    uow.session.flush()
    return group


def list_groups(uow: UnitOfWork) -> list[tuple[ServerGroup, list[int]]]:
    groups = list(uow.session.scalars(select(ServerGroup).order_by(ServerGroup.id)))
    members = uow.session.execute(select(ServerGroupMember.group_id, ServerGroupMember.server_id))
    by_group: dict[int, list[int]] = {}
    for gid, sid in members:
        by_group.setdefault(gid, []).append(sid)
    return [(g, sorted(by_group.get(g.id, []))) for g in groups]


def delete_group(uow: UnitOfWork, group_id: int) -> None:
    group = uow.session.get(ServerGroup, group_id)
    if group is None:
        raise NotFound("Server group not found", code="server_group_not_found")
    uow.session.delete(group)


def choose_server(uow: UnitOfWork, module: str, group_id: int) -> Server | None:
    """Pick the server for a new service of *module* in server group *group_id*.

    Fill type 1 takes the least full server with room; fill type 2 keeps filling the
    default (active) server, then the next with room. Without a group the module's
    default server is used. ``None`` when the module needs no server or none has room.
    """
    if not module or not module_class(module).requires_server:
        return None
    query = select(Server).where(Server.type == module, Server.disabled.is_(False))
    filltype = 1
    if group_id:
        group = uow.session.get(ServerGroup, group_id)
        if group is not None:
            filltype = group.filltype
            query = query.join(ServerGroupMember, ServerGroupMember.server_id == Server.id).where(
                ServerGroupMember.group_id == group_id
            )
    candidates = list(uow.session.scalars(query.order_by(Server.id)))
    if not candidates:
        return None
    counts = active_counts(uow)
    with_room = [s for s in candidates if not s.maxaccounts or counts.get(s.id, 0) < s.maxaccounts]
    if not with_room:
        return None
    if not group_id:
        default = next((s for s in with_room if s.active), None)
        return default or with_room[0]
    if filltype == 2:
        return sorted(with_room, key=lambda s: (not s.active, s.id))[0]

    def load(s: Server) -> float:
        used = counts.get(s.id, 0)
        return used / s.maxaccounts if s.maxaccounts else float(used)

    return min(with_room, key=lambda s: (load(s), s.id))


def server_params(server: Server | None) -> dict[str, Any]:
    """The ``server*`` keys of WHMCS's module ``$params`` (secrets decrypted here only)."""
    if server is None:
        return {
            "server": False,
            "serverid": 0,
            "serverip": "",
            "serverhostname": "",
            "serverusername": "",
            "serverpassword": "",
            "serveraccesshash": "",
            "serversecure": False,
            "serverport": "",
        }
    return {
        "server": True,
        "serverid": server.id,
        "serverip": server.ipaddress,
        "serverhostname": server.hostname,
        "serverusername": server.username,
        "serverpassword": decrypt(server.password_enc),
        "serveraccesshash": decrypt(server.accesshash_enc),
        "serversecure": server.secure,
        "serverport": server.port or "",
    }
