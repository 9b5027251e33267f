"""``billow role``: API roles, which actions a credential may call."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.access import api_roles as access

app = typer.Typer(help="API roles: which actions a credential may call.", no_args_is_help=True)


@app.command("create")
def role_create(
    name: str,
    allow: Annotated[list[str], typer.Option("--allow", help="API action allowed (repeatable)")],
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create an API role allowing the given actions (``*`` allows every action)."""
    with unit_of_work() as uow:
        role = access.create_role(uow, name, allow, description)
        uow.commit()
        console.print(f"role {role.name} created: {', '.join(a.action for a in role.actions)}")


@app.command("list")
def role_list() -> None:
    """List API roles and their actions."""
    with unit_of_work(commit=False) as uow:
        table = Table("name", "actions", "description")
        for role in access.list_roles(uow):
            table.add_row(role.name, ", ".join(a.action for a in role.actions), role.description)
    console.print(table)
