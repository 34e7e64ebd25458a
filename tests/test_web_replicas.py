"""`monshi web --reuse-port`: several web processes on one host share one port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

from integrations.twilio.call_simulator import (
    SIGNATURE_HEADER,
    TWILIO_WEBHOOK_HEADERS,
    call_params,
    sign_webhook,
)
from tests.conftest import REPO_ROOT, free_port
from triage.store.db import make_engine
from triage.store.migrate import upgrade


def listeners(port: int) -> int:
    """How many sockets listen on the TCP port (Linux /proc/net/tcp, state 0A)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A"
    )


def web_env(
    database_url: str, redis_url: str, model_dir: Path, port: int, tmp_path: Path
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MONSHI_MODEL_DIR": str(model_dir),
        "MONSHI_SECRET_KEY": "test-secret-key",
        "TWILIO_AUTH_TOKEN": "test-twilio-auth-token",
        "MONSHI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MONSHI_SPOOL_DIR": str(tmp_path / "spool"),
    }


@contextmanager
def web(
    port: int, env: dict[str, str], log: Path, *flags: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "triage", "web", "--port", str(port), *flags],
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def migrated(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()


def wait_listening(port: int, count: int, *started: tuple[subprocess.Popen[bytes], Path]) -> None:
    """Until `count` sockets listen on the port; each started process must stay up."""
    deadline = time.monotonic() + 30
    while listeners(port) < count and time.monotonic() < deadline:
        for process, log in started:
            assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    assert listeners(port) == count


def test_two_web_processes_share_a_port_with_reuse_port(
    sqlite_url: str, redis_url: str, model_dir: Path, tmp_path: Path
) -> None:
    migrated(sqlite_url)
    port = free_port()
    env = web_env(sqlite_url, redis_url, model_dir, port, tmp_path)
    with ExitStack() as stack:
        logs = [tmp_path / f"web-{n}.log" for n in (1, 2)]
        first, second = (stack.enter_context(web(port, env, log, "--reuse-port")) for log in logs)
        wait_listening(port, 2, (first, logs[0]), (second, logs[1]))
        for _ in range(10):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200
        assert first.poll() is None and second.poll() is None


def test_without_reuse_port_a_second_web_process_cannot_bind(
    sqlite_url: str, redis_url: str, model_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = web_env(sqlite_url, redis_url, model_dir, port, tmp_path)
    with web(port, env, tmp_path / "web-1.log") as first:
        wait_listening(port, 1, (first, tmp_path / "web-1.log"))
        with web(port, env, tmp_path / "web-2.log") as second:
            assert second.wait(30) != 0
        assert "address already in use" in (tmp_path / "web-2.log").read_text().lower()


def test_monshi_web_answers_a_webhook_on_uvloop(
    sqlite_url: str, redis_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """The web process runs on uvloop: its Redis client and signature check work there."""
    migrated(sqlite_url)
    port = free_port()
    env = web_env(sqlite_url, redis_url, model_dir, port, tmp_path)
    url = f"http://127.0.0.1:{port}"
    params = call_params(
        call_sid="CA" + "1" * 32,
        account_sid="AC" + "2" * 32,
        from_="+12125550111",
        to="+12125550100",  # nobody's number: a message for the supervisors
        status="ringing",
    )
    signature = sign_webhook(env["TWILIO_AUTH_TOKEN"], url + "/twilio/voice", params)
    request = urllib.request.Request(
        url + "/twilio/voice",
        data=urlencode(params).encode(),
        headers={**TWILIO_WEBHOOK_HEADERS, SIGNATURE_HEADER: signature},
    )
    with web(port, env, tmp_path / "web.log") as process:
        wait_listening(port, 1, (process, tmp_path / "web.log"))
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
            verbs = [element.tag for element in ElementTree.fromstring(answer.read())]
        assert "Record" in verbs
        answered_again = urllib.request.urlopen(request, timeout=5).read()
        assert [element.tag for element in ElementTree.fromstring(answered_again)] == verbs
    assert "web process on uvloop.Loop" in (tmp_path / "web.log").read_text()
