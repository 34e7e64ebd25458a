"""The Directory snapshot from the database, and the config version that says when it is stale.

A process that holds a Directory polls `config_version` (one primary-key read) and calls
`load_directory` only when the version differs from the snapshot's.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from triage.directory import Directory, build_directory
from triage.store.config_store import check_schema, read_config, read_version


def config_version(engine: Engine) -> str:
    """The stored config version; "" when no apply has changed anything yet.

    Database errors (unreachable, not migrated) propagate: the caller keeps its snapshot.
    """
    with engine.connect() as connection:
        return read_version(connection)


def load_directory(engine: Engine) -> Directory:
    """The whole config as a Directory labelled with the version it was read at.

    Raises SchemaNotReady when the database has not been migrated.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # One snapshot for the version and every table, so an apply committing meanwhile
            # cannot leave half its rows in a Directory labelled with either version. (SQLite
            # reads in one BEGIN IMMEDIATE transaction, which applies wait for.)
            connection.execution_options(isolation_level="REPEATABLE READ")
        check_schema(connection)
        version = read_version(connection)
        config = read_config(connection)
    return build_directory(config, version)
