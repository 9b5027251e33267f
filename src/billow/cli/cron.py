"""``billow cron``: the automation run that cron or a systemd timer starts."""

from __future__ import annotations

import logging
import sys
from datetime import date
from typing import Annotated

import structlog
import typer
from rich.table import Table

from billow.automation.progress import default_progress
from billow.automation.runner import run_cron
from billow.automation.tasks import load_tasks
from billow.cli.common import console, error, load_plugins, reporting_errors


def cron(
    date_: Annotated[str, typer.Option("--date", help="Run as of this billing date (YYYY-MM-DD)")] = "",
    only: Annotated[str, typer.Option("--only", help="Run only this task (any hour)")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Re-run daily tasks already done for the date")
    ] = False,
    list_tasks: Annotated[bool, typer.Option("--list", help="List the tasks and exit")] = False,
) -> None:
    """Run the automation: frequent tasks every run, daily tasks once a day.

    Put it in cron or a systemd timer every 5 minutes; overlapping runs are refused by a
    lock in the database, and a killed run is resumed by the next one.
    """
    load_plugins()
    if list_tasks:
        table = Table("task", "when", "what")
        for task in load_tasks():
            table.add_row(task.name, "daily" if task.daily else "every run", task.title)
        console.print(table)
        return
    as_of = None
    if date_:
        try:
            as_of = date.fromisoformat(date_)
        except ValueError:
            error(f"--date must be YYYY-MM-DD, not {date_!r}", 2)
    configure_logging()
    with reporting_errors():
        report = run_cron(as_of=as_of, only=only or None, force=force, progress=default_progress())
    if not report.ran:
        return
    if any(t.status == "failed" for t in report.tasks):
        raise typer.Exit(1)


def configure_logging() -> None:
    """Structured ``key=value`` lines on stderr (cron mails them, journald keeps them)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"]),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
