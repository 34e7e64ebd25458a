"""`monshi db upgrade` and `monshi user token|revoke-tokens` through click's runner."""

from __future__ import annotations

from click.testing import CliRunner

from tests.factories import add_secretary
from triage.cli import cli
from triage.store.db import make_engine
from triage.store.migrate import current_revision
from triage.store.repository import Repository


def test_db_upgrade_migrates_once_then_says_nothing_to_do(database_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": database_url})
    assert first.exit_code == 0, first.output
    assert "upgraded from empty to" in first.output
    second = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": database_url})
    assert second.exit_code == 0
    assert "already at" in second.output
    engine = make_engine(database_url)
    assert current_revision(engine) is not None
    engine.dispose()


def test_user_token_prints_a_token_that_authenticates_and_can_be_revoked(
    repo: Repository, database_url: str
) -> None:
    add_secretary(repo.engine, "sara")
    runner = CliRunner()
    result = runner.invoke(cli, ["user", "token", "sara"], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 40
    secretary = repo.secretary_for_token(token)
    assert secretary is not None and secretary.id == "sara"
    # Only the hash is stored.
    with repo.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_hash FROM api_tokens").scalars().all()
    assert token not in stored

    revoked = runner.invoke(
        cli, ["user", "revoke-tokens", "sara"], env={"DATABASE_URL": database_url}
    )
    assert "revoked 1 token" in revoked.output
    assert "within 5 s" in revoked.output
    assert repo.secretary_for_token(token) is None


def test_user_token_for_unknown_secretary_fails_clearly(
    repo: Repository, database_url: str
) -> None:
    result = CliRunner().invoke(
        cli, ["user", "token", "nobody"], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code != 0
    assert "no secretary 'nobody'" in result.output
