"""``billow servergroup``: server groups, where new services are placed."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.hosting.servers import add_group, delete_group, list_groups

app = typer.Typer(help="Server groups: where new services are placed.", no_args_is_help=True)


@app.command("add")
def servergroup_add(
    name: str,
    server: Annotated[list[int], typer.Option("--server", help="Server id (repeat)")],
    fill: Annotated[int, typer.Option("--fill", help="1: least full first, 2: fill the default first")] = 1,
) -> None:
    """Create a server group from existing servers."""
    with unit_of_work() as uow:
        group = add_group(uow, name, server, fill)
        uow.commit()
        console.print(f"server group {group.name} added (id {group.id})")


@app.command("list")
def servergroup_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List server groups and their servers."""
    with unit_of_work(commit=False) as uow:
        rows = [{"id": g.id, "name": g.name, "filltype": g.filltype, "servers": ids}
                for g, ids in list_groups(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "fill", "servers")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], str(r["filltype"]), ",".join(map(str, r["servers"])))
    console.print(table)


@app.command("remove")
def servergroup_remove(group_id: int) -> None:
    """Remove a server group (its servers stay)."""
    with unit_of_work() as uow:
        delete_group(uow, group_id)
    console.print(f"server group {group_id} removed")
