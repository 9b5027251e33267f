"""The unit of work: one database transaction and the events it raised.

Every entry point (an API request, a CLI command, one cron step, one worker job) opens a
:class:`UnitOfWork`, passes it to service functions, and commits once. Services never
commit: that keeps them composable (``AcceptOrder`` calls the billing service inside the
same transaction) and makes "a failing request leaves nothing behind" true by
construction, because leaving the block without :meth:`UnitOfWork.commit` rolls back.

Events emitted through :meth:`emit` are written to the outbox inside the same
transaction (so a rollback sends nothing) and handed to in-process hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy.orm import Session, sessionmaker

from billow import clock


@dataclass
class Actor:
    """Who acts: an admin (API credential or login), a client user, or the system."""

    kind: str = "system"  # "admin" | "client" | "system"
    admin_id: int | None = None
    admin_username: str = "System"
    user_id: int | None = None
    ip: str = ""

    @property
    def label(self) -> str:
        return self.admin_username if self.kind == "admin" else self.kind.capitalize()


@dataclass
class UnitOfWork:
    factory: sessionmaker[Session]
    actor: Actor = field(default_factory=Actor)
    session: Session = field(init=False)
    #: Callbacks run after a successful commit (e.g. waking the outbox worker).
    after_commit: list[Callable[[], None]] = field(default_factory=list, init=False)
    committed: bool = field(default=False, init=False)

    def __enter__(self) -> Self:
        self.session = self.factory()
        self.after_commit = []
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.committed:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()
        self.committed = True
        callbacks, self.after_commit = self.after_commit, []
        for callback in callbacks:
            callback()

    @property
    def now(self) -> datetime:
        return clock.now()

    @property
    def today(self) -> date:
        return clock.today()

    def emit(self, name: str, variables: dict[str, Any], **kwargs: Any) -> list[Any]:
        """Raise event *name* (a WHMCS hook name) with WHMCS's *variables*.

        Returns what in-process hooks returned (Pre hooks use it to abort or change).
        """
        from billow import events

        return events.emit(self, name, variables, **kwargs)
