"""Schema migrations, run programmatically so ``billow migrate`` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at *url* to the newest schema (every branch head)."""
    command.upgrade(alembic_config(url), "heads")


def revision(url: str, message: str, **kwargs: object) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True, **kwargs)
