"""How a run reports progress: a rich progress bar per task on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

import structlog

if TYPE_CHECKING:
    from rich.console import Console

    from billow.automation.runner import TaskResult


class Progress(Protocol):
    """What the runner tells whoever watches it."""

    def start(self, name: str, title: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self, result: TaskResult) -> None: ...

    def note(self, event: str, **fields: object) -> None: ...

    def close(self) -> None: ...


class SilentProgress:
    """Reports nothing (library callers and tests)."""

    def start(self, name: str, title: str, total: int | None) -> None:
        return None

    def advance(self, n: int) -> None:
        return None

    def finish(self, result: TaskResult) -> None:
        return None

    def note(self, event: str, **fields: object) -> None:
        return None

    def close(self) -> None:
        return None


class LogProgress:
    """One structured line per task start and end, for cron mails and journald."""

    def __init__(self) -> None:
        self.log = structlog.get_logger("billow.cron")
        self.name = ""

    def start(self, name: str, title: str, total: int | None) -> None:
        self.name = name
        if total is None:
            self.log.info("task started", task=name)
        else:
            self.log.info("task started", task=name, pending=total)

    def advance(self, n: int) -> None:
        return None

    def finish(self, result: TaskResult) -> None:
        self.log.info("task finished", task=result.name, status=result.status,
                      processed=result.processed, failed=result.failed,
                      seconds=round(result.seconds, 3), **result.counts)
        for failure in result.failures[:20]:
            self.log.warning("item failed", task=result.name, **failure)

    def note(self, event: str, **fields: object) -> None:
        self.log.info(event, **fields)

    def close(self) -> None:
        return None


class RichProgress:
    """A progress bar per task, with its counts printed when it ends."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console or Console()
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description:<34}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=self.console)
        self.bar.start()
        self.current: int | None = None

    def start(self, name: str, title: str, total: int | None) -> None:
        self.current = self.bar.add_task(title or name, total=total)

    def advance(self, n: int) -> None:
        if self.current is not None:
            self.bar.advance(self.current, n)

    def finish(self, result: TaskResult) -> None:
        if self.current is not None:
            task = next(t for t in self.bar.tasks if t.id == self.current)
            total = task.total or max(task.completed, 1)
            self.bar.update(self.current, total=total, completed=total)
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items()) or "nothing to do"
        colour = {"completed": "green", "failed": "red"}.get(result.status, "yellow")
        failed = f", [red]{result.failed} failed[/red]" if result.failed else ""
        self.bar.console.print(f"  [{colour}]{result.name}[/{colour}]: {counts}{failed}"
                               + (f" ({result.message})" if result.message else ""))
        self.current = None

    def note(self, event: str, **fields: object) -> None:
        detail = " ".join(f"{k}={v}" for k, v in fields.items())
        self.bar.console.print(f"[dim]{event}[/dim] {detail}")

    def close(self) -> None:
        self.bar.stop()


def default_progress() -> Progress:
    """A bar when a person watches (stdout is a terminal), log lines otherwise."""
    return RichProgress() if sys.stdout.isatty() else LogProgress()
