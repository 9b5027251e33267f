"""The schema is only ever changed through a migration: models and migrations agree."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billow.db.base import Base
from billow.db.engine import engine_for


# SQLite cannot reflect expression indexes (lower(email)); PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_match_migrations(database_url):
    import billow.db.models  # noqa: F401

    engine = engine_for(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ, add a migration: {diff}"
