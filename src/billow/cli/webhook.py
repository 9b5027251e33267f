"""``billow webhook``: webhook endpoints and their deliveries."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.events import webhook_endpoints, webhook_inspection

app = typer.Typer(help="Webhook endpoints and their deliveries.", no_args_is_help=True)


@app.command("add")
def webhook_add(
    url: str,
    event: Annotated[
        list[str] | None, typer.Option("--event", help="WHMCS hook name (repeatable; none: all)")
    ] = None,
    secret: Annotated[str, typer.Option("--secret", help="whsec_ secret (generated when empty)")] = "",
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Register an endpoint and print its id and signing secret."""
    with unit_of_work() as uow:
        endpoint, new_secret = webhook_endpoints.add_endpoint(uow, url, event or [], secret=secret,
                                                     description=description)
    console.print(f"webhook {endpoint.id} added for {endpoint.url}")
    console.print(f"secret: {new_secret}")


@app.command("list")
def webhook_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List endpoints with their delivery counts (never their secrets)."""
    with unit_of_work(commit=False) as uow:
        rows = [
            {"id": e.id, "url": e.url, "events": e.events or ["*"], "enabled": e.enabled,
             "disabled_reason": e.disabled_reason, **webhook_endpoints.delivery_counts(uow, e.id)}
            for e in webhook_endpoints.list_endpoints(uow)
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "url", "events", "status", "pending", "succeeded", "failed")
    for r in rows:
        status = "enabled" if r["enabled"] else f"disabled: {r['disabled_reason']}"
        table.add_row(str(r["id"]), r["url"], ", ".join(r["events"]), status, str(r["pending"]),
                      str(r["succeeded"]), str(r["failed"]))
    console.print(table)


@app.command("remove")
def webhook_remove(webhook_id: int) -> None:
    """Delete an endpoint and its delivery history."""
    with unit_of_work() as uow:
        webhook_endpoints.delete_endpoint(uow, webhook_id)
    console.print(f"webhook {webhook_id} removed")


@app.command("enable")
def webhook_enable(webhook_id: int) -> None:
    """Enable an endpoint again (for instance after it was disabled for failing)."""
    with unit_of_work() as uow:
        webhook_endpoints.update_endpoint(uow, webhook_id, enabled=True)
    console.print(f"webhook {webhook_id} enabled")


@app.command("deliveries")
def webhook_deliveries(
    webhook_id: Annotated[int, typer.Option("--webhook", help="Only this endpoint")] = 0,
    status: Annotated[str, typer.Option("--status", help="pending, succeeded or failed")] = "",
    limit: Annotated[int, typer.Option("--limit")] = 25,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show recent deliveries and their last attempt."""
    with unit_of_work(commit=False) as uow:
        total, rows = webhook_inspection.list_deliveries(
            uow, endpoint_id=webhook_id, status=status, limit=limit)
        items = [
            {"id": d.id, "webhook": d.endpoint_id, "event": d.event_name, "event_id": d.event_uuid,
             "status": d.status, "attempts": d.attempts, "response_code": d.response_code,
             "last_error": d.last_error,
             "next_attempt": d.next_attempt_at.isoformat() if d.next_attempt_at else None}
            for d in rows
        ]
    if as_json:
        typer.echo(json.dumps({"total": total, "deliveries": items}))
        return
    table = Table("id", "webhook", "event", "status", "attempts", "code", "next attempt", "error")
    for d in items:
        table.add_row(str(d["id"]), str(d["webhook"]), d["event"], d["status"], str(d["attempts"]),
                      str(d["response_code"] or "-"), d["next_attempt"] or "-", d["last_error"])
    console.print(table)
    console.print(f"{total} deliveries in all")


@app.command("retry")
def webhook_retry(delivery_id: int) -> None:
    """Replay a delivery now (same event id, so receivers can de-duplicate)."""
    with unit_of_work() as uow:
        replay = webhook_inspection.retry_delivery(uow, delivery_id)
    console.print(f"delivery {delivery_id} queued again as {replay.id}")
