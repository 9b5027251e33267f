"""Webhook delivery: deliveries per second from one worker, and commit-to-receipt latency.

The baseline is the same loopback receiver hit by plain httpx POSTs from the same thread
pool size, without the database: the ratio shows what the outbox, signing and bookkeeping
cost. Run with ``python -m bench --only webhooks``.
"""

from __future__ import annotations

import os
import statistics
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
    from billow.services import webhooks
    from billow.uow import UnitOfWork
    from billow.worker import Worker

    upgrade(get_settings().resolved_database_url())
    factory = session_factory()
    receiver = _Receiver()
    try:
        with UnitOfWork(factory) as uow:
            webhooks.add_endpoint(uow, receiver.url, [])
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

        # Latency: events committed one by one while a worker polls every 10 ms.
        receiver.arrivals.clear()
        committed: dict[str, float] = {}
        worker = Worker(factory)
        thread = threading.Thread(target=worker.run_forever, kwargs={"interval": 0.01}, daemon=True)
        thread.start()
        from billow.db.models import OutboxEvent

        for n in range(LATENCY_EVENTS):
            with UnitOfWork(factory) as uow:
                uow.emit("ClientClose", {"userid": n}, resource_type="client", resource_id=n)
                uow.session.flush()
                event_uuid = uow.session.query(OutboxEvent.uuid).order_by(OutboxEvent.id.desc()).first()[0]
                uow.commit()
                committed[event_uuid] = time.perf_counter()
            time.sleep(0.005)
        deadline = time.perf_counter() + 30
        while (len(set(committed) & set(receiver.arrivals)) < LATENCY_EVENTS
               and time.perf_counter() < deadline):
            time.sleep(0.01)
        worker.stop()
        thread.join(timeout=10)
        worker.close()
        latencies = sorted((receiver.arrivals[u] - t) * 1000 for u, t in committed.items()
                           if u in receiver.arrivals)
    finally:
        receiver.close()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    backend = url.split(":", 1)[0]
    print(f"webhooks [{backend}]: {rate:.0f} deliveries/s from one worker ({EVENTS} events, 100 resources); "
          f"baseline plain POSTs {base_rate:.0f}/s; ratio {rate / base_rate:.2f}")
    print(f"webhooks [{backend}]: commit-to-receipt latency p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"({len(latencies)}/{LATENCY_EVENTS} events, worker polling every 10 ms)")
    return {"deliveries_per_s": rate, "baseline_per_s": base_rate, "p50_ms": p50, "p99_ms": p99}
