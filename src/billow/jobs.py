"""Background jobs: work a service asks to run after its commit, run by the outbox worker.

A service calls :func:`request_job` inside its transaction (for instance the provisioning
area, when a module call should not hold up the request). That writes an internal
``JobRequested`` outbox event; the worker turns it into one :class:`BackgroundJob` row and
runs it in its own transaction, retrying with backoff. So a job runs only for a committed
change, and is never lost once committed.

Jobs are named: :func:`register` a function ``fn(uow, **args)`` under a name, or name it by
dotted path (``"billow.services.hosting.provisioning:create_account_job"``). A job that raises
(a :class:`~billow.errors.BillowError` or anything else) has its transaction rolled back and
is retried after 1 min, 5 min, 30 min, 2 h and 6 h, then marked failed with the error.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from billow.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from billow.db.models import BackgroundJob
    from billow.uow import UnitOfWork

log = logging.getLogger("billow.jobs")

JOB_REQUESTED = "JobRequested"
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1

JobFn = Callable[..., Any]
_registry: dict[str, JobFn] = {}


def register(name: str, fn: JobFn) -> None:
    """Make *fn* ``(uow, **args)`` runnable as job *name*."""
    _registry[name] = fn


def unregister(name: str) -> None:
    _registry.pop(name, None)


def request_job(uow: UnitOfWork, name: str, **args: Any) -> None:
    """Ask for job *name* to run with *args* (JSON-able) once this transaction commits."""
    from billow.events import emit

    emit(uow, JOB_REQUESTED, {"job": name, "args": args}, resource_type="job", hooks=False)


def handler_for(name: str) -> JobFn:
    if name in _registry:
        return _registry[name]
    module_name, sep, attr = name.partition(":")
    if sep:
        fn = getattr(importlib.import_module(module_name), attr, None)
        if callable(fn):
            return fn
    raise LookupError(f"no job named {name!r} is registered")


def create_from_event(uow: UnitOfWork, payload: dict[str, Any], event_uuid: str) -> int:
    """Turn a ``JobRequested`` event into its job row (the dispatcher calls this)."""
    from billow.db.models import BackgroundJob

    uow.session.add(BackgroundJob(
        event_uuid=event_uuid, name=str(payload.get("job") or ""), args=dict(payload.get("args") or {}),
        status="pending", next_attempt_at=uow.now, created_at=uow.now,
    ))
    return 1


def claim_due(uow: UnitOfWork, limit: int) -> list[int]:
    from billow.db.models import BackgroundJob
    from billow.db.queries import claim_leased

    return claim_leased(uow.session, BackgroundJob, BackgroundJob.status == "pending", now=uow.now,
                        lease_seconds=get_settings().worker_lease_seconds, limit=limit)


def run(factory: sessionmaker[Session], job_id: int) -> bool:
    """Run one claimed job in its own transaction; record success or schedule a retry."""
    from billow.db.models import BackgroundJob
    from billow.uow import UnitOfWork

    with UnitOfWork(factory) as uow:
        job = uow.session.get(BackgroundJob, job_id)
        if job is None or job.status != "pending":
            return False
        name, args = job.name, dict(job.args or {})
        try:
            result = handler_for(name)(uow, **args)
            job = uow.session.get(BackgroundJob, job_id)
            _finish(uow, job, result)
            uow.commit()
            return True
        except Exception as exc:  # noqa: BLE001 - a failed job is retried, never lost
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:2000]
            log.warning("job %s (%s) failed: %s", job_id, name, error)
    with UnitOfWork(factory) as uow:
        job = uow.session.get(BackgroundJob, job_id)
        if job is not None:
            _failed_attempt(uow, job, error)
            uow.commit()
    return False


def _finish(uow: UnitOfWork, job: BackgroundJob, result: Any) -> None:
    job.attempts += 1
    job.status, job.completed_at, job.leased_until, job.next_attempt_at = "succeeded", uow.now, None, None
    job.result = "" if result is None else str(result)[:2000]
    job.last_error = ""


def _failed_attempt(uow: UnitOfWork, job: BackgroundJob, error: str) -> None:
    job.attempts += 1
    job.last_error = error
    job.leased_until = None
    if job.attempts < MAX_ATTEMPTS:
        job.next_attempt_at = uow.now + RETRY_SCHEDULE[job.attempts - 1]
    else:
        job.status, job.completed_at, job.next_attempt_at = "failed", uow.now, None
