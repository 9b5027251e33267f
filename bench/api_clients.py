"""Throughput of GetClients and AddClient through the real HTTP server, against a bare endpoint.

One run: a temporary SQLite database (or, with ``BENCH_DATABASE_URL`` naming a PostgreSQL
server, a throwaway database there) gets 100,000 clients (bulk insert through SQLAlchemy
Core), ``billow serve`` starts on a free port in its own process, and a few concurrent
httpx clients in this process hammer, for a fixed time each, in interleaved rounds:

- ``/healthz``: the bare endpoint, served by the same uvicorn + FastAPI stack;
- ``GetClients`` with ``limitnum=25`` (authentication, allow-list, role check, the paged
  query with its count, the API log row: everything a real call does);
- ``GetClients deep``: the same with ``limitstart`` spread over all 100,000 clients (no
  target; deep OFFSETs cost the database more, so it is shown beside);
- ``AddClient`` without a client password (so argon2 does not dominate the figure).

Each action's requests/second is printed as a ratio to the bare endpoint's measured in
the same round (the median over the rounds), so the figures compare across machines and
survive a change of load on a shared machine during the run. Targets: GetClients >= 40%,
AddClient >= 20%. The server has one process; the load generator is this process, so on
a two-core machine each gets about a core.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

CLIENTS = 100_000
CONCURRENCY = 8
ROUNDS = 5
DURATION = 3.0
WARMUP = 0.5
TARGETS = {"GetClients": 0.40, "AddClient": 0.20}
SECRET_KEY = "bench-secret-key"
FORM = {"content-type": "application/x-www-form-urlencoded"}
SUCCESS = b'"result":"success"'


@dataclass
class Figure:
    name: str
    requests: int
    seconds: float
    errors: int
    #: CPU seconds the server process spent during the measured window (Linux only).
    server_cpu: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu / self.requests * 1000 if self.requests else 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _pg_database(server_url: str, name: str, *, create: bool) -> str:
    """Create (or drop) database *name* on the PostgreSQL server; return its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server_url}/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(data_dir: Path, url: str = "") -> tuple[str, str, str]:
    """Migrate a fresh database, bulk-load the clients, make a credential; return the URL."""
    url = url or f"sqlite:///{(data_dir / 'billow.db').as_posix()}"
    os.environ.update(BILLOW_DATA_DIR=str(data_dir), BILLOW_DATABASE_URL=url,
                      BILLOW_SECRET_KEY=SECRET_KEY)
    from billow.config import reset_settings

    reset_settings()
    from billow.db.migrate import upgrade

    upgrade(url)
    from billow.db.engine import session_factory
    from billow.services.access import admins, credentials, ip_allow_list
    from billow.uow import UnitOfWork

    with UnitOfWork(session_factory()) as uow:
        admins.create_admin(uow, "bench", "bench-password-1")
        ip_allow_list.add_allowed_ip(uow, "127.0.0.1", note="bench")
        new = credentials.create_credential(uow, "bench", description="bench")
        uow.commit()
    _bulk_clients(url, CLIENTS)
    return url, new.identifier, new.secret


def _bulk_clients(url: str, count: int) -> None:
    """Insert *count* clients in a few executemany batches (Core, not the ORM)."""
    from sqlalchemy import insert

    from billow.db.engine import engine_for
    from billow.db.models import Client, Currency
    from billow.services.clients.accounts import default_currency
    from billow.uow import UnitOfWork

    engine = engine_for(url)
    from billow.db.engine import session_factory

    with UnitOfWork(session_factory(engine)) as uow:
        currency_id = default_currency(uow).id
        uow.commit()
    assert currency_id and Currency
    batch = 10_000
    started = time.perf_counter()
    with engine.begin() as conn:
        for offset in range(0, count, batch):
            rows = [
                {"firstname": f"First{i}", "lastname": f"Last{i}", "companyname": "",
                 "email": f"client{i}@bench.example", "address1": f"{i} Bench Road",
                 "city": "Benchton", "state": "Benchshire", "postcode": "BE1 1NC",
                 "country": "GB", "phonenumber": "+441234567890", "currency_id": currency_id}
                for i in range(offset, min(offset + batch, count))
            ]
            conn.execute(insert(Client), rows)
    # Measure the steady state a live database reaches (autovacuum / planner statistics),
    # not the moment right after a bulk load.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE clients" if engine.dialect.name == "postgresql"
                             else "ANALYZE")
    print(f"  loaded {count:,} clients in {time.perf_counter() - started:.1f}s", flush=True)
    engine.dispose()


def _start_server(data_dir: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BILLOW_DATA_DIR": str(data_dir), "BILLOW_DATABASE_URL": url,
           "BILLOW_SECRET_KEY": SECRET_KEY}
    billow = Path(sys.executable).with_name("billow")
    command = [str(billow)] if billow.exists() else [sys.executable, "-m", "billow.cli"]
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("billow serve exited: " + process.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("billow serve did not start in 30 s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_PID = 0


async def _hammer(name: str, base: str, make_request: Any, duration: float) -> Figure:
    """Run CONCURRENCY clients, each with its own keep-alive connection, for *duration*."""
    counter = itertools.count()
    done = errors = 0
    measuring = False

    async def worker() -> None:
        nonlocal done, errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while not stop.is_set():
                method, path, data = make_request(next(counter))
                # Keep the load generator light (pre-encoded body, no JSON parsing) so the
                # figures measure the server rather than this process.
                body = urlencode(data).encode() if data else None
                response = await client.request(method, path, content=body, headers=FORM if body else None)
                ok = response.status_code == 200 and (
                    path == "/healthz" or SUCCESS in response.content)
                if measuring:
                    done += 1
                    errors += 0 if ok else 1
                if not ok and errors == 1:
                    print(f"  {name} failed: {response.status_code} {response.text[:200]}")

    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker()) for _ in range(CONCURRENCY)]
    await asyncio.sleep(WARMUP)
    measuring, started, cpu = True, time.perf_counter(), _cpu_seconds(SERVER_PID)
    await asyncio.sleep(duration)
    elapsed = time.perf_counter() - started
    measuring = False
    cpu = _cpu_seconds(SERVER_PID) - cpu
    stop.set()
    await asyncio.gather(*tasks)
    return Figure(name, done, elapsed, errors, cpu)


def _measure(base: str, identifier: str, secret: str, duration: float) -> list[list[Figure]]:
    auth = {"identifier": identifier, "secret": secret, "responsetype": "json"}

    def bare(_: int) -> tuple[str, str, None]:
        return "GET", "/healthz", None

    def get_clients(_: int) -> tuple[str, str, dict[str, Any]]:
        return "POST", "/includes/api.php", {**auth, "action": "GetClients", "limitnum": "25"}

    def get_clients_deep(i: int) -> tuple[str, str, dict[str, Any]]:
        # Pages spread over the whole table: OFFSET makes the database step over every
        # skipped row, so this is the costliest way to call GetClients.
        return "POST", "/includes/api.php", {**auth, "action": "GetClients", "limitnum": "25",
                                             "limitstart": str((i * 7919 * 25) % CLIENTS)}

    def add_client(i: int) -> tuple[str, str, dict[str, Any]]:
        return "POST", "/includes/api.php", {
            **auth, "action": "AddClient", "firstname": "Bench", "lastname": f"Client{i}",
            "email": f"new{i}-{time.monotonic_ns()}@bench.example", "address1": "1 Load Street",
            "city": "Benchton", "state": "Benchshire", "postcode": "BE1 1NC", "country": "GB",
            "phonenumber": "+44 1234 567890", "noemail": "true"}

    async def run_all() -> list[list[Figure]]:
        # Interleave the endpoints in rounds so a change in the machine's load during the
        # run hits all three alike; each round's ratios use that round's bare figure.
        return [[await _hammer(name, base, make, duration)
                 for name, make in (("bare /healthz", bare), ("GetClients", get_clients),
                                    ("GetClients deep", get_clients_deep),
                                    ("AddClient", add_client))]
                for _ in range(ROUNDS)]

    return asyncio.run(run_all())


def run(clients: int | None = None, duration: float | None = None) -> dict[str, float]:
    """Run the benchmark end to end and print the figures; return the ratios."""
    global CLIENTS
    CLIENTS = clients or int(os.environ.get("BENCH_CLIENTS", CLIENTS))
    seconds = duration or float(os.environ.get("BENCH_SECONDS", DURATION))
    print(f"api_clients: {CLIENTS:,} clients, {CONCURRENCY} concurrent clients, "
          f"{ROUNDS} rounds of {seconds:.0f}s per endpoint")
    # BENCH_DATABASE_URL names a PostgreSQL server; a throwaway database is made there.
    server_url = os.environ.get("BENCH_DATABASE_URL", "").rstrip("/")
    pg_name = f"billow_bench_{os.getpid()}" if server_url else ""
    print(f"  database: {'PostgreSQL ' + pg_name if pg_name else 'SQLite (temporary file)'}")
    with tempfile.TemporaryDirectory(prefix="billow-bench-") as tmp:
        data_dir = Path(tmp)
        url = _pg_database(server_url, pg_name, create=True) if pg_name else ""
        try:
            url, identifier, secret = _prepare(data_dir, url)
            port = _free_port()
            server = _start_server(data_dir, url, port)
            global SERVER_PID
            SERVER_PID = server.pid
            try:
                rounds = _measure(f"http://127.0.0.1:{port}", identifier, secret, seconds)
            finally:
                server.terminate()
                server.wait(timeout=15)
        finally:
            if pg_name:
                from billow.db.engine import engine_for

                engine_for(url).dispose()
                _pg_database(server_url, pg_name, create=False)
    ratios: dict[str, float] = {}
    print(f"  {'endpoint':<16} {'req/s (median)':>15} {'ratio (median)':>15} {'per round':>24} "
          f"{'target':>7}  errors")
    for column in range(len(rounds[0])):
        row = [r[column] for r in rounds]
        per_round = [f.rate / r[0].rate if r[0].rate else 0.0 for f, r in zip(row, rounds, strict=True)]
        ratio = statistics.median(per_round)
        name, target = row[0].name, TARGETS.get(row[0].name)
        verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
        ratios[name] = ratio
        print(f"  {name:<16} {statistics.median(f.rate for f in row):>15.0f} {ratio:>15.1%} "
              f"{' '.join(f'{x:.0%}' for x in per_round):>24} "
              f"{'' if target is None else f'{target:.0%}':>7}  {sum(f.errors for f in row)} {verdict}")
    print("  server CPU per request (ms, median): " + ", ".join(
        f"{rounds[0][c].name} {statistics.median(r[c].cpu_ms_per_request for r in rounds):.2f}"
        for c in range(len(rounds[0]))))
    return ratios
