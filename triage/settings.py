"""One typed settings object, built from the environment (or any mapping, for tests).

A missing or malformed required setting fails at start-up with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from triage.errors import SettingsError

# What every process needs, and what the web process needs on top.
CORE_REQUIRED: Final = ("DATABASE_URL", "REDIS_URL", "MONSHI_SECRET_KEY")
WEB_REQUIRED: Final = (*CORE_REQUIRED, "TWILIO_AUTH_TOKEN", "MONSHI_PUBLIC_URL")

_DB_SCHEMES: Final = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
_REDIS_SCHEMES: Final = ("redis", "rediss", "unix", "redis+sentinel")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Monshi reads from its environment."""

    database_url: str
    redis_url: str
    secret_key: str
    twilio_auth_token: str = ""
    twilio_account_sid: str = ""
    twilio_api_url: str = ""
    public_url: str = ""
    imap_url: str = ""
    smtp_url: str = ""
    log_level: str = "INFO"
    # Where the web process keeps call events it could not hand to Redis (Redis down);
    # they are replayed when Redis is back.
    spool_dir: str = "var/spool"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        required: tuple[str, ...] = CORE_REQUIRED,
    ) -> Settings:
        """Read settings from `env` (default: the process environment).

        Raises SettingsError naming every required variable that is missing or empty,
        and any value that is malformed.
        """
        source: Mapping[str, str] = os.environ if env is None else env

        def get(name: str) -> str:
            return source.get(name, "").strip()

        missing = [name for name in required if not get(name)]
        if missing:
            raise SettingsError("missing required setting(s): " + ", ".join(missing))

        database_url = normalize_database_url(get("DATABASE_URL")) if get("DATABASE_URL") else ""
        redis_url = get("REDIS_URL")
        if redis_url and urlsplit(redis_url).scheme not in _REDIS_SCHEMES:
            raise SettingsError(f"REDIS_URL: scheme must be one of {', '.join(_REDIS_SCHEMES)}")
        public_url = get("MONSHI_PUBLIC_URL").rstrip("/")
        if public_url and urlsplit(public_url).scheme not in ("http", "https"):
            raise SettingsError("MONSHI_PUBLIC_URL: must be an http:// or https:// URL")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            secret_key=get("MONSHI_SECRET_KEY"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_api_url=get("TWILIO_API_URL").rstrip("/"),
            public_url=public_url,
            imap_url=get("IMAP_URL"),
            smtp_url=get("SMTP_URL"),
            log_level=get("MONSHI_LOG_LEVEL").upper() or "INFO",
            spool_dir=get("MONSHI_SPOOL_DIR") or "var/spool",
        )


def normalize_database_url(url: str) -> str:
    """Map the URL spellings operators use onto the SQLAlchemy drivers Monshi ships with."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DB_SCHEMES:
        raise SettingsError(
            f"DATABASE_URL: must start with sqlite:// or postgresql:// (got scheme {scheme!r})"
        )
    if scheme in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + rest
    return url
