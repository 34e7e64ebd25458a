"""The Alembic migrations build exactly the schema tables.py declares, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from triage.store.db import make_engine
from triage.store.migrate import alembic_config, upgrade
from triage.store.tables import metadata


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "compare_server_default": False}
            )
            differences = compare_metadata(context, metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_every_migration_downgrades_to_an_empty_database(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
