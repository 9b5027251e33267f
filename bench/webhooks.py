"""Webhook delivery: deliveries per second from one worker, and commit-to-receipt latency.

The baseline is the same loopback receiver hit by plain httpx POSTs from the same thread
pool size, without the database: the ratio shows what the outbox, signing and bookkeeping
cost. Run with ``python -m bench --only webhooks``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "1000"))
LATENCY_EVENTS = int(os.environ.get("BENCH_WEBHOOK_LATENCY_EVENTS", "200"))


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.arrivals.setdefault(self.headers.get("webhook-id", ""), time.perf_counter())
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _baseline(url: str, count: int, concurrency: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with httpx.Client(trust_env=False) as client, ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: client.post(url, content=b"{}", headers={"webhook-id": f"b{i}"}),
                      range(count)))
        return count / (time.perf_counter() - started)


def run() -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="billow-bench-webhooks-"))
    # BENCH_DATABASE_URL names an empty PostgreSQL database to measure there instead.
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'b.db'}"
    os.environ.update(BILLOW_DATA_DIR=str(workdir), BILLOW_DATABASE_URL=url,
                      BILLOW_SECRET_KEY="bench", BILLOW_WEBHOOK_ALLOW_PRIVATE="1")
    from billow.config import get_settings, reset_settings

    reset_settings()
    from billow.db.engine import session_factory
    from billow.db.migrate import upgrade
    from billow.services.events import webhook_endpoints
    from billow.uow import UnitOfWork
    from billow.worker import Worker

    upgrade(get_settings().resolved_database_url())
    factory = session_factory()
    receiver = _Receiver()
    try:
        with UnitOfWork(factory) as uow:
            webhook_endpoints.add_endpoint(uow, receiver.url, [])
            uow.commit()
        base_rate = _baseline(receiver.url, EVENTS, get_settings().webhook_concurrency)
        receiver.arrivals.clear()

        # Throughput: a backlog of committed events, drained by one worker.
        with UnitOfWork(factory) as uow:
            for n in range(EVENTS):
                uow.emit("ClientEdit", {"userid": n % 100, "n": n}, resource_type="client",
                         resource_id=n % 100)
            uow.commit()
        with Worker(factory) as worker:
            started = time.perf_counter()
            while len(receiver.arrivals) < EVENTS and time.perf_counter() - started < 300:
                worker.run_once()
            elapsed = time.perf_counter() - started
        rate = len(receiver.arrivals) / elapsed

        # Latency: events committed one by one; first with the worker in this process (woken
        # by the commit), then with `billow worker` as a separate process polling every 10 ms.
        worker = Worker(factory)
        thread = threading.Thread(target=worker.run_forever, kwargs={"interval": 0.01}, daemon=True)
        thread.start()
        in_process = _latencies(factory, receiver)
        worker.stop()
        thread.join(timeout=10)
        worker.close()
        proc = subprocess.Popen([sys.executable, "-m", "billow.cli", "worker", "--interval", "0.01"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _latencies(factory, receiver, count=1, gap=0.0)      # wait until it is up
            separate = _latencies(factory, receiver)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        receiver.close()
    backend = url.split(":", 1)[0]
    print(f"webhooks [{backend}]: {rate:.0f} deliveries/s from one worker ({EVENTS} events, 100 resources); "
          f"baseline plain POSTs {base_rate:.0f}/s; ratio {rate / base_rate:.2f}")
    figures = {"deliveries_per_s": rate, "baseline_per_s": base_rate}
    for label, latencies in (("in-process worker", in_process), ("separate worker process", separate)):
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"webhooks [{backend}]: commit-to-receipt latency, {label}: p50 {p50:.1f} ms, "
              f"p99 {p99:.1f} ms ({len(latencies)}/{LATENCY_EVENTS} events)")
        figures[f"{label} p50_ms"], figures[f"{label} p99_ms"] = p50, p99
    return figures


def _latencies(factory: object, receiver: _Receiver, count: int = LATENCY_EVENTS,
               gap: float = 0.005) -> list[float]:
    """Commit *count* events one by one; milliseconds from each commit to its receipt."""
    from billow.db.models import OutboxEvent
    from billow.uow import UnitOfWork

    committed: dict[str, float] = {}
    for n in range(count):
        with UnitOfWork(factory) as uow:  # type: ignore[arg-type]
            uow.emit("ClientClose", {"userid": n}, resource_type="client", resource_id=n)
            uow.session.flush()
            event_uuid = uow.session.query(OutboxEvent.uuid).order_by(OutboxEvent.id.desc()).first()[0]
            uow.commit()
            committed[event_uuid] = time.perf_counter()
        time.sleep(gap)
    deadline = time.perf_counter() + 60
    while len(set(committed) & set(receiver.arrivals)) < count and time.perf_counter() < deadline:
        time.sleep(0.005)
    return sorted((receiver.arrivals[u] - t) * 1000 for u, t in committed.items() if u in receiver.arrivals)
