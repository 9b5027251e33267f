"""Support desk benchmark: ticket reads at 20,000 tickets and e-mail import throughput.

Run with ``.venv/bin/python -m bench.support_tickets``. It builds a temporary SQLite
database (migrated, tickets and replies bulk-inserted), then times through the real ASGI
app (in process): ``/healthz`` as the in-run baseline, an action that reads nothing (the cost of
authentication and the API log), ``GetTickets`` (first page,
a deep page, the ``Awaiting Reply`` pseudo-status), ``GetTicket`` with 20 replies and
``GetTicketCounts``; and imports raw e-mails straight through the service. Figures are
medians in milliseconds with their ratio to the baseline.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

TICKETS = 20_000
REPLIES_ON_ONE = 20
ROUNDS = 30
MAILS = 300


def _median_ms(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _seed(factory: object) -> tuple[str, str]:
    from sqlalchemy import insert

    from billow.db.models import SupportDepartment, Ticket, TicketReply
    from billow.services.access import admins, credentials, ip_allow_list
    from billow.services.support import statuses as ticket_statuses
    from billow.uow import UnitOfWork

    with UnitOfWork(factory) as uow:  # type: ignore[arg-type]
        admins.create_admin(uow, "bench", "bench password 1", email="bench@example.com")
        ip_allow_list.add_allowed_ip(uow, "127.0.0.1/32")
        credential = credentials.create_credential(uow, "bench")
        uow.session.execute(
            insert(SupportDepartment),
            [{"name": f"Dept {i}", "email": f"dept{i}@example.net"} for i in range(1, 4)],
        )
        ticket_statuses.ensure_default_statuses(uow)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        statuses = ["Open", "Answered", "Customer-Reply", "Closed", "Closed", "Closed"]
        rows = [
            {
                "tid": f"BEN-{i:06d}",
                "c": "benchkey",
                "department_id": 1 + i % 3,
                "name": f"Guest {i}",
                "email": f"guest{i % 500}@example.org",
                "subject": f"Problem number {i}",
                "message": "Help",
                "status": statuses[i % len(statuses)],
                "priority": "Medium",
                "date": start + timedelta(minutes=i),
                "last_reply": start + timedelta(minutes=i),
            }
            for i in range(TICKETS)
        ]
        for offset in range(0, len(rows), 5000):
            uow.session.execute(insert(Ticket), rows[offset : offset + 5000])
        uow.session.execute(
            insert(TicketReply),
            [
                {
                    "ticket_id": 1,
                    "message": f"reply {n}",
                    "date": start + timedelta(minutes=n),
                    "name": "Guest",
                    "email": "guest@example.org",
                }
                for n in range(REPLIES_ON_ONE)
            ],
        )
        uow.commit()
    return credential.identifier, credential.secret


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="billow-bench-support-") as tmp:
        os.environ.update(
            BILLOW_DATA_DIR=tmp,
            BILLOW_DATABASE_URL=f"sqlite:///{Path(tmp) / 'bench.db'}",
            BILLOW_SECRET_KEY="bench-secret-key",
        )
        from billow.config import reset_settings

        reset_settings()
        from fastapi.testclient import TestClient

        from billow.api.app import create_app
        from billow.config import get_settings
        from billow.db.engine import session_factory
        from billow.db.migrate import upgrade
        from billow.services.support.inbound_mail import import_message
        from billow.uow import UnitOfWork

        upgrade(get_settings().resolved_database_url())
        factory = session_factory()
        seeded = time.perf_counter()
        identifier, secret = _seed(factory)
        print(f"seeded {TICKETS} tickets in {time.perf_counter() - seeded:.1f} s")
        auth = {"identifier": identifier, "secret": secret}
        with TestClient(create_app(), client=("127.0.0.1", 50000)) as http:

            def call(action: str, **params: object) -> Callable[[], object]:
                def go() -> object:
                    body = http.post("/includes/api.php", data={"action": action, **auth, **params}).json()
                    assert body["result"] == "success", body
                    return body

                return go

            baseline = _median_ms(lambda: http.get("/healthz"))
            cases = {
                "GetTicketPredefinedCats (empty)": call("GetTicketPredefinedCats"),
                "GetTickets first page": call("GetTickets"),
                "GetTickets page 500": call("GetTickets", limitstart=12_500),
                "GetTickets Awaiting Reply": call("GetTickets", status="Awaiting Reply"),
                "GetTickets by email": call("GetTickets", email="guest7@example.org"),
                f"GetTicket ({REPLIES_ON_ONE} replies)": call("GetTicket", ticketid=1),
                "GetTicketCounts": call("GetTicketCounts", includeCountsByStatus=1),
            }
            print(f"{'case':34} {'median ms':>10} {'x healthz':>10}")
            print(f"{'/healthz (baseline)':34} {baseline:10.2f} {1:10.1f}")
            for name, fn in cases.items():
                ms = _median_ms(fn)
                print(f"{name:34} {ms:10.2f} {ms / baseline:10.1f}")
        started = time.perf_counter()
        for n in range(MAILS):
            raw = (
                f"From: Person {n} <p{n}@example.org>\r\nTo: dept1@example.net\r\nSubject: Mail {n}\r\n"
                f"Message-ID: <bench-{n}@example.org>\r\nContent-Type: text/plain\r\n\r\nHelp {n}\r\n"
            ).encode()
            with UnitOfWork(factory) as uow:
                assert import_message(uow, raw).imported
                uow.commit()
        elapsed = time.perf_counter() - started
        print(f"e-mail import: {MAILS / elapsed:.0f} messages/s ({elapsed / MAILS * 1000:.1f} ms each)")


if __name__ == "__main__":
    run()
