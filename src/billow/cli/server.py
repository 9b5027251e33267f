"""``billow server``: provisioning servers (credentials stored encrypted)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.hosting.panel_reads import test_connection
from billow.services.hosting.servers import (
    ServerInput,
    active_counts,
    add_server,
    delete_server,
    list_servers,
    update_server,
)

app = typer.Typer(help="Provisioning servers (credentials stored encrypted).", no_args_is_help=True)


@app.command("add")
def server_add(
    name: str,
    module: Annotated[str, typer.Option("--module", help="Server module: cpanel, infrafabric, none ...")],
    hostname: Annotated[str, typer.Option("--hostname")] = "",
    ip: Annotated[str, typer.Option("--ip", help="IP address")] = "",
    username: Annotated[str, typer.Option("--username", help="Panel user or API key")] = "",
    password: Annotated[str, typer.Option("--password", envvar="BILLOW_SERVER_PASSWORD",
                                          help="Password or API secret (prefer the env var)")] = "",
    access_hash: Annotated[str, typer.Option("--access-hash", envvar="BILLOW_SERVER_ACCESSHASH",
                                             help="API token (prefer the env var)")] = "",
    port: Annotated[int, typer.Option("--port", help="0: the module's default")] = 0,
    insecure: Annotated[bool, typer.Option("--insecure", help="Plain HTTP instead of HTTPS")] = False,
    max_accounts: Annotated[int, typer.Option("--max-accounts", help="Capacity (0: unlimited)")] = 0,
    default: Annotated[bool, typer.Option("--default", help="The module's default server")] = False,
    status_address: Annotated[str, typer.Option("--status-address")] = "",
) -> None:
    """Add a provisioning server."""
    with unit_of_work() as uow:
        server = add_server(uow, ServerInput(
            name=name, type=module, hostname=hostname, ipaddress=ip, username=username,
            password=password, accesshash=access_hash, port=port, secure=not insecure,
            maxaccounts=max_accounts, active=default, statusaddress=status_address))
        uow.commit()
        console.print(f"server {server.name} added (id {server.id})")


@app.command("list")
def server_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List servers with their load (credentials are never shown)."""
    with unit_of_work(commit=False) as uow:
        counts = active_counts(uow)
        rows = [{"id": s.id, "name": s.name, "module": s.type, "hostname": s.hostname, "ip": s.ipaddress,
                 "services": counts.get(s.id, 0), "max": s.maxaccounts, "default": s.active,
                 "disabled": s.disabled} for s in list_servers(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "module", "hostname", "services", "default", "disabled")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["module"], r["hostname"] or r["ip"],
                      f"{r['services']}/{r['max'] or '∞'}", "yes" if r["default"] else "",
                      "yes" if r["disabled"] else "")
    console.print(table)


@app.command("update")
def server_update(
    server_id: int,
    password: Annotated[str | None, typer.Option("--password", envvar="BILLOW_SERVER_PASSWORD")] = None,
    access_hash: Annotated[str | None,
                           typer.Option("--access-hash", envvar="BILLOW_SERVER_ACCESSHASH")] = None,
    hostname: Annotated[str | None, typer.Option("--hostname")] = None,
    max_accounts: Annotated[int | None, typer.Option("--max-accounts")] = None,
    disabled: Annotated[bool | None, typer.Option("--disabled/--enabled")] = None,
    default: Annotated[bool | None, typer.Option("--default/--not-default")] = None,
) -> None:
    """Change a server's credentials, hostname, capacity or state."""
    changes = {k: v for k, v in {"password": password, "accesshash": access_hash, "hostname": hostname,
                                 "maxaccounts": max_accounts, "disabled": disabled, "active": default}.items()
               if v is not None}
    with unit_of_work() as uow:
        update_server(uow, server_id, changes)
    console.print(f"server {server_id} updated")


@app.command("remove")
def server_remove(server_id: int) -> None:
    """Remove a server that has no live services."""
    with unit_of_work() as uow:
        delete_server(uow, server_id)
    console.print(f"server {server_id} removed")


@app.command("test")
def server_test(server_id: int) -> None:
    """Test the connection to a server through its module."""
    with unit_of_work() as uow:
        result = test_connection(uow, server_id)
    if not result.success:
        console.print(f"[red]connection failed:[/red] {result.error}")
        raise typer.Exit(1)
    console.print("connection successful")
