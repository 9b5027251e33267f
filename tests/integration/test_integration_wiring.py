"""The pieces the areas merged must stay wired: CLI commands, benchmark registry."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from typer.main import get_command

from billow.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_billow_cli_knows_every_command():
    """``python -m billow.cli`` (what the worker test and process managers run) sees all commands.

    A ``__main__`` block left mid-file by a merge ran the app before later commands existed.
    """
    commands = sorted(get_command(app).commands)  # type: ignore[attr-defined]
    out = subprocess.run([sys.executable, "-m", "billow.cli", "--help"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for name in ("worker", "outbox", "webhook", "email", "ticket", "invoice", "cron"):
        assert name in commands and f" {name} " in out.stdout, name
    mains = sorted(p.name for p in (ROOT / "src/billow/cli").glob("*.py")
                   if 'if __name__ == "__main__":' in p.read_text())
    assert mains == ["__main__.py"]


def test_every_benchmark_module_is_registered():
    from bench.runner import BENCHMARKS

    modules = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"__init__", "__main__", "runner"}
    assert {m.rpartition(".")[2] for m in BENCHMARKS.values()} == modules
    for module in BENCHMARKS.values():
        assert callable(importlib.import_module(module).run), module
