"""Run every benchmark and print its figures as ratios against an in-run baseline."""

from __future__ import annotations

import argparse

#: Benchmark modules under ``bench/``; each has ``run()`` printing its ratios.
BENCHMARKS = ("orders",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="run one benchmark by name")
    args = parser.parse_args(argv)
    import importlib

    for name in BENCHMARKS:
        if args.only and args.only != name:
            continue
        importlib.import_module(f"bench.{name}").run()
    return 0
