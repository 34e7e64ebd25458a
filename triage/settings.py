"""One typed settings object, built from the environment (or any mapping, for tests).

A missing or malformed required setting fails at start-up with the variable's name.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from triage.errors import SettingsError

# What every process needs, and what the web process needs on top.
CORE_REQUIRED: Final = ("DATABASE_URL", "REDIS_URL", "MONSHI_SECRET_KEY")
WEB_REQUIRED: Final = (*CORE_REQUIRED, "TWILIO_AUTH_TOKEN", "MONSHI_PUBLIC_URL")

_DB_SCHEMES: Final = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
_REDIS_SCHEMES: Final = ("redis", "rediss", "unix", "redis+sentinel")

ImapSecurity = Literal["tls", "starttls", "none"]
IMAP_SECURITIES: Final[tuple[ImapSecurity, ...]] = ("tls", "starttls", "none")
_IMAP_SCHEMES: Final[dict[str, ImapSecurity]] = {"imaps": "tls", "imap": "starttls"}
_IMAP_DEFAULT_PORTS: Final[dict[ImapSecurity, int]] = {"tls": 993, "starttls": 143, "none": 143}
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("0", "false", "no", "off")

# A message larger than this (Gmail's own limit) is not fetched whole: it becomes an item
# saying so, with its headers.
DEFAULT_MAIL_MAX_BYTES: Final = 25 * 1024 * 1024
# A claim's lease (MONSHI_LEASE_SECONDS): the console renews it while the item is open.
DEFAULT_LEASE_SECONDS: Final = 15 * 60.0


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
    # Versioned category models (`monshi model train` writes there; workers read the newest).
    model_dir: str = "var/models"
    # The agency inbox, when one is configured (IMAP_URL or IMAP_HOST).
    imap: ImapSettings | None = None
    mail_max_bytes: int = DEFAULT_MAIL_MAX_BYTES
    # How long a claim holds without a heartbeat before the item goes back to the queue.
    lease_seconds: float = DEFAULT_LEASE_SECONDS

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
            model_dir=get("MONSHI_MODEL_DIR") or "var/models",
            imap=ImapSettings.from_env(source),
            mail_max_bytes=_positive_int(source, "MAIL_MAX_BYTES", DEFAULT_MAIL_MAX_BYTES),
            lease_seconds=_positive_float(
                source, "MONSHI_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, minimum=1.0
            ),
        )


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """The agency inbox the IMAP connector watches, and how it talks to it.

    From IMAP_URL (`imaps://user:password@host:993/INBOX?processed=Processed`; `imap://`
    means STARTTLS, `imap://...?security=none` plain text) and/or the separate variables
    IMAP_HOST, IMAP_PORT, IMAP_USER, IMAP_PASSWORD, IMAP_SECURITY, IMAP_MAILBOX,
    IMAP_PROCESSED_FOLDER, IMAP_OAUTH2_TOKEN, which override the URL's parts (so the
    password can come from a secret store apart from the URL).
    """

    host: str
    user: str
    password: str = field(default="", repr=False)
    port: int = 993
    security: ImapSecurity = "tls"
    mailbox: str = "INBOX"
    # When set, handled mail is moved there; otherwise the mailbox is opened read-only.
    processed_folder: str = ""
    # An OAuth2 access token: log in with XOAUTH2 instead of the password.
    oauth2_token: str = field(default="", repr=False)
    # Extra CA certificates to trust (a private CA, a test server's self-signed cert).
    ca_file: str = ""
    batch_size: int = 200
    idle: bool = True
    poll_seconds: float = 30.0
    leader_ttl_seconds: float = 30.0
    # Mail larger than this is fetched as headers only (Settings.mail_max_bytes).
    max_bytes: int = DEFAULT_MAIL_MAX_BYTES

    @property
    def mailbox_key(self) -> str:
        """Names this mailbox in the checkpoint table and the leader lock (200 chars at most)."""
        key = f"{self.user}@{self.host}/{self.mailbox}"
        if len(key) <= 200:
            return key
        return key[:183] + "#" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ImapSettings | None:
        """The inbox settings in `env`, or None when no inbox is configured.

        Raises SettingsError naming the variable that is malformed or missing.
        """

        def get(name: str) -> str:
            return env.get(name, "").strip()

        url = get("IMAP_URL")
        if not url and not get("IMAP_HOST"):
            return None
        parts: dict[str, str] = _parse_imap_url(url) if url else {}
        for name, key in (
            ("IMAP_HOST", "host"),
            ("IMAP_PORT", "port"),
            ("IMAP_USER", "user"),
            ("IMAP_PASSWORD", "password"),
            ("IMAP_SECURITY", "security"),
            ("IMAP_MAILBOX", "mailbox"),
            ("IMAP_PROCESSED_FOLDER", "processed"),
        ):
            if get(name):
                parts[key] = get(name)
        security = parts.get("security", "tls").lower()
        if security not in IMAP_SECURITIES:
            source = "IMAP_SECURITY" if get("IMAP_SECURITY") else "IMAP_URL"
            raise SettingsError(f"{source}: security must be one of {', '.join(IMAP_SECURITIES)}")
        checked = IMAP_SECURITIES[IMAP_SECURITIES.index(security)]
        port = _port(parts.get("port"), "IMAP_PORT" if get("IMAP_PORT") else "IMAP_URL")
        if not parts.get("host"):
            raise SettingsError("IMAP_URL: has no host (or set IMAP_HOST)")
        if not parts.get("user"):
            raise SettingsError("IMAP_USER: missing (give it in IMAP_URL or as IMAP_USER)")
        oauth2_token = get("IMAP_OAUTH2_TOKEN")
        if not parts.get("password") and not oauth2_token:
            raise SettingsError(
                "IMAP_PASSWORD: missing (give it in IMAP_URL, as IMAP_PASSWORD, "
                "or log in with IMAP_OAUTH2_TOKEN)"
            )
        return cls(
            host=parts["host"],
            user=parts["user"],
            password=parts.get("password", ""),
            port=port or _IMAP_DEFAULT_PORTS[checked],
            security=checked,
            mailbox=parts.get("mailbox") or "INBOX",
            processed_folder=parts.get("processed", ""),
            oauth2_token=oauth2_token,
            ca_file=get("IMAP_CA_FILE"),
            batch_size=_positive_int(env, "IMAP_BATCH", 200),
            idle=_flag(env, "IMAP_IDLE", True),
            poll_seconds=_positive_float(env, "IMAP_POLL_SECONDS", 30.0),
            leader_ttl_seconds=_positive_float(env, "IMAP_LEADER_TTL_SECONDS", 30.0, minimum=1.0),
            max_bytes=_positive_int(env, "MAIL_MAX_BYTES", DEFAULT_MAIL_MAX_BYTES),
        )


def _parse_imap_url(url: str) -> dict[str, str]:
    """host, port, user, password, security, mailbox and processed from IMAP_URL."""
    parts = urlsplit(url)
    if parts.scheme not in _IMAP_SCHEMES:
        raise SettingsError("IMAP_URL: must start with imaps:// (TLS) or imap:// (STARTTLS)")
    try:
        port = parts.port
    except ValueError as error:
        raise SettingsError("IMAP_URL: the port must be a number from 1 to 65535") from error
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"processed", "security"})
    if unknown:
        raise SettingsError(f"IMAP_URL: unknown parameter(s) {', '.join(unknown)}")
    found = {
        "host": parts.hostname or "",
        "port": str(port) if port else "",
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "security": query.get("security", _IMAP_SCHEMES[parts.scheme]),
        "mailbox": unquote(parts.path.lstrip("/")),
        "processed": query.get("processed", ""),
    }
    return {key: value for key, value in found.items() if value}


def _port(value: str | None, name: str) -> int:
    if not value:
        return 0
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"{name}: the port must be a number from 1 to 65535")
    return int(value)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}: must be a whole number of at least 1 (got {value!r})")
    return int(value)


def _positive_float(
    env: Mapping[str, str], name: str, default: float, minimum: float = 0.0
) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    # NaN fails every comparison, so garbage, "nan" and "inf" are all refused here.
    if not (number > 0 and number >= minimum and math.isfinite(number)):
        bound = f"at least {minimum:g}" if minimum > 0 else "above 0"
        raise SettingsError(f"{name}: must be a number of seconds, {bound} (got {value!r})")
    return number


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}: must be 1/0, true/false, yes/no or on/off (got {value!r})")


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
