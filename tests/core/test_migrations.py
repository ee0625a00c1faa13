"""The Alembic chain builds exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import core.tables  # noqa: F401  (every table on the metadata)


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, SQLModel.metadata)
    # Alembic reports its own version table as "extra" on no backend; anything else is drift.
    assert diff == [], f"models and migrations disagree: {diff}"
