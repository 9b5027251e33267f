"""Run every benchmark and print its figures as ratios against an in-run baseline."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="run one benchmark by name")
    args = parser.parse_args(argv)
    import importlib

    # Modules are imported only when their benchmark runs: one missing or broken
    # benchmark does not stop the others being run alone.
    benchmarks = {"api_clients": "bench.api_clients", "webhooks": "bench.webhooks"}
    for name, module in benchmarks.items():
        if args.only and args.only != name:
            continue
        importlib.import_module(module).run()
    return 0
