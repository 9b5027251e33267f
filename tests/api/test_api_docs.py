"""docs/api.md lists exactly the registered actions (regenerate it with `make docs`)."""

from __future__ import annotations

import re
from pathlib import Path

from billow.api import docs
from billow.api.actions import build_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _generated_block() -> str:
    text = DOC.read_text()
    assert docs.START in text and docs.END in text, "the action list markers are missing"
    return text.split(docs.START, 1)[1].split(docs.END, 1)[0]


def test_doc_lists_every_registered_action() -> None:
    listed = set(re.findall(r"^\| `([A-Za-z]+)` \|", _generated_block(), flags=re.MULTILINE))
    registered = {action.name for action in build_table()}
    assert registered - listed == set(), "actions missing from docs/api.md: run `make docs`"
    assert listed - registered == set(), "docs/api.md lists actions that do not exist: run `make docs`"


def test_doc_block_is_what_the_generator_writes(tmp_path: Path) -> None:
    copy = tmp_path / "api.md"
    copy.write_text(DOC.read_text())
    assert docs.update(copy) is False, "docs/api.md is stale: run `make docs`"
    assert docs.render().startswith(docs.START) and docs.render().endswith(docs.END)
