"""The unit of work: one database transaction and the events it raised.

Every entry point (an API request, a CLI command, one cron step, one worker job) opens a
:class:`UnitOfWork`, passes it to service functions, and commits once. Services never
commit: that keeps them composable (``AcceptOrder`` calls the billing service inside the
same transaction) and makes "a failing request leaves nothing behind" true by
construction, because leaving the block without :meth:`UnitOfWork.commit` rolls back.

Events emitted through :meth:`emit` are written to the outbox inside the same
transaction (so a rollback sends nothing) and handed to in-process hooks.

No network call is made while a transaction (or the entry point's writer lock) is held.
A service that must wait for a remote answer (a provisioning module) wraps the call in
:meth:`UnitOfWork.outside_transaction`: what it did so far commits (the intent), the
writer lock is released, the call runs, and the service goes on in a new transaction to
record the outcome. Work that should only start once the caller's transaction committed
(e.g. provisioning triggered by a payment, whose steps run inside a savepoint) is handed
to :meth:`UnitOfWork.defer`; :meth:`UnitOfWork.commit` runs it, each in its own
transaction, before returning to the entry point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy.orm import Session, sessionmaker

from billow import clock, events

log = logging.getLogger("billow.uow")


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
    #: A lock held while the unit's transaction is open (the API's SQLite writer lock);
    #: released around :meth:`outside_transaction`.
    lock: AbstractContextManager[Any] | None = None
    session: Session = field(init=False)
    #: Callbacks run after a successful commit (e.g. waking the outbox worker).
    after_commit: list[Callable[[], None]] = field(default_factory=list, init=False)
    #: Checks run before every commit of this unit (e.g. the automation run's lock fence).
    before_commit: list[Callable[[], None]] = field(default_factory=list, init=False)
    #: Work to run once this unit's transaction committed (see :meth:`defer`).
    deferred: list[Callable[[UnitOfWork], None]] = field(default_factory=list, init=False)
    committed: bool = field(default=False, init=False)

    def __enter__(self) -> Self:
        if self.lock is not None:
            self.lock.__enter__()
        try:
            self.session = self.factory()
        except BaseException:
            self._release()
            raise
        self.after_commit, self.before_commit, self.deferred = [], [], []
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
            try:
                self.session.close()
            finally:
                self._release()

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.__exit__(None, None, None)

    def _commit(self) -> None:
        for check in self.before_commit:
            check()
        self.session.commit()
        self.committed = True
        callbacks, self.after_commit = self.after_commit, []
        for callback in callbacks:
            callback()

    def commit(self) -> None:
        """Commit, then run the deferred work (see :meth:`defer`), each in its own transaction."""
        self._commit()
        while self.deferred:
            work = self.deferred.pop(0)
            try:
                work(self)
                self._commit()
            except Exception:  # noqa: BLE001 - deferred work never undoes what committed
                log.exception("deferred work %r failed", work)
                self.session.rollback()

    def rollback(self) -> None:
        """Roll back the open transaction and forget the work deferred in it."""
        self.session.rollback()
        self.deferred.clear()

    def defer(self, work: Callable[[UnitOfWork], None]) -> None:
        """Run ``work(uow)`` after this unit commits, in a transaction of its own.

        The work may make network calls through :meth:`outside_transaction`. It should
        re-check the state it acts on: it runs after the caller's commit, and a savepoint
        rolled back in between does not take the request back.
        """
        self.deferred.append(work)

    @contextmanager
    def outside_transaction(self) -> Iterator[None]:
        """Commit what was done so far, release the writer lock, run the block (a network
        call), then carry on in a new transaction of the same session.

        Never inside a savepoint: the savepoint's owner expects to roll it back alone.
        """
        if self.session.in_nested_transaction():
            raise RuntimeError("a network call inside a savepoint; defer it with UnitOfWork.defer")
        self._commit()
        self._release()
        try:
            yield
        finally:
            if self.lock is not None:
                self.lock.__enter__()
            self.committed = False

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
        return events.emit(self, name, variables, **kwargs)
