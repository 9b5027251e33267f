"""Real processes: SIGKILL at random points then re-run, and two runs started together.

Both run on whichever database the suite uses (SQLite by default, PostgreSQL when
``BILLOW_TEST_DATABASE`` names a server).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billow.automation.runner import run_cron
from billow.db.models import ActivityLog, AutomationRun

from .sample_tasks import sample_tasks
from .test_runner import DAY, activity, make_clients

WORKER = Path(__file__).with_name("sample_tasks.py")


def _spawn(delay: float) -> subprocess.Popen[str]:
    env = dict(os.environ, BILLOW_TEST_TASK_DELAY=str(delay))
    return subprocess.Popen([sys.executable, str(WORKER), "--date", DAY.isoformat()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done_rows(db) -> int:
    with db() as session:
        return session.scalar(select(func.count(ActivityLog.id)).where(
            ActivityLog.description.like("greeted%") | ActivityLog.description.like("reminded%"))) or 0


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_run(db):
    ids = make_clients(db, 24)
    expected = Counter({i: 1 for i in ids})
    rng = random.Random(5)
    kills = 0
    for _attempt in range(4):
        proc = _spawn(delay=0.02)
        target = rng.randint(1, 40)
        deadline = time.monotonic() + 30
        while _done_rows(db) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        if _done_rows(db) >= 2 * len(ids):
            break
    assert kills >= 1
    # Nothing was done twice even across the kills.
    assert all(n == 1 for n in activity(db, "greeted").values())
    assert all(n == 1 for n in activity(db, "reminded").values())
    # The dead run's lock is taken over at once (same host, process gone).
    report = run_cron(db, as_of=DAY, tasks=sample_tasks())
    assert report.ran
    assert activity(db, "greeted") == expected
    assert activity(db, "reminded") == expected


@pytest.mark.slow
def test_two_runs_started_together_never_overlap_and_do_the_work_once(db):
    ids = make_clients(db, 12)
    procs = [_spawn(delay=0.03) for _ in range(2)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    ran = [o for o in outputs if o["ran"] and "GreetClients" in o["tasks"]]
    refused = [o for o in outputs if not o["ran"]]
    assert len(ran) == 1  # the other was refused, or found the day already done
    assert len(refused) <= 1
    assert activity(db, "greeted") == Counter({i: 1 for i in ids})
    assert activity(db, "reminded") == Counter({i: 1 for i in ids})
    with db() as session:
        runs = list(session.scalars(select(AutomationRun).order_by(AutomationRun.started_at)))
    # Runs that took the lock never overlapped in time.
    for a, b in zip(runs, runs[1:], strict=False):
        assert a.finished_at is not None and a.finished_at <= b.started_at


SLOW_HOOK = '''
import time

from billow.events import add_hook


@add_hook("InvoiceCreated")
def slow_down(variables):
    time.sleep(0.01)
'''


def _billing_snapshot(db) -> dict[str, list]:
    from billow.db.models import Invoice, InvoiceItem, Service

    with db() as session:
        return {
            "invoices": sorted(session.execute(select(
                Invoice.client_id, Invoice.date, Invoice.duedate, Invoice.total, Invoice.status)).all()),
            "items": sorted(session.execute(select(
                InvoiceItem.client_id, InvoiceItem.type, InvoiceItem.relid, InvoiceItem.duedate,
                InvoiceItem.amount)).all()),
            "services": sorted(session.execute(select(
                Service.id, Service.nextinvoicedate, Service.nextduedate, Service.status)).all()),
        }


def _invoice_count(db) -> int:
    """Committed invoices, read without queueing behind the writer.

    Billow's SQLite sessions begin with ``BEGIN IMMEDIATE`` (they wait for the write
    lock); a WAL reader does not, so it sees each page as soon as it commits.
    """
    import sqlite3

    url = db.kw["bind"].url
    if url.get_backend_name() != "sqlite":
        with db() as session:
            return session.scalar(select(func.count()).select_from(_invoices())) or 0
    with sqlite3.connect(url.database) as conn:
        return conn.execute("SELECT count(*) FROM invoices").fetchone()[0]


def _invoices():  # type: ignore[no-untyped-def]
    from billow.db.models import Invoice

    return Invoice.__table__


def _reset_billing(db, due) -> None:
    from sqlalchemy import delete, update

    from billow.db.models import (
        AutomationMark,
        AutomationRun,
        AutomationTaskDay,
        AutomationTaskLog,
        Invoice,
        InvoiceItem,
        OutboxEvent,
        Service,
    )

    with db() as session:
        for model in (InvoiceItem, Invoice, AutomationMark, AutomationTaskDay, AutomationTaskLog,
                      AutomationRun, OutboxEvent):
            session.execute(delete(model))
        session.execute(update(Service).values(nextinvoicedate=due, nextduedate=due))
        session.commit()


@pytest.mark.slow
def test_killed_billing_run_resumes_to_the_same_database(db, data_dir):
    from datetime import date

    from billow.uow import UnitOfWork

    from . import book

    due = date(2027, 3, 15)
    run_day = date(2027, 3, 1)
    with UnitOfWork(db) as uow:
        from billow.services.settings import set_setting

        # This test compares billing state; delivering 250 invoice e-mails (PDFs) is not its subject.
        set_setting(uow, "CronDeliverOutbox", "")
        set_setting(uow, "CronBatchSizeCreateInvoices", "100")
        hosting = book.product(uow, "Hosting")
        for n in range(250):
            owner = book.client(uow, f"k{n}")
            book.service(uow, owner, hosting, due=due, amount=f"{5 + n % 7}.00")
            if n % 3 == 0:
                book.service(uow, owner, hosting, cycle="Annually", amount="99.00", due=due)
        uow.commit()
    run_cron(db, as_of=run_day)
    uninterrupted = _billing_snapshot(db)
    assert len(uninterrupted["invoices"]) == 250 and len(uninterrupted["items"]) == 250 + 84
    _reset_billing(db, due)

    hooks = data_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "slow.py").write_text(SLOW_HOOK)
    rng = random.Random(11)
    partial = []
    command = [sys.executable, "-m", "billow.cli", "cron", "--date", run_day.isoformat()]
    try:
        for _attempt in range(3):
            before = _invoice_count(db)
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 30
            while _invoice_count(db) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                partial.append(_invoice_count(db))
            else:
                proc.wait(timeout=30)
    finally:
        (hooks / "slow.py").unlink()
    # The kills landed in the middle of invoice generation (pages of 100 clients commit whole).
    assert [n for n in partial if 0 < n < 250], partial
    run_cron(db, as_of=run_day)
    assert _billing_snapshot(db) == uninterrupted
