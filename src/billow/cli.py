"""The ``billow`` command: a stable contract that scripts and other tools call."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from billow.config import get_settings
from billow.db.engine import session_factory
from billow.errors import BillowError
from billow.uow import UnitOfWork

app = typer.Typer(help="Billow: billing and automation for hosting providers.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrator accounts.", no_args_is_help=True)
credential_app = typer.Typer(help="API credentials (identifier + secret).", no_args_is_help=True)
role_app = typer.Typer(help="API roles: which actions a credential may call.", no_args_is_help=True)
ip_app = typer.Typer(help="The API IP allow-list.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(credential_app, name="credential")
app.add_typer(role_app, name="role")
app.add_typer(ip_app, name="ip")

console = Console()


def _uow() -> UnitOfWork:
    return UnitOfWork(session_factory())


def _fail(exc: BillowError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from billow.db.migrate import upgrade

    upgrade(get_settings().resolved_database_url())
    console.print("database is up to date")


@app.command()
def demo() -> None:
    """Load demo data (idempotent): currencies, client groups, clients with contacts."""
    from billow.demo import load_demo

    with _uow() as uow:
        created = load_demo(uow)
        uow.commit()
    console.print(f"demo data ready ({created} new records)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only)")] = 1,
) -> None:
    """Serve the WHMCS-compatible API (migrates the embedded database first)."""
    import uvicorn

    from billow.db.migrate import upgrade

    upgrade(get_settings().resolved_database_url())
    _load_plugins()
    uvicorn.run(
        "billow.api.app:create_app", factory=True, host=host, port=port,
        workers=workers, log_level="info", access_log=False,
    )


def _load_plugins() -> None:
    from billow.plugins import load_hooks

    load_hooks()


@app.command()
def quickstart(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Migrate, load demo data, make sure an admin and an API credential exist, then serve.

    This is what ``make run`` calls: one command from a fresh clone to a working API.
    """
    from billow.db.migrate import upgrade
    from billow.demo import ensure_quickstart_access, load_demo

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    with _uow() as uow:
        load_demo(uow)
        access = ensure_quickstart_access(uow)
        uow.commit()
    url = f"http://{host}:{port}/includes/api.php"
    console.rule("Billow is starting")
    console.print(f"API endpoint : {url}")
    if access.admin_password:
        console.print(f"Admin login  : {access.admin_username} / {access.admin_password}")
    else:
        console.print(f"Admin login  : {access.admin_username} (password set earlier)")
    if access.secret:
        console.print(f"identifier   : {access.identifier}")
        console.print(f"secret       : {access.secret}")
        console.print(f"(also saved in {access.saved_to}; the database keeps only a digest)",
                      soft_wrap=True)
    else:
        console.print(f"credentials  : see {access.saved_to}", soft_wrap=True)
    # One unwrapped line, so it can be copied into a shell as it is.
    console.print(
        f"try          : curl -s {url} -d action=GetClients "
        f"-d identifier={access.identifier} -d secret={access.secret or '<secret>'} "
        f"-d responsetype=json", soft_wrap=True, highlight=False,
    )
    serve(host=host, port=port, workers=1)


# --- admins -----------------------------------------------------------------------------

@admin_app.command("create")
def admin_create(
    username: str,
    password: Annotated[str, typer.Option("--password", help="Admin password")],
    email: Annotated[str, typer.Option("--email")] = "",
    role: Annotated[str, typer.Option("--role", help="Admin role")] = "Full Administrator",
) -> None:
    """Create an administrator."""
    from billow.services import access

    with _uow() as uow:
        try:
            admin = access.create_admin(uow, username, password, email=email, role=role)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"admin {admin.username} created (id {admin.id})")


@admin_app.command("disable")
def admin_disable(username: str) -> None:
    """Disable an administrator (their API credentials stop working at once)."""
    from billow.services import access

    with _uow() as uow:
        try:
            access.set_admin_disabled(uow, username, True)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"admin {username} disabled")


@admin_app.command("enable")
def admin_enable(username: str) -> None:
    """Enable a disabled administrator."""
    from billow.services import access

    with _uow() as uow:
        try:
            access.set_admin_disabled(uow, username, False)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"admin {username} enabled")


# --- credentials ------------------------------------------------------------------------

@credential_app.command("create")
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
    from billow.services import access

    with _uow() as uow:
        try:
            new = access.create_credential(
                uow, admin, roles=role or None, allow_ips=allow_ip or [], description=description
            )
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    if as_json:
        typer.echo(json.dumps({"identifier": new.identifier, "secret": new.secret}))
    else:
        console.print(f"identifier: {new.identifier}")
        console.print(f"secret:     {new.secret}")


@credential_app.command("list")
def credential_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API credentials (never their secrets)."""
    from billow.services import access

    with _uow() as uow:
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


@credential_app.command("revoke")
def credential_revoke(identifier: str) -> None:
    """Revoke an API credential; it stops working at once."""
    from billow.services import access

    with _uow() as uow:
        try:
            access.revoke_credential(uow, identifier)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"credential {identifier} revoked")


# --- roles ------------------------------------------------------------------------------

@role_app.command("create")
def role_create(
    name: str,
    allow: Annotated[list[str], typer.Option("--allow", help="API action allowed (repeatable)")],
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create an API role allowing the given actions (``*`` allows every action)."""
    from billow.services import access

    with _uow() as uow:
        try:
            role = access.create_role(uow, name, allow, description)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"role {role.name} created: {', '.join(a.action for a in role.actions)}")


@role_app.command("list")
def role_list() -> None:
    """List API roles and their actions."""
    from billow.services import access

    with _uow() as uow:
        table = Table("name", "actions", "description")
        for role in access.list_roles(uow):
            table.add_row(role.name, ", ".join(a.action for a in role.actions), role.description)
    console.print(table)


# --- IP allow-list ----------------------------------------------------------------------

@ip_app.command("allow")
def ip_allow(
    network: str, note: Annotated[str, typer.Option("--note", help="Why it is allowed")] = ""
) -> None:
    """Allow an IP address or CIDR range (IPv4 or IPv6) to call the API."""
    from billow.services import access

    with _uow() as uow:
        try:
            entry = access.add_allowed_ip(uow, network, note=note)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"allowed {entry.network}")


@ip_app.command("remove")
def ip_remove(network: str) -> None:
    """Remove an IP address or range from the allow-list."""
    from billow.services import access

    with _uow() as uow:
        try:
            removed = access.remove_allowed_ip(uow, network)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}")


@ip_app.command("list")
def ip_list() -> None:
    """Show the allow-list."""
    from billow.services import access

    with _uow() as uow:
        table = Table("network", "credential", "note")
        for e in access.list_allowed_ips(uow):
            table.add_row(e.network, str(e.credential_id or "all"), e.note)
    console.print(table)


if __name__ == "__main__":
    app()
