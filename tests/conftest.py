"""Shared fixtures: one migrated database per test worker, emptied between tests.

``BILLOW_TEST_DATABASE`` chooses the backend: ``sqlite`` (default) or a PostgreSQL
server URL such as ``postgresql+psycopg://postgres@127.0.0.1:5432``, on which each
worker creates (and afterwards drops) its own fresh database. Migrating once per worker
and truncating between tests keeps the suite fast while every test starts empty.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billow.bootstrap import wire

# The suite calls services directly, as an entry point does: wire the areas first.
wire()

TEST_SECRET_KEY = "test-secret-key-for-billow-only"
LOCAL_IP = "127.0.0.1"


def _backend() -> str:
    return os.environ.get("BILLOW_TEST_DATABASE", "sqlite").strip() or "sqlite"


def _create_pg_database(base: str, name: str) -> str:
    admin = create_engine(base.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_url(base.rstrip("/") + "/" + name).render_as_string(hide_password=False))


def _drop_pg_database(base: str, name: str) -> None:
    admin = create_engine(base.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this test worker; its URL is in the settings."""
    from billow.config import reset_settings
    from billow.db.migrate import upgrade

    data_dir = tmp_path_factory.mktemp("billow-data")
    backend = _backend()
    pg_name = ""
    if backend == "sqlite":
        url = f"sqlite:///{(data_dir / 'billow.db').as_posix()}"
    else:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        pg_name = f"billow_test_{worker}_{uuid.uuid4().hex[:8]}"
        url = _create_pg_database(backend, pg_name)
    os.environ.update(
        BILLOW_DATABASE_URL=url,
        BILLOW_DATA_DIR=str(data_dir),
        BILLOW_SECRET_KEY=TEST_SECRET_KEY,
        BILLOW_HOOKS_DIR=str(data_dir / "hooks"),
    )
    reset_settings()
    upgrade(url)
    yield url
    from billow.db.engine import engine_for

    engine_for(url).dispose()
    if pg_name:
        _drop_pg_database(backend, pg_name)


def _truncate(url: str) -> None:
    from billow.db.base import Base
    from billow.db.engine import engine_for

    engine = engine_for(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            has_seq = conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")
            ).first()
            if has_seq:
                conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """An empty database; yields the session factory services use."""
    from billow.config import reset_settings
    from billow.db.engine import session_factory
    from billow.events import registry

    reset_settings()
    _truncate(database_url)
    registry.clear()
    yield session_factory()
    registry.clear()


@pytest.fixture
def uow(db: Any) -> Iterator[Any]:
    """A unit of work for arranging data directly through services (commit yourself)."""
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as work:
        yield work


@dataclass
class Api:
    """Calls ``/includes/api.php`` the way an integration does, with a full-access key."""

    client: Any
    identifier: str
    secret: str

    def raw(self, action: str, **params: Any) -> Any:
        data = {"action": action, "identifier": self.identifier, "secret": self.secret}
        data.update({k: v for k, v in params.items() if v is not None})
        return self.client.post("/includes/api.php", data=data)

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        response = self.raw(action, **params)
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def ok(self, action: str, **params: Any) -> dict[str, Any]:
        """Call and insist on success, showing WHMCS's message when it failed."""
        body = self.call(action, **params)
        assert body.get("result") == "success", body
        return body

    def error(self, action: str, **params: Any) -> str:
        body = self.call(action, **params)
        assert body.get("result") == "error", body
        return str(body["message"])


@pytest.fixture
def app(db: Any) -> Any:
    from billow.api.app import create_app

    return create_app()


@pytest.fixture
def http(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, client=(LOCAL_IP, 50000)) as client:
        yield client


def make_credential(db: Any, *, username: str = "apiadmin", roles: list[str] | None = None,
                    allow: tuple[str, ...] = ("127.0.0.1/32",)) -> tuple[str, str]:
    from billow.services.access import admins, credentials, ip_allow_list
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as work:
        from sqlalchemy import select

        from billow.db.models import Admin

        if work.session.scalar(select(Admin).where(Admin.username == username)) is None:
            admins.create_admin(work, username, "correct horse battery", email="a@example.com")
        for network in allow:
            ip_allow_list.add_allowed_ip(work, network, note="tests")
        new = credentials.create_credential(work, username, roles=roles)
        work.commit()
        return new.identifier, new.secret


@pytest.fixture
def api(db: Any, http: Any) -> Api:
    identifier, secret = make_credential(db)
    return Api(http, identifier, secret)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL_IP, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[str]:
    """The real ASGI server (uvicorn) on a free port; yields its base URL."""
    import uvicorn

    from billow.api.app import create_app
    from billow.cli.system import SERVER_OPTIONS

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host=LOCAL_IP, port=port,
                                           log_level="warning", **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://{LOCAL_IP}:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def data_dir(database_url: str) -> Path:
    return Path(os.environ["BILLOW_DATA_DIR"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = _backend()
    if backend == "sqlite":
        skip = pytest.mark.skip(reason="needs PostgreSQL: set BILLOW_TEST_DATABASE to a server URL")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
