"""``billow credential``: API credentials (identifier + secret)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.access import credentials as access

app = typer.Typer(help="API credentials (identifier + secret).", no_args_is_help=True)


@app.command("create")
def credential_create(
    admin: Annotated[str, typer.Option("--admin", help="Owning admin's username")],
    role: Annotated[list[str] | None, typer.Option("--role", help="API role (repeatable)")] = None,
    allow_ip: Annotated[
        list[str] | None, typer.Option("--allow-ip", help="IP or CIDR allowed (repeatable)")
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an API credential and print its identifier and secret (shown only now)."""
    with unit_of_work() as uow:
        new = access.create_credential(
            uow, admin, roles=role or None, allow_ips=allow_ip or [], description=description
        )
    if as_json:
        typer.echo(json.dumps({"identifier": new.identifier, "secret": new.secret}))
    else:
        console.print(f"identifier: {new.identifier}")
        console.print(f"secret:     {new.secret}")


@app.command("list")
def credential_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API credentials (never their secrets)."""
    with unit_of_work(commit=False) as uow:
        rows = [
            {
                "identifier": c.identifier,
                "admin": c.admin.username,
                "roles": [r.name for r in c.roles],
                "description": c.description,
                "revoked": c.revoked_at is not None,
                "last_used": c.last_used_at.isoformat() if c.last_used_at else None,
            }
            for c in access.list_credentials(uow)
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table()
    # The identifier is what `credential revoke` takes: never cut it short.
    table.add_column("identifier", no_wrap=True, min_width=32)
    for name in ("admin", "roles", "status", "last used", "description"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r["identifier"], r["admin"], ", ".join(r["roles"]),
                      "revoked" if r["revoked"] else "active", r["last_used"] or "-",
                      r["description"])
    console.print(table)


@app.command("revoke")
def credential_revoke(identifier: str) -> None:
    """Revoke an API credential; it stops working at once."""
    with unit_of_work() as uow:
        access.revoke_credential(uow, identifier)
    console.print(f"credential {identifier} revoked")
