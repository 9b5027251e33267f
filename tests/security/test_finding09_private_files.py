"""Issue 12, finding 9: the data directory is 0700, the database (with its -wal and -shm)
and ticket attachments are owner-only, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from billow.config import reset_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)
        reset_settings()


def test_database_files_and_data_directory_are_owner_only(tmp_path: Path, loose_umask: None) -> None:
    from billow.db.engine import make_engine

    data_dir = tmp_path / "var"
    engine = make_engine(f"sqlite:///{(data_dir / 'billow.db').as_posix()}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:  # the WAL files exist while a connection is open
        conn.execute(text("SELECT * FROM t")).all()
        files = [data_dir / n for n in ("billow.db", "billow.db-wal", "billow.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(data_dir) == 0o700
    engine.dispose()


def test_existing_loose_database_is_tightened(tmp_path: Path, loose_umask: None) -> None:
    from billow.db.engine import make_engine

    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    (data_dir / "billow.db").touch(mode=0o644)
    make_engine(f"sqlite:///{(data_dir / 'billow.db').as_posix()}").dispose()
    assert (_mode(data_dir), _mode(data_dir / "billow.db")) == (0o700, 0o600)


def test_attachments_are_owner_only(tmp_path: Path, loose_umask: None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from billow.services.support import attachment_files

    monkeypatch.setenv("BILLOW_ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    reset_settings()
    name = attachment_files.new_stored_name("report.txt")
    attachment_files.write_file(name, b"secret")
    assert _mode(tmp_path / "attachments") == 0o700
    assert _mode(tmp_path / "attachments" / name) == 0o600


def test_quickstart_credentials_file_is_owner_only(tmp_path: Path, loose_umask: None, uow: object,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from billow.demo import ensure_quickstart_access

    monkeypatch.setenv("BILLOW_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    access = ensure_quickstart_access(uow)  # type: ignore[arg-type]
    assert (_mode(access.saved_to.parent), _mode(access.saved_to)) == (0o700, 0o600)
