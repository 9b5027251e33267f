"""Run every benchmark and print its figures as ratios against an in-run baseline."""

from __future__ import annotations

import argparse
import importlib

#: Benchmark name -> module under ``bench`` whose ``run()`` measures and prints. Imported
#: only when run, so one benchmark's dependencies never stop the others from loading.
BENCHMARKS = {
    "api_clients": "bench.api_clients",
    "billing": "bench.billing",
    "webhooks": "bench.webhooks",
    "orders": "bench.orders",
    "support_tickets": "bench.support_tickets",
    "automation": "bench.automation",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="run one benchmark by name", choices=sorted(BENCHMARKS))
    args = parser.parse_args(argv)
    for name, module in BENCHMARKS.items():
        if args.only and args.only != name:
            continue
        importlib.import_module(module).run()
    return 0
