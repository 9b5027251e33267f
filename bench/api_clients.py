"""Throughput of GetClients and AddClient through the real HTTP server, against a bare endpoint.

One run: a temporary SQLite database gets 100,000 clients (bulk insert through SQLAlchemy
Core), ``billow serve`` starts on a free port in its own process, and a few concurrent
httpx clients in this process hammer, for a fixed time each:

- ``/healthz``: the bare endpoint, served by the same uvicorn + FastAPI stack;
- ``GetClients`` with ``limitnum=25`` (authentication, allow-list, role check, the paged
  query with its count, the API log row: everything a real call does);
- ``AddClient`` without a client password (so argon2 does not dominate the figure).

Each action's requests/second is printed as a ratio to the bare endpoint's, measured in
the same run, so the figures compare across machines. Targets: GetClients >= 40%,
AddClient >= 20%. The server has one process; the load generator is this process, so on
a two-core machine each gets about a core.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CLIENTS = 100_000
CONCURRENCY = 8
DURATION = 8.0
WARMUP = 1.5
TARGETS = {"GetClients": 0.40, "AddClient": 0.20}
SECRET_KEY = "bench-secret-key"


@dataclass
class Figure:
    name: str
    requests: int
    seconds: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(data_dir: Path) -> tuple[str, str, str]:
    """Migrate a fresh database, bulk-load the clients, make a credential; return the URL."""
    url = f"sqlite:///{(data_dir / 'billow.db').as_posix()}"
    os.environ.update(BILLOW_DATA_DIR=str(data_dir), BILLOW_DATABASE_URL=url,
                      BILLOW_SECRET_KEY=SECRET_KEY)
    from billow.config import reset_settings

    reset_settings()
    from billow.db.migrate import upgrade

    upgrade(url)
    from billow.db.engine import session_factory
    from billow.services import access
    from billow.uow import UnitOfWork

    with UnitOfWork(session_factory()) as uow:
        access.create_admin(uow, "bench", "bench-password-1")
        access.add_allowed_ip(uow, "127.0.0.1", note="bench")
        new = access.create_credential(uow, "bench", description="bench")
        uow.commit()
    _bulk_clients(url, CLIENTS)
    return url, new.identifier, new.secret


def _bulk_clients(url: str, count: int) -> None:
    """Insert *count* clients in a few executemany batches (Core, not the ORM)."""
    from sqlalchemy import insert

    from billow.db.engine import engine_for
    from billow.db.models import Client, Currency
    from billow.services.clients import default_currency
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
                response = await client.request(method, path, data=data)
                ok = response.status_code == 200 and (
                    path == "/healthz" or response.json().get("result") == "success")
                if measuring:
                    done += 1
                    errors += 0 if ok else 1
                if not ok and errors == 1:
                    print(f"  {name} failed: {response.status_code} {response.text[:200]}")

    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker()) for _ in range(CONCURRENCY)]
    await asyncio.sleep(WARMUP)
    measuring, started = True, time.perf_counter()
    await asyncio.sleep(duration)
    elapsed = time.perf_counter() - started
    measuring = False
    stop.set()
    await asyncio.gather(*tasks)
    return Figure(name, done, elapsed, errors)


def _measure(base: str, identifier: str, secret: str, duration: float) -> list[Figure]:
    auth = {"identifier": identifier, "secret": secret, "responsetype": "json"}

    def bare(_: int) -> tuple[str, str, None]:
        return "GET", "/healthz", None

    def get_clients(i: int) -> tuple[str, str, dict[str, Any]]:
        return "POST", "/includes/api.php", {**auth, "action": "GetClients", "limitnum": "25",
                                             "limitstart": str((i * 25) % CLIENTS)}

    def add_client(i: int) -> tuple[str, str, dict[str, Any]]:
        return "POST", "/includes/api.php", {
            **auth, "action": "AddClient", "firstname": "Bench", "lastname": f"Client{i}",
            "email": f"new{i}-{time.monotonic_ns()}@bench.example", "address1": "1 Load Street",
            "city": "Benchton", "state": "Benchshire", "postcode": "BE1 1NC", "country": "GB",
            "phonenumber": "+44 1234 567890", "noemail": "true"}

    async def run_all() -> list[Figure]:
        return [await _hammer(name, base, make, duration)
                for name, make in (("bare /healthz", bare), ("GetClients", get_clients),
                                   ("AddClient", add_client))]

    return asyncio.run(run_all())


def run(clients: int | None = None, duration: float | None = None) -> dict[str, float]:
    """Run the benchmark end to end and print the figures; return the ratios."""
    global CLIENTS
    CLIENTS = clients or int(os.environ.get("BENCH_CLIENTS", CLIENTS))
    seconds = duration or float(os.environ.get("BENCH_SECONDS", DURATION))
    print(f"api_clients: {CLIENTS:,} clients, {CONCURRENCY} concurrent clients, {seconds:.0f}s each")
    with tempfile.TemporaryDirectory(prefix="billow-bench-") as tmp:
        data_dir = Path(tmp)
        url, identifier, secret = _prepare(data_dir)
        port = _free_port()
        server = _start_server(data_dir, url, port)
        try:
            figures = _measure(f"http://127.0.0.1:{port}", identifier, secret, seconds)
        finally:
            server.terminate()
            server.wait(timeout=15)
    bare = figures[0].rate
    ratios: dict[str, float] = {}
    print(f"  {'endpoint':<14} {'req/s':>9} {'ratio':>7} {'target':>7}  errors")
    for figure in figures:
        ratio = figure.rate / bare if bare else 0.0
        target = TARGETS.get(figure.name)
        verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
        ratios[figure.name] = ratio
        print(f"  {figure.name:<14} {figure.rate:>9.0f} {ratio:>7.1%} "
              f"{'' if target is None else f'{target:.0%}':>7}  {figure.errors} {verdict}")
    return ratios
