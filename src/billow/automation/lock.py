"""The run lock: a lease row in the database, so two runs never overlap, on any machine.

Taking the lock is one conditional ``UPDATE ... WHERE owner = '' OR expires_at < now``:
on PostgreSQL the row lock makes a second, concurrent UPDATE wait and then re-check its
condition against the winner's row (so exactly one succeeds, whichever machine it runs
on); on SQLite the write transaction (``BEGIN IMMEDIATE``) serialises them.

The holder renews the lease in the same transaction as each page of work it commits
(:meth:`RunLock.renew`), which makes the lease a fence as well: a run whose lease lapsed
and was taken over cannot commit anything more. A run killed outright leaves its lease to
expire after :data:`DEFAULT_TTL`, or, when it ran on this same host and its process is
gone, the next run takes the lock over at once (hosts are told apart by host name).

Lease times are real wall-clock times, never the billing clock that ``--date`` moves.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from billow.db.models import AutomationLock

DEFAULT_TTL = timedelta(minutes=10)
CRON_LOCK = "cron"

_table = AutomationLock.__table__


def wall_now() -> datetime:
    return datetime.now(UTC)


def make_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """True when *owner* names a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child its parent has not reaped yet still answers kill(0): read its state.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Holder:
    owner: str
    acquired_at: datetime | None
    heartbeat_at: datetime | None
    expires_at: datetime | None


class RunLock:
    """A named lease held by this process; see the module docstring."""

    def __init__(self, factory: sessionmaker[Session], name: str = CRON_LOCK,
                 ttl: timedelta = DEFAULT_TTL, owner: str | None = None) -> None:
        self.factory = factory
        self.name = name
        self.ttl = ttl
        self.owner = owner or make_owner()
        #: Owner whose lapsed or dead lease this lock replaced (its run was interrupted).
        self.took_over_from = ""

    def acquire(self) -> bool:
        """Take the lock if it is free, lapsed, or held by a dead process on this host."""
        self._ensure_row()
        with self.factory() as session:
            now = wall_now()
            previous = session.scalar(select(AutomationLock.owner).where(AutomationLock.name == self.name))
            taken = session.execute(
                update(_table)
                .where(_table.c.name == self.name,
                       or_(_table.c.owner == "", _table.c.owner == self.owner,
                           _table.c.expires_at.is_(None), _table.c.expires_at < now))
                .values(owner=self.owner, acquired_at=now, heartbeat_at=now, expires_at=now + self.ttl)
            ).rowcount == 1
            if not taken and previous and owner_is_dead(previous):
                taken = session.execute(
                    update(_table)
                    .where(_table.c.name == self.name, _table.c.owner == previous)
                    .values(owner=self.owner, acquired_at=now, heartbeat_at=now, expires_at=now + self.ttl)
                ).rowcount == 1
            if taken:
                self.took_over_from = previous if previous and previous != self.owner else ""
                session.commit()
            else:
                session.rollback()
            return taken

    def renew(self, session: Session) -> bool:
        """Extend the lease inside *session*'s transaction; False when it is no longer ours."""
        now = wall_now()
        return session.execute(
            update(_table)
            .where(_table.c.name == self.name, _table.c.owner == self.owner)
            .values(heartbeat_at=now, expires_at=now + self.ttl)
        ).rowcount == 1

    def release(self) -> None:
        """Give the lock back (only if still ours)."""
        with self.factory() as session:
            session.execute(
                update(_table)
                .where(_table.c.name == self.name, _table.c.owner == self.owner)
                .values(owner="", expires_at=None)
            )
            session.commit()

    def holder(self) -> Holder | None:
        with self.factory() as session:
            row = session.get(AutomationLock, self.name)
            if row is None or not row.owner:
                return None
            return Holder(row.owner, row.acquired_at, row.heartbeat_at, row.expires_at)

    def _ensure_row(self) -> None:
        with self.factory() as session:
            if session.get(AutomationLock, self.name) is not None:
                return
            dialect = session.get_bind().dialect.name
            values = {"name": self.name, "owner": ""}
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                session.execute(pg_insert(_table).values(**values).on_conflict_do_nothing())
            elif dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                session.execute(sqlite_insert(_table).values(**values).on_conflict_do_nothing())
            else:
                try:
                    session.add(AutomationLock(**values))
                    session.flush()
                except IntegrityError:
                    session.rollback()
                    return
            session.commit()
