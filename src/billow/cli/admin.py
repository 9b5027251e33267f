"""``billow admin``: administrator accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from billow.cli.common import console, unit_of_work
from billow.services.access import admins as access

app = typer.Typer(help="Administrator accounts.", no_args_is_help=True)


@app.command("create")
def admin_create(
    username: str,
    password: Annotated[str, typer.Option("--password", help="Admin password")],
    email: Annotated[str, typer.Option("--email")] = "",
    role: Annotated[str, typer.Option("--role", help="Admin role")] = "Full Administrator",
) -> None:
    """Create an administrator."""
    with unit_of_work() as uow:
        admin = access.create_admin(uow, username, password, email=email, role=role)
        uow.commit()
        console.print(f"admin {admin.username} created (id {admin.id})")


@app.command("disable")
def admin_disable(username: str) -> None:
    """Disable an administrator (their API credentials stop working at once)."""
    with unit_of_work() as uow:
        access.set_admin_disabled(uow, username, True)
    console.print(f"admin {username} disabled")


@app.command("enable")
def admin_enable(username: str) -> None:
    """Enable a disabled administrator."""
    with unit_of_work() as uow:
        access.set_admin_disabled(uow, username, False)
    console.print(f"admin {username} enabled")
