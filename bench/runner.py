"""Run every benchmark and print its figures as ratios against an in-run baseline."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="run one benchmark by name")
    args = parser.parse_args(argv)
    from bench import api_clients

    benchmarks = {"api_clients": api_clients.run}
    for name, run in benchmarks.items():
        if args.only and args.only != name:
            continue
        run()
    return 0
