"""`monshi run` and its supervisor, with real processes: nothing is mocked, nothing left behind.

The supervisor tests use small Python children; the slow tests start `monshi run` itself
with no REDIS_URL or DATABASE_URL, so it brings up its embedded Redis and SQLite.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tests.conftest import REPO_ROOT, free_port
from triage.cli import cli
from triage.cli._supervise import ChildSpec, Supervisor, SupervisorError
from triage.cli.run import (
    SECRETS_FILE_NAME,
    embedded_redis,
    local_environment,
    local_url,
    read_secrets_file,
)

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")
STUBBORN = (
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)",
)
LOCAL_SETTINGS = ("REDIS_URL", "DATABASE_URL", "MONSHI_PUBLIC_URL")
LOCAL_SECRETS = ("TWILIO_AUTH_TOKEN", "MONSHI_SECRET_KEY", "TWILIO_ACCOUNT_SID")


# -- process helpers -----------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """A process identified by pid and start time, so a reused pid is not mistaken for it."""

    pid: int
    start_time: str
    name: str


def proc_info(pid: int) -> Proc | None:
    """The process as /proc shows it, or None when it is gone or a zombie."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name = stat_line[stat_line.index("(") + 1 : stat_line.rindex(")")]
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return Proc(pid=pid, start_time=fields[19], name=name)


def descendants(pid: int) -> set[Proc]:
    """Every live descendant of `pid`, found through /proc/<pid>/task/*/children."""
    found: set[Proc] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children_file in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                text = children_file.read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            for child_pid in map(int, text.split()):
                info = proc_info(child_pid)
                if info is not None:
                    found.add(info)
                    pending.append(child_pid)
    return found


def still_alive(procs: set[Proc]) -> set[Proc]:
    return {proc for proc in procs if proc_info(proc.pid) == proc}


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def kill_all(procs: set[Proc]) -> None:
    for proc in still_alive(procs):
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


# -- the supervisor --------------------------------------------------------------------


@contextmanager
def supervising(specs: list[ChildSpec], **options: float) -> Iterator[Supervisor]:
    supervisor = Supervisor(specs, **options)
    try:
        supervisor.start()
        yield supervisor
    finally:
        supervisor.stop()


def test_child_that_dies_is_restarted_and_stop_ends_all() -> None:
    specs = [ChildSpec("a", SLEEPER), ChildSpec("b", SLEEPER)]
    with supervising(specs, backoff_initial=0.1) as supervisor:
        first = supervisor.pids()
        procs = {info for pid in first.values() if (info := proc_info(pid)) is not None}
        os.kill(first["a"], signal.SIGKILL)

        def restarted() -> bool:
            supervisor.poll()
            return supervisor.pids().get("a") not in (None, first["a"])

        assert wait_until(restarted, timeout=5)
        assert supervisor.pids()["b"] == first["b"]
        procs |= {info for pid in supervisor.pids().values() if (info := proc_info(pid))}
    assert still_alive(procs) == set()


def test_restart_delay_doubles_and_is_capped() -> None:
    supervisor = Supervisor([], backoff_initial=1.0, backoff_max=30.0)
    delays = [supervisor.restart_delay(failures) for failures in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_child_crashing_at_once_is_retried_with_growing_delays(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    crasher = (sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)")
    supervisor = Supervisor([ChildSpec("crasher", crasher)], backoff_initial=0.2, backoff_max=0.8)
    try:
        supervisor.start()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.02)
    finally:
        supervisor.stop()
    # Delays 0.2, 0.4, 0.8, 0.8 ... within 2.5 s: about 5 starts, far fewer than a busy loop.
    assert 3 <= len(starts.read_text()) <= 6


def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    spec = ChildSpec("stubborn", STUBBORN)
    supervisor = Supervisor([spec], stop_timeout=0.5)
    supervisor.start()
    pid = supervisor.pids()["stubborn"]
    proc = proc_info(pid)
    assert proc is not None
    time.sleep(0.5)  # let it install its SIGTERM handler
    started = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - started < 3
    assert still_alive({proc}) == set()


def test_child_that_exits_before_ready_fails_start() -> None:
    spec = ChildSpec("broken", (sys.executable, "-c", "raise SystemExit(2)"), ready=lambda: False)
    supervisor = Supervisor([spec])
    with pytest.raises(SupervisorError, match=r"broken exited \(code 2\) before it was ready"):
        supervisor.start()
    supervisor.stop()


def test_children_die_when_the_supervising_process_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from triage.cli._supervise import ChildSpec, Supervisor\n"
        f"supervisor = Supervisor([ChildSpec('sleeper', {SLEEPER!r})])\n"
        "supervisor.start()\n"
        "print(supervisor.pids()['sleeper'], flush=True)\n"
        "time.sleep(120)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    ) as parent:
        assert parent.stdout is not None
        child = proc_info(int(parent.stdout.readline()))
        assert child is not None
        parent.kill()
        parent.wait()
    try:
        assert wait_until(lambda: not still_alive({child}), timeout=5), "child outlived its parent"
    finally:
        kill_all({child})


# -- the local environment -------------------------------------------------------------


def test_local_environment_fills_in_embedded_defaults_and_keeps_secrets(tmp_path: Path) -> None:
    environ = {"PATH": os.environ["PATH"]}
    first = local_environment(tmp_path, "127.0.0.1", 8123, environ)

    assert first.env["REDIS_URL"] == f"unix://{tmp_path}/redis/redis.sock?db=0"
    assert first.env["DATABASE_URL"] == f"sqlite:///{tmp_path}/monshi.db"
    assert first.env["DATABASE_URL"].startswith("sqlite:////")
    assert first.env["MONSHI_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert first.redis_dir == tmp_path / "redis"
    assert first.secrets_generated == ["MONSHI_SECRET_KEY", "TWILIO_AUTH_TOKEN"]
    assert re.fullmatch(r"[0-9a-f]{32}", first.env["TWILIO_AUTH_TOKEN"])

    path = tmp_path / SECRETS_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = read_secrets_file(path)
    assert stored["TWILIO_AUTH_TOKEN"] == first.env["TWILIO_AUTH_TOKEN"]
    assert stored["MONSHI_SECRET_KEY"] == first.env["MONSHI_SECRET_KEY"]

    second = local_environment(tmp_path, "127.0.0.1", 8123, environ)
    assert second.secrets_generated == []
    assert second.secrets_from_file == ["MONSHI_SECRET_KEY", "TWILIO_AUTH_TOKEN"]
    assert second.env["TWILIO_AUTH_TOKEN"] == first.env["TWILIO_AUTH_TOKEN"]


def test_environment_wins_over_local_defaults(tmp_path: Path) -> None:
    environ = {
        "REDIS_URL": "redis://cache.internal:6379/2",
        "DATABASE_URL": "postgresql://monshi@db.internal/monshi",
        "MONSHI_PUBLIC_URL": "https://monshi.example",
        "TWILIO_AUTH_TOKEN": "from-environment",
        "MONSHI_SECRET_KEY": "also-from-environment",
    }
    local = local_environment(tmp_path, "0.0.0.0", 8080, environ)
    assert {key: local.env[key] for key in environ} == environ
    assert local.redis_dir is None
    assert local.secrets_generated == local.secrets_from_file == []
    assert not (tmp_path / SECRETS_FILE_NAME).exists()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("monshi.lan", "http://monshi.lan:8080"),
    ],
)
def test_local_url(host: str, url: str) -> None:
    assert local_url(host, 8080) == url


def test_embedded_redis_listens_on_its_socket_and_keeps_an_append_only_file(
    tmp_path: Path,
) -> None:
    spec = embedded_redis(tmp_path / "redis")
    socket_path = str(tmp_path / "redis" / "redis.sock")
    for run in range(2):
        with (
            supervising([spec]),
            redis.Redis(unix_socket_path=socket_path, decode_responses=True) as client,
        ):
            if run == 0:
                client.set("monshi:test", "kept")
            else:
                assert client.get("monshi:test") == "kept"
            assert client.config_get("port")["port"] == "0"
            assert client.config_get("appendonly")["appendonly"] == "yes"
    assert list((tmp_path / "redis").glob("appendonly*"))


def test_run_refuses_a_port_in_use_and_a_var_dir_in_use(tmp_path: Path) -> None:
    runner = CliRunner()
    env: dict[str, str | None] = {name: None for name in (*LOCAL_SETTINGS, *LOCAL_SECRETS)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(cli, ["run", "--port", port, "--var-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / SECRETS_FILE_NAME).exists()

    with (tmp_path / "run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port = str(free_port())
        result = runner.invoke(cli, ["run", "--port", port, "--var-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "another `monshi run` is using" in result.output
    assert not (tmp_path / SECRETS_FILE_NAME).exists()


# -- `monshi run` itself (slow: real web, worker and Redis processes) --------------------


@dataclass
class RunningMonshi:
    process: subprocess.Popen[bytes]
    url: str
    var_dir: Path
    stdout_path: Path
    stderr_path: Path
    tree: set[Proc] = field(default_factory=set)

    def collect_tree(self) -> set[Proc]:
        """The live descendants now; remembered so cleanup can kill them if a test fails."""
        self.tree = descendants(self.process.pid)
        return self.tree

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def log_tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def get(self, path: str, token: str | None = None, method: str = "GET") -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            with error:
                return error.code

    def post_json(self, path: str, token: str) -> tuple[int, object]:
        request = urllib.request.Request(
            self.url + path, method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
                return int(response.status), json.loads(body) if body else None
        except urllib.error.HTTPError as error:
            with error:
                return error.code, None

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"monshi run exited\n{self.log_tail()}"
            try:
                return self.get("/readyz") == 200
            except OSError:
                return False

        assert wait_until(ready, timeout, interval=0.2), f"never ready\n{self.log_tail()}"

    def tokens(self) -> dict[str, str]:
        return dict(re.findall(r"^API token for (\S+): (\S+)$", self.output(), re.MULTILINE))


def run_environment() -> dict[str, str]:
    """The test's environment without the settings `monshi run` must supply itself."""
    env = {k: v for k, v in os.environ.items() if k not in (*LOCAL_SETTINGS, *LOCAL_SECRETS)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def monshi_run(tmp_path: Path, *args: str) -> Iterator[RunningMonshi]:
    """`monshi run` as a real process in tmp_path (not the checkout: --demo must find its way)."""
    port = free_port()
    var_dir = tmp_path / "var"
    stdout_path, stderr_path = tmp_path / "run.out", tmp_path / "run.err"
    command = [
        sys.executable,
        "-m",
        "triage",
        "run",
        "--port",
        str(port),
        "--var-dir",
        str(var_dir),
    ]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, *args], stdout=stdout, stderr=stderr, env=run_environment(), cwd=tmp_path
        )
    running = RunningMonshi(process, f"http://127.0.0.1:{port}", var_dir, stdout_path, stderr_path)
    try:
        yield running
    finally:
        tree = running.tree | (descendants(process.pid) if process.poll() is None else set())
        process.kill()
        process.wait()
        kill_all(tree)


def demo_tenant() -> tuple[str, list[str]]:
    """An English-speaking tenant of examples/agency.toml: its number and who may claim for it."""
    config = tomllib.loads((REPO_ROOT / "examples" / "agency.toml").read_text(encoding="utf-8"))
    tenant = next(tenant for tenant in config["tenants"] if tenant["language"] == "en")
    return tenant["phone_numbers"][0], [*tenant["secretaries"], *tenant.get("backups", [])]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_run_demo_serves_and_sigterm_stops_every_process(tmp_path: Path) -> None:
    with monshi_run(tmp_path, "--demo") as run:
        run.wait_ready()
        tokens = run.tokens()
        assert tokens, run.output()
        for token in tokens.values():
            assert run.get("/api/v1/queue/claim", token, method="POST") in (200, 204)
        assert run.get("/api/v1/queue/claim", "not-a-token", method="POST") == 401
        assert (run.var_dir / "monshi.db").exists()
        assert (run.var_dir / "redis" / "redis.sock").is_socket()

        tree = run.collect_tree()
        names = sorted(proc.name for proc in tree)
        assert "redis-server" in names and len(tree) >= 3, names

        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=15) == 0, run.log_tail()
        assert wait_until(lambda: not still_alive(tree), timeout=15), still_alive(tree)
        assert "monshi stopped" in run.output()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_children_and_embedded_redis_die_when_run_is_killed(tmp_path: Path) -> None:
    with monshi_run(tmp_path) as run:
        run.wait_ready()
        tree = run.collect_tree()
        assert "redis-server" in {proc.name for proc in tree}
        run.process.kill()
        run.process.wait(timeout=5)
        assert wait_until(lambda: not still_alive(tree), timeout=15), still_alive(tree)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_readme_tour_simulated_sms_reaches_a_secretary(tmp_path: Path) -> None:
    number, claimers = demo_tenant()
    with monshi_run(tmp_path, "--demo") as run:
        run.wait_ready()
        tokens = run.tokens()
        body = "Please call me back about tomorrow's appointment"
        simulate = subprocess.run(
            [sys.executable, "-m", "triage", "simulate", "sms", "--url", run.url,
             "--var-dir", str(run.var_dir), "--to", number, "--from", "+15557654321",
             "--body", body],
            env=run_environment(), capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert simulate.returncode == 0, simulate.stdout + simulate.stderr
        assert re.match(r"HTTP 200 MessageSid SM[0-9a-f]{32}$", simulate.stdout.strip())

        def claimed_by_someone() -> bool:
            for secretary in claimers:
                status, item = run.post_json("/api/v1/queue/claim", tokens[secretary])
                if status == 200:
                    assert isinstance(item, dict) and item["body"] == body
                    return True
            return False

        sent = time.monotonic()
        assert wait_until(claimed_by_someone, timeout=15, interval=0.05), run.log_tail()
        # The promise: a simulated SMS is claimable within a second.
        elapsed = time.monotonic() - sent
        assert elapsed < 1.0, f"claimed only after {elapsed:.2f} s"
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=15) == 0
