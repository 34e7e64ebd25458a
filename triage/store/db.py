"""Engines for SQLite and PostgreSQL, configured for Monshi's concurrency needs."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import InvalidatePoolError, OperationalError

SQLITE_BUSY_SECONDS = 30
_HOLDS_WRITER = "monshi_holds_writer"


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine for `database_url`.

    SQLite runs in WAL mode with foreign keys on, and every transaction starts with
    BEGIN IMMEDIATE: the writer lock is taken up front, so two claimers can never both
    read an item as free (SQLite's deferred transactions would let them, then fail one
    on upgrade). PostgreSQL uses row locks (FOR UPDATE SKIP LOCKED) instead.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection back in use within this many seconds is not pinged first.
IDLE_PING_SECONDS = 1.0
_RETURNED_AT = "monshi_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, for connections that sat idle in the pool a while only.

    Pinging at every checkout cost a round trip per transaction, which on a busy two-core
    machine waited on the server as long as a query (a seventh of a claim's time over
    HTTP). A connection used a moment ago is very likely alive; one idle for a second or
    more (across a database restart, say) is pinged and, if dead, the pool is refreshed
    as pre-ping does. A connection that dies in that second fails its next statement,
    which invalidates the pool in the same way.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError() from error
            raise


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    # The threads of one process wait for each other's transactions here, woken as soon
    # as one ends, instead of sleeping in SQLite's busy handler (1, 2, 5 ... 100 ms
    # between tries), which put whole seconds at the tail of claims from 50 threads. (The
    # lock is let go as the COMMIT starts, so a thread may still meet SQLite's lock for
    # that long.) Other processes still meet the busy timeout. A thread never holds two
    # transactions at once (the second would wait on the first's writer lock anyway), so
    # this cannot deadlock; the timeout matches busy_timeout.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if not writer.acquire(timeout=SQLITE_BUSY_SECONDS):
            # What SQLite's own busy timeout raises, so callers handle both alike.
            busy = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", None, busy)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info[_HOLDS_WRITER] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection: Any) -> None:
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()
