"""Billing benchmark: AddInvoicePayment throughput and GetInvoices over 100,000 invoices.

Everything goes through a real uvicorn server in its own process, over HTTP, the way an
integration calls the API. Absolute numbers depend on the machine, so each figure is
reported as a ratio to the bare ``/healthz`` endpoint measured in the same run against
the same server: ``ratio = action requests per second / healthz requests per second``
(1.0 would mean the action costs no more than an empty request).

Run: ``python -m bench --only billing`` (``BILLOW_BENCH_INVOICES`` changes the 100,000;
``BILLOW_BENCH_DATABASE`` points at a PostgreSQL server URL instead of a SQLite file).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx

INVOICES = int(os.environ.get("BILLOW_BENCH_INVOICES", "100000"))
HEALTHZ_REQUESTS = 1500
LIST_REQUESTS = 300
PAYMENT_REQUESTS = 300
SECRET_KEY = "bench-secret-key"


@dataclass
class Figure:
    name: str
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(url: str, count: int) -> tuple[str, str, list[int]]:
    """Migrate, create a credential and *count* unpaid invoices; returns (id, secret, invoice ids)."""
    from sqlalchemy import insert, select, text

    from billow.config import reset_settings
    from billow.db.engine import session_factory
    from billow.db.migrate import upgrade
    from billow.db.models import Invoice, InvoiceItem
    from billow.services.access import admins, credentials, ip_allow_list
    from billow.services.clients.accounts import ClientInput, add_client
    from billow.uow import UnitOfWork

    reset_settings()
    upgrade(url)
    with UnitOfWork(session_factory()) as uow:
        admins.create_admin(uow, "bench", "bench password 123", email="bench@example.com")
        ip_allow_list.add_allowed_ip(uow, "127.0.0.1/32", note="bench")
        credential = credentials.create_credential(uow, "bench")
        clients = [add_client(uow, ClientInput(values={
            "firstname": "Bench", "lastname": f"Client {n}", "email": f"bench{n}@example.com",
            "country": "US",
        }), skip_validation=True) for n in range(50)]
        uow.session.flush()
        currency_id = clients[0].currency_id
        now = datetime.now(UTC)
        rows, items = [], []
        for n in range(count):
            rows.append({
                "id": n + 1, "client_id": clients[n % len(clients)].id, "invoicenum": "",
                "date": date(2026, 1, 1), "duedate": date(2026, 1, 8), "subtotal": Decimal("15.95"),
                "credit": Decimal(0), "tax": Decimal(0), "tax2": Decimal(0), "total": Decimal("15.95"),
                "taxrate": Decimal(0), "taxrate2": Decimal(0), "status": "Unpaid",
                "paymentmethod": "banktransfer", "notes": "", "currency_id": currency_id, "tax_note": "",
                "created_at": now, "updated_at": now,
            })
            items.append({"invoice_id": n + 1, "client_id": rows[-1]["client_id"], "type": "Hosting",
                          "relid": n + 1, "description": "Bench plan", "amount": Decimal("15.95"),
                          "taxed": False, "paymentmethod": "banktransfer", "notes": ""})
            if len(rows) == 5000:
                uow.session.execute(insert(Invoice), rows)
                uow.session.execute(insert(InvoiceItem), items)
                rows, items = [], []
        if rows:
            uow.session.execute(insert(Invoice), rows)
            uow.session.execute(insert(InvoiceItem), items)
        uow.commit()
        engine = uow.session.get_bind()
        if engine.dialect.name == "postgresql":
            uow.session.execute(text("SELECT setval('invoices_id_seq', (SELECT max(id) FROM invoices))"))
            uow.commit()
        # Measure the steady state autovacuum/ANALYZE would reach, not a just-loaded table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        newest = select(Invoice.id).order_by(Invoice.id.desc()).limit(PAYMENT_REQUESTS)
        ids = list(uow.session.scalars(newest))
    return credential.identifier, credential.secret, ids


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "billow.api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("uvicorn did not start")


def _measure(name: str, count: int, send) -> Figure:  # type: ignore[no-untyped-def]
    for n in range(min(20, count)):  # warm-up: connection, caches, first-use imports
        send(-1 - n)
    started = time.perf_counter()
    for n in range(count):
        send(n)
    return Figure(name, count, time.perf_counter() - started)


def run() -> dict[str, float]:
    """Run the benchmark and print one JSON line of figures; returns the ratios."""
    with tempfile.TemporaryDirectory(prefix="billow-bench-") as tmp:
        data_dir = Path(tmp)
        server_url = os.environ.get("BILLOW_BENCH_DATABASE", "")
        if server_url:
            from sqlalchemy import create_engine, text

            name = f"billow_bench_{os.getpid()}"
            admin = create_engine(server_url.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = server_url.rstrip("/") + "/" + name
        else:
            url = f"sqlite:///{(data_dir / 'bench.db').as_posix()}"
        env = {**os.environ, "BILLOW_DATABASE_URL": url, "BILLOW_DATA_DIR": str(data_dir),
               "BILLOW_SECRET_KEY": SECRET_KEY, "BILLOW_HOOKS_DIR": str(data_dir / "hooks")}
        for key in ("BILLOW_DATABASE_URL", "BILLOW_DATA_DIR", "BILLOW_SECRET_KEY"):
            os.environ[key] = env[key]
        seed_started = time.perf_counter()
        identifier, secret, payable = _seed(url, INVOICES)
        seed_seconds = time.perf_counter() - seed_started
        port = _free_port()
        server = _start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=30) as http:
                auth = {"identifier": identifier, "secret": secret, "responsetype": "json"}

                def healthz(_: int) -> None:
                    assert http.get("/healthz").status_code == 200

                def get_invoices(n: int) -> None:
                    body = http.post("/includes/api.php", data={
                        **auth, "action": "GetInvoices", "limitnum": "25",
                        "limitstart": str(max(n, 0) * 25 % INVOICES)}).json()
                    assert body["result"] == "success" and body["totalresults"] == INVOICES, body

                def add_payment(n: int) -> None:
                    invoice_id = payable[n % len(payable)]
                    body = http.post("/includes/api.php", data={
                        **auth, "action": "AddInvoicePayment", "invoiceid": str(invoice_id),
                        "transid": f"bench-{n}", "gateway": "banktransfer", "amount": "0.05",
                        "date": "2026-01-02 10:00:00", "noemail": "1"}).json()
                    assert body["result"] == "success", body

                base_figure = _measure("healthz", HEALTHZ_REQUESTS, healthz)
                list_figure = _measure("GetInvoices", LIST_REQUESTS, get_invoices)
                pay_figure = _measure("AddInvoicePayment", PAYMENT_REQUESTS, add_payment)
                again = _measure("healthz", HEALTHZ_REQUESTS, healthz)
        finally:
            server.terminate()
            server.wait(timeout=30)
            if server_url:
                from sqlalchemy import create_engine, text

                from billow.db.engine import engine_for

                engine_for(url).dispose()
                admin = create_engine(server_url.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    baseline = (base_figure.per_second + again.per_second) / 2
    ratios = {
        "GetInvoices_ratio": round(list_figure.per_second / baseline, 4),
        "AddInvoicePayment_ratio": round(pay_figure.per_second / baseline, 4),
    }
    print(json.dumps({
        "benchmark": "billing", "database": url.split(":", 1)[0], "invoices": INVOICES,
        "seed_seconds": round(seed_seconds, 1),
        "healthz_rps": round(baseline, 1), "GetInvoices_rps": round(list_figure.per_second, 1),
        "AddInvoicePayment_rps": round(pay_figure.per_second, 1), **ratios,
    }))
    return ratios


if __name__ == "__main__":
    run()
