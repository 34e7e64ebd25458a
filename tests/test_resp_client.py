"""The voice path's pipelined Redis client, against a real private redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port, redis_server_binary, start_redis
from triage.store.resp import RespClient


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Redis this test may stop, start again on the same port, or give a password."""
    port = free_port()
    process = start_redis(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0", port
    process.terminate()
    process.wait(10)


async def test_commands_answer_with_redis_types(redis_url: str) -> None:
    client = RespClient(redis_url)
    try:
        assert await client.execute("SET", "name", "منشی") == b"OK"
        assert await client.execute("GET", "name") == "منشی".encode()
        assert await client.execute("GET", "missing") is None
        assert await client.execute("INCRBY", "count", 41) == 41
        assert await client.execute("MGET", "missing", "count") == [None, b"41"]
        await client.execute("HSET", "h", "a", "1", "b", "2")
        assert await client.execute("HGETALL", "h") == [b"a", b"1", b"b", b"2"]
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await client.execute("GET", "h")
        assert await client.execute("GET", "count") == b"41"  # replies still in step
    finally:
        await client.aclose()


async def test_concurrent_commands_each_get_their_own_reply(redis_url: str) -> None:
    client = RespClient(redis_url)
    try:
        await asyncio.gather(*(client.execute("SET", f"k{i}", i) for i in range(300)))
        values = await asyncio.gather(*(client.execute("GET", f"k{i}") for i in range(300)))
        assert values == [str(i).encode() for i in range(300)]
    finally:
        await client.aclose()


async def test_a_script_is_loaded_once_then_run_by_its_sha(redis_url: str) -> None:
    client = RespClient(redis_url)
    try:
        script = client.register_script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
        assert await client.execute("SCRIPT", "EXISTS", script.sha) == [0]
        assert await script(keys=["n"], args=["a"]) == [b"n", b"a", 1]
        assert await client.execute("SCRIPT", "EXISTS", script.sha) == [1]
        assert await script(keys=["n"], args=["b"]) == [b"n", b"b", 2]
        failing = client.register_script("return redis.call('GET', KEYS[1], 'extra')")
        with pytest.raises(redis.ResponseError):
            await failing(keys=["n"], args=[])
    finally:
        await client.aclose()


async def test_a_reply_its_caller_gave_up_on_is_dropped_in_order(redis_url: str) -> None:
    client = RespClient(redis_url)
    pauser = redis.Redis.from_url(redis_url)
    try:
        await client.execute("SET", "a", "1")
        await client.execute("SET", "b", "2")
        pauser.execute_command("CLIENT", "PAUSE", "300", "ALL")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.execute("GET", "a")
        assert await client.execute("GET", "b") == b"2"
    finally:
        pauser.close()
        await client.aclose()


async def test_a_command_past_its_deadline_times_out_and_later_replies_stay_in_step(
    redis_url: str,
) -> None:
    client = RespClient(redis_url)
    pauser = redis.Redis.from_url(redis_url)
    script = client.register_script("return redis.call('GET', KEYS[1])")
    try:
        await client.execute("SET", "a", "1")
        await client.execute("SET", "b", "2")
        await script(keys=["a"], args=[])  # loaded: the next call is one EVALSHA
        pauser.execute_command("CLIENT", "PAUSE", "400", "ALL")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await client.execute("GET", "a", deadline=started + 0.1)
        with pytest.raises(TimeoutError):
            await script(keys=["a"], args=[], deadline=loop.time() + 0.05)
        waited = loop.time() - started
        assert 0.1 <= waited < 0.35  # each at its deadline, within the watchdog's step
        # Past the pause the dropped replies arrive first and are skipped, in order.
        assert await client.execute("GET", "b", deadline=loop.time() + 5) == b"2"
        with pytest.raises(TimeoutError):
            await client.execute("GET", "b", deadline=loop.time() - 1)  # already late
        assert await script(keys=["b"], args=[]) == b"2"
    finally:
        pauser.close()
        await client.aclose()


async def test_the_deadline_watchdog_stops_when_no_deadline_is_ahead(redis_url: str) -> None:
    client = RespClient(redis_url)
    pauser = redis.Redis.from_url(redis_url)
    try:
        await client.execute("SET", "a", "1")
        pauser.execute_command("CLIENT", "PAUSE", "300", "ALL")
        loop = asyncio.get_running_loop()
        patient = asyncio.ensure_future(client.execute("GET", "a"))  # no deadline
        with pytest.raises(TimeoutError):
            await client.execute("GET", "a", deadline=loop.time() + 0.05)
        protocol = client._protocol
        assert protocol is not None
        await asyncio.sleep(0.1)  # the watchdog's next turns: only the patient GET waits
        assert not protocol.watching and not patient.done()
        assert await patient == b"1"  # it waits for Redis, however long the pause
    finally:
        pauser.close()
        await client.aclose()


async def test_a_connection_silent_past_the_reply_timeout_is_replaced(redis_url: str) -> None:
    client = RespClient(redis_url, reply_timeout=0.2)
    pauser = redis.Redis.from_url(redis_url)
    try:
        await client.execute("SET", "a", "1")
        first_id = await client.execute("CLIENT", "ID")
        pauser.execute_command("CLIENT", "PAUSE", "600", "WRITE")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.execute("SET", "a", "2")  # held by the pause
        await asyncio.sleep(0.3)
        assert await client.execute("CLIENT", "ID") != first_id
        assert await client.execute("GET", "a") in (b"1", b"2")
    finally:
        pauser.close()
        await client.aclose()


async def test_a_stopped_server_is_a_connection_error_until_it_is_back(
    own_redis: tuple[str, int], tmp_path: Path
) -> None:
    url, port = own_redis
    client = RespClient(url, connect_timeout=0.5)
    try:
        await client.execute("SET", "a", "1")
        stopper = redis.Redis.from_url(url)
        stopper.shutdown(nosave=True)
        stopper.close()
        with pytest.raises(redis.ConnectionError):
            await client.execute("GET", "a")
        with pytest.raises(redis.ConnectionError):
            await client.execute("GET", "a")  # refused: nothing listens
        (tmp_path / "again").mkdir()
        process = start_redis(port, tmp_path / "again")
        try:
            assert await client.execute("GET", "a") is None  # a new, empty server
            assert await client.execute("SET", "a", "2") == b"OK"
        finally:
            process.terminate()
            process.wait(10)
    finally:
        await client.aclose()


async def test_password_and_database_from_the_url(own_redis: tuple[str, int]) -> None:
    url, port = own_redis
    admin = redis.Redis.from_url(url)
    admin.config_set("requirepass", "s3cret")
    admin.close()
    client = RespClient(f"redis://:s3cret@127.0.0.1:{port}/3")
    refused = RespClient(f"redis://127.0.0.1:{port}/0")
    try:
        await client.execute("SET", "in-three", "yes")
        check = redis.Redis(host="127.0.0.1", port=port, password="s3cret", db=3)
        assert check.get("in-three") == b"yes"
        check.close()
        with pytest.raises(redis.ResponseError, match="NOAUTH"):
            await refused.execute("GET", "in-three")
    finally:
        await client.aclose()
        await refused.aclose()


async def test_a_unix_socket_url_as_monshi_run_gives_it(tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(socket_path),
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = RespClient(f"unix://{socket_path}?db=2")
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await client.execute("SET", "k", "v") == b"OK"
        check = redis.Redis(unix_socket_path=str(socket_path), db=2)
        assert check.get("k") == b"v"
        check.close()
    finally:
        await client.aclose()
        process.terminate()
        process.wait(10)
