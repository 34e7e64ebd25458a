"""Settings come from one mapping and fail loudly, by name."""

from __future__ import annotations

import pytest

from triage.errors import SettingsError
from triage.settings import WEB_REQUIRED, Settings

COMPLETE = {
    "DATABASE_URL": "postgres://monshi@db/monshi",
    "REDIS_URL": "redis://cache:6379/0",
    "MONSHI_SECRET_KEY": "k",
    "TWILIO_AUTH_TOKEN": "t",
    "MONSHI_PUBLIC_URL": "https://monshi.example/",
}


def test_settings_are_read_from_the_given_mapping() -> None:
    settings = Settings.from_env(COMPLETE, required=WEB_REQUIRED)
    assert settings.database_url == "postgresql+psycopg://monshi@db/monshi"
    assert settings.public_url == "https://monshi.example"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.log_level == "INFO"


@pytest.mark.parametrize("missing", WEB_REQUIRED)
def test_a_missing_setting_is_named(missing: str) -> None:
    env = {key: value for key, value in COMPLETE.items() if key != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env, required=WEB_REQUIRED)


def test_every_missing_setting_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}, required=WEB_REQUIRED)
    for name in WEB_REQUIRED:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://cache"),
        ("MONSHI_PUBLIC_URL", "monshi.example"),
    ],
)
def test_malformed_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**COMPLETE, name: value}, required=WEB_REQUIRED)


def test_cli_stops_at_start_up_naming_the_missing_variable() -> None:
    from click.testing import CliRunner

    from triage.cli import cli

    result = CliRunner().invoke(
        cli, ["worker", "--burst"], env={"DATABASE_URL": "", "REDIS_URL": ""}
    )
    assert result.exit_code != 0
    assert "DATABASE_URL" in result.output and "REDIS_URL" in result.output
