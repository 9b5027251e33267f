"""What every ``billow`` sub-command shares: the consoles and the one way to run a service call.

:func:`unit_of_work` is the block each command wraps its service call in: it opens a unit
of work, commits it when the block ends, and turns a :class:`~billow.errors.BillowError`
into one ``error: ...`` line on stderr and exit status 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from billow.db.engine import session_factory
from billow.errors import BillowError
from billow.plugins import load_hooks
from billow.uow import UnitOfWork

#: Results and tables (stdout).
console = Console()
#: Errors (stderr), never wrapped: one line a script can log as it is.
err_console = Console(stderr=True, soft_wrap=True)


def new_uow() -> UnitOfWork:
    """A fresh unit of work on the configured database (also a factory for services that take one)."""
    return UnitOfWork(session_factory())


def error(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with *code*."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def fail(exc: BillowError) -> NoReturn:
    """Report a service error as one line on stderr and exit 1."""
    error(exc.message)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn a :class:`BillowError` raised in the block into :func:`fail`."""
    try:
        yield
    except BillowError as exc:
        fail(exc)


@contextmanager
def unit_of_work(*, commit: bool = True) -> Iterator[UnitOfWork]:
    """Run the block in a unit of work and commit it at the end (unless ``commit=False``).

    A :class:`BillowError` rolls back and exits 1 with a one-line message on stderr.
    The block may commit earlier itself (to read what the commit produced); the final
    commit then has nothing left to do.
    """
    with reporting_errors(), new_uow() as uow:
        yield uow
        if commit:
            uow.commit()


def load_plugins() -> None:
    """Install the entry-point hooks (the API, the worker and cron all need them)."""
    load_hooks()
