"""``billow modulequeue``: failed module actions waiting for a retry."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, error, unit_of_work
from billow.services.hosting.module_queue import list_queue, retry

app = typer.Typer(help="Failed module actions waiting for a retry.", no_args_is_help=True)


@app.command("list")
def modulequeue_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show failed module actions with the module's own error."""
    with unit_of_work(commit=False) as uow:
        rows = [{"id": e.id, "service": e.service_id, "module": e.module_name, "action": e.module_action,
                 "retries": e.num_retries, "error": e.last_attempt_error} for e in list_queue(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "service", "module", "action", "retries", "error")
    for r in rows:
        table.add_row(str(r["id"]), str(r["service"]), r["module"], r["action"], str(r["retries"]),
                      r["error"])
    console.print(table)


@app.command("retry")
def modulequeue_retry(
    entry_id: Annotated[int | None, typer.Argument(help="Queue entry id (omit with --all)")] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Retry every open entry")] = False,
) -> None:
    """Run failed module actions again; each retry commits on its own."""
    if entry_id is None and not all_entries:
        error("give an entry id or --all", 2)
    with unit_of_work(commit=False) as uow:
        ids = [entry_id] if entry_id is not None else [e.id for e in list_queue(uow)]
    failed = 0
    for queued in ids:
        with unit_of_work() as uow:
            result = retry(uow, queued)
        if result.success:
            console.print(f"entry {queued}: done")
        else:
            failed += 1
            console.print(f"[red]entry {queued} failed:[/red] {result.error}")
    if failed:
        raise typer.Exit(1)
