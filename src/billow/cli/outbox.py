"""``billow worker`` and ``billow outbox``: delivering and inspecting the outbox."""

from __future__ import annotations

import contextlib
import json
import signal
from datetime import timedelta
from typing import Annotated

import typer

from billow.cli.common import console, load_plugins
from billow.db.engine import session_factory
from billow.worker import Worker, outbox_status, purge_history
from billow.worker import retry_parked as retry


def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain what is due now, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds to sleep when idle")] = 1.0,
) -> None:
    """Deliver the outbox: webhooks and e-mails (runs until stopped unless --once)."""
    load_plugins()
    with Worker() as w:
        if once:
            stats = w.run_once()
            console.print(
                f"dispatched {stats.dispatched} events, webhooks sent {stats.webhooks_sent} "
                f"(failed attempts {stats.webhooks_failed}), e-mails sent {stats.emails_sent} "
                f"(failed attempts {stats.emails_failed})"
            )
            if stats.errors:
                for problem in stats.errors:
                    console.print(f"[red]error:[/red] {problem}")
                raise typer.Exit(1)
            return
        # SIGTERM (a service manager stopping us) finishes the current round, then exits.
        signal.signal(signal.SIGTERM, lambda *_: w.stop())
        console.print("worker running; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            w.run_forever(interval=interval)
        console.print("worker stopped")


def outbox(
    retry_parked: Annotated[bool, typer.Option("--retry-parked", help="Retry parked events")] = False,
    purge_days: Annotated[
        int, typer.Option("--purge-days", help="Delete finished deliveries older than N days")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the outbox: events waiting, parked (with why), deliveries pending."""
    factory = session_factory()
    if retry_parked:
        console.print(f"{retry(factory)} parked events will be retried")
    if purge_days > 0:
        removed = purge_history(factory, timedelta(days=purge_days))
        console.print(f"purged {removed['deliveries']} deliveries, {removed['attempts']} attempts, "
                      f"{removed['events']} events")
    status = outbox_status(factory)
    if as_json:
        typer.echo(json.dumps(status))
        return
    console.print(f"events waiting: {status['undispatched']}; deliveries pending: "
                  f"{status['pending_deliveries']} (oldest {status['oldest_pending_delivery'] or '-'})")
    for event in status["parked"]:  # type: ignore[union-attr]
        console.print(f"[red]parked[/red] event {event['id']} {event['name']}: {event['error']}")
