"""Run every benchmark and print its figures as ratios against an in-run baseline."""

from __future__ import annotations

import argparse
import importlib

#: Benchmark name -> module with a ``run()`` function.
BENCHMARKS = {
    "api_clients": "bench.api_clients",
    "billing": "bench.billing",
    "webhooks": "bench.webhooks",
    "orders": "bench.orders",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="run one benchmark by name")
    args = parser.parse_args(argv)
    for name, module in BENCHMARKS.items():
        if args.only and args.only != name:
            continue
        importlib.import_module(module).run()
    return 0
