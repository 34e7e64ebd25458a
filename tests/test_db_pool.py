"""PostgreSQL's pooled connections: pinged after sitting idle, and replaced when found dead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from triage.store import db
from triage.store.db import make_engine


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pinged: list[Any] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pinged.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pinged


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)


def test_a_connection_back_in_use_at_once_is_not_pinged(
    engine: Engine, pings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 60.0)
    first = backend_pid(engine)  # a new connection: alive by construction
    assert [backend_pid(engine) for _ in range(3)] == [first] * 3
    assert pings == []
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    assert backend_pid(engine) == first
    assert len(pings) == 1


def test_an_idle_connection_found_dead_is_replaced(
    engine: Engine, postgres_url: str, pings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(engine)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has sat idle long enough
    second = backend_pid(engine)
    assert second != first
    # The dead one was pinged and dropped (then, with no idle time allowed, its replacement).
    assert pings[0].broken
    assert not pings[-1].broken
