"""Benchmark of the daily run's invoice generation at 10,000 and 100,000 services.

For each size a child process builds a fresh SQLite book with bulk inserts (one service
in ten per client, all due the same day), runs the ``CreateInvoices`` task through the
real runner (``run_cron(only="CreateInvoices")``) and measures its wall time and peak
memory (the process's resident-set high-water mark, reset just before the task). The
baseline, in the same process, writes the same invoice and item rows again with plain
bulk ``INSERT``s (one ``executemany`` per table): the ratio says what the business rules,
events, idempotency keys and per-client transactions cost over the raw writes.

    python -m bench --only automation                 # 10k and 100k services
    python -m bench.automation --services 20000       # one size, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

SIZES = (10_000, 100_000)
SERVICES_PER_CLIENT = 10
DUE = date(2027, 3, 15)


def _peak_reset() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) of this process.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return


def _mem(field: str) -> int:
    """A /proc/self/status memory figure in bytes (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def _build(url: str, services: int) -> None:
    from sqlalchemy import insert

    from billow.db.engine import engine_for
    from billow.db.models import Client, Currency, Product, ProductGroup, Service

    engine = engine_for(url)
    clients = max(services // SERVICES_PER_CLIENT, 1)
    with engine.begin() as conn:
        conn.execute(insert(Currency), [{"code": "USD", "prefix": "$", "is_default": True}])
        conn.execute(insert(ProductGroup), [{"name": "Hosting"}])
        conn.execute(insert(Product), [
            {"gid": 1, "type": "hostingaccount", "name": "Shared", "servertype": ""}])
        for start in range(0, clients, 5000):
            conn.execute(insert(Client), [
                {"firstname": "Bench", "lastname": f"Client {n}", "email": f"bench{n}@example.com",
                 "currency_id": 1, "country": "US"}
                for n in range(start + 1, min(start + 5000, clients) + 1)])
        for start in range(0, services, 10000):
            conn.execute(insert(Service), [
                {"userid": (n % clients) + 1, "packageid": 1, "billingcycle": "Monthly",
                 "amount": f"{5 + n % 20}.00", "firstpaymentamount": "5.00", "nextduedate": DUE,
                 "nextinvoicedate": DUE, "status": "Active", "regdate": date(2026, 3, 15),
                 "domain": f"site{n}.example"}
                for n in range(start, min(start + 10000, services))])


def _baseline(url: str) -> tuple[float, float, int, int]:
    """Write the same invoice and item rows again with one bulk INSERT per table."""
    from sqlalchemy import insert, select

    from billow.db.engine import engine_for
    from billow.db.models import Invoice, InvoiceItem

    engine = engine_for(url)
    with engine.connect() as conn:
        invoices = [dict(r._mapping) for r in conn.execute(select(Invoice.__table__))]
        items = [dict(r._mapping) for r in conn.execute(select(InvoiceItem.__table__))]
    for row in invoices + items:
        row.pop("id")
    started, cpu_started = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        conn.execute(insert(Invoice), invoices)
        conn.execute(insert(InvoiceItem), items)
    return time.perf_counter() - started, time.process_time() - cpu_started, len(invoices), len(items)


def measure(services: int) -> dict[str, float | int]:
    """Build a book of *services* in a fresh database and time the invoice generation."""
    workdir = tempfile.mkdtemp(prefix="billow-bench-")
    url = f"sqlite:///{workdir}/bench.db"
    os.environ.update(BILLOW_DATABASE_URL=url, BILLOW_DATA_DIR=workdir,
                      BILLOW_SECRET_KEY="bench-secret", BILLOW_HOOKS_DIR=f"{workdir}/hooks")
    from billow.config import reset_settings
    from billow.db.engine import session_factory
    from billow.db.migrate import upgrade

    reset_settings()
    upgrade(url)
    build_started = time.perf_counter()
    _build(url, services)
    build_seconds = time.perf_counter() - build_started

    from billow.automation.runner import run_cron
    from billow.automation.tasks import load_tasks
    from billow.bootstrap import wire

    # Import everything the task touches first: module imports are not invoicing time.
    load_tasks()
    wire()
    rss_before = _mem("VmRSS")
    _peak_reset()
    started, cpu_started = time.perf_counter(), time.process_time()
    report = run_cron(session_factory(), as_of=DUE - timedelta(days=14), only="CreateInvoices")
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak = _mem("VmHWM")
    result = report.result("CreateInvoices")
    assert result is not None and result.status == "completed" and result.failed == 0, result
    baseline, baseline_cpu, invoices, items = _baseline(url)
    return {
        "services": services,
        "clients": max(services // SERVICES_PER_CLIENT, 1),
        "invoices": invoices,
        "items": items,
        "build_seconds": round(build_seconds, 2),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "services_per_second": round(services / seconds, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "baseline_seconds": round(baseline, 3),
        "baseline_cpu_seconds": round(baseline_cpu, 3),
        "ratio_to_bulk_insert": round(seconds / baseline, 1) if baseline else 0.0,
        # CPU time is what this process itself spent: steadier than wall time when other
        # work shares the machine, and SQLite runs in-process, so it includes the database.
        "cpu_ratio_to_bulk_insert": round(cpu_seconds / baseline_cpu, 1) if baseline_cpu else 0.0,
    }


def _child(services: int) -> dict[str, float | int]:
    out = subprocess.run([sys.executable, "-m", "bench.automation", "--services", str(services)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, float | int]]:
    """Measure each size in its own process (clean memory figures) and print the table."""
    results = [_child(n) for n in sizes]
    print("automation: CreateInvoices over a book due the same day (SQLite)")
    print(f"{'services':>9} {'invoices':>9} {'seconds':>8} {'cpu s':>7} {'svc/s':>8} {'peak MB':>8} "
          f"{'bulk SQL s':>10} {'bulk cpu s':>10} {'ratio':>6} {'cpu ratio':>9}")
    for r in results:
        print(f"{r['services']:>9} {r['invoices']:>9} {r['seconds']:>8} {r['cpu_seconds']:>7} "
              f"{r['services_per_second']:>8} {r['peak_rss_mb']:>8} {r['baseline_seconds']:>10} "
              f"{r['baseline_cpu_seconds']:>10} {r['ratio_to_bulk_insert']:>5}x "
              f"{r['cpu_ratio_to_bulk_insert']:>8}x")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = float(large["seconds"]) / float(small["seconds"]) if small["seconds"] else 0.0
        print(f"growth {large['services']}/{small['services']} services: {growth:.1f}x time "
              f"(linear would be {int(large['services']) / int(small['services']):.0f}x)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.automation")
    parser.add_argument("--services", type=int, help="measure one size and print JSON")
    args = parser.parse_args()
    if args.services:
        print(json.dumps(measure(args.services)))
    else:
        run()


if __name__ == "__main__":
    main()
