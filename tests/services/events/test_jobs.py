"""Background jobs: created only by committed changes, run in their own transaction, retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from billow import clock, jobs
from billow.db.models import BackgroundJob, ClientNote
from billow.errors import ModuleError
from billow.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def note_job(db):
    """A job that writes a client note, and fails while ``state["fail"]`` is true."""
    state = {"fail": False, "runs": 0}

    def add_note(uow, client_id: int, text: str) -> str:
        state["runs"] += 1
        uow.session.add(ClientNote(client_id=client_id, note=text))
        uow.session.flush()
        if state["fail"]:
            raise ModuleError("panel unreachable")
        return f"noted {text}"

    jobs.register("test.add_note", add_note)
    yield state
    jobs.unregister("test.add_note")


def test_a_job_runs_after_commit_and_never_for_a_rollback(db, add_client, drain, note_job):
    client_id = add_client(noemail=1)
    with UnitOfWork(db) as uow:
        jobs.request_job(uow, "test.add_note", client_id=client_id, text="rolled back")
    with UnitOfWork(db) as uow:
        jobs.request_job(uow, "test.add_note", client_id=client_id, text="committed")
        uow.commit()
    stats = drain()
    assert stats.jobs_queued == 1 and stats.jobs_done == 1
    with UnitOfWork(db) as uow:
        assert [n.note for n in uow.session.scalars(select(ClientNote))] == ["committed"]
        job = uow.session.scalar(select(BackgroundJob))
        assert (job.status, job.attempts, job.result) == ("succeeded", 1, "noted committed")


def test_a_failing_job_is_rolled_back_retried_then_failed(db, add_client, note_job):
    from billow.worker import Worker

    client_id = add_client(noemail=1)
    note_job["fail"] = True
    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            jobs.request_job(uow, "test.add_note", client_id=client_id, text="retry me")
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
            at = T0
            for wait in jobs.RETRY_SCHEDULE[:2]:
                at += wait
                with clock.frozen(at):
                    worker.run_once()
            note_job["fail"] = False            # the panel is back
            with clock.frozen(at + jobs.RETRY_SCHEDULE[2]):
                worker.run_once()
    assert note_job["runs"] == 4
    with UnitOfWork(db) as uow:
        assert [n.note for n in uow.session.scalars(select(ClientNote))] == ["retry me"]
        job = uow.session.scalar(select(BackgroundJob))
        assert (job.status, job.attempts, job.last_error) == ("succeeded", 4, "")


def test_an_unknown_or_always_failing_job_ends_failed_with_the_error(db, drain):
    from billow.worker import Worker

    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            jobs.request_job(uow, "no.such:job")
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
            at = T0
            for wait in jobs.RETRY_SCHEDULE:
                at += wait
                with clock.frozen(at):
                    worker.run_once()
    with UnitOfWork(db) as uow:
        job = uow.session.scalar(select(BackgroundJob))
        assert job.status == "failed" and job.attempts == jobs.MAX_ATTEMPTS
        assert job.last_error.startswith("ModuleNotFoundError")
