"""The one helper every command runs its service call through (``billow.cli.common``)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from billow.cli import app
from billow.cli.common import unit_of_work
from billow.db.models import Admin
from billow.errors import NotFound

runner = CliRunner()


def _admins(db: Any) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(Admin)) or 0


def test_service_error_is_one_line_on_stderr_with_exit_1(db: Any) -> None:
    result = runner.invoke(app, ["credential", "revoke", "nope"], env={"COLUMNS": "40"})
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    # One unwrapped line even on a narrow terminal, so scripts and logs keep it whole.
    assert len(lines) == 1 and lines[0].startswith("error: ") and "No credential" in lines[0]


def test_unit_of_work_commits_the_block(db: Any) -> None:
    from billow.services.access import admins as access

    with unit_of_work() as uow:
        access.create_admin(uow, "ops", "long-enough-pw")
    assert _admins(db) == 1


def test_unit_of_work_rolls_back_on_a_service_error(db: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from billow.services.access import admins as access

    with pytest.raises(typer.Exit) as stopped, unit_of_work() as uow:
        access.create_admin(uow, "ops", "long-enough-pw")
        raise NotFound("Nothing here [really]")
    assert stopped.value.exit_code == 1
    assert _admins(db) == 0
    assert capsys.readouterr().err == "error: Nothing here [really]\n"


def test_read_only_block_does_not_commit(db: Any) -> None:
    from billow.services.access import admins as access

    with unit_of_work(commit=False) as uow:
        access.create_admin(uow, "ops", "long-enough-pw")
    assert _admins(db) == 0
