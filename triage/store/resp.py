"""A small asyncio Redis client for the voice webhooks: one pipelined connection, hiredis.

redis-py's asyncio client spends about 45 µs of CPU on every command (a connection taken
from the pool and given back, the command packed in Python, a retry wrapper, a stream
reader) where the command itself costs Redis a few µs; that was half of the CPU of an
incoming call. This client writes each command, packed by hiredis, straight to one
connection and matches the replies, in order, to the waiting futures: about 8 µs per
command (bench/webhook.py and the README's Benchmarks say where the figures come from).

It does only what CallStore needs: commands and Lua scripts (EVALSHA, then EVAL once
when Redis has not seen the script). Failures surface as redis-py's exceptions, so the
callers' `except redis.RedisError` fallbacks are unchanged: a lost or refused connection
is a `redis.ConnectionError` (the next command connects again), an error reply a
`redis.ResponseError`. A command is never retried here. Callers bound their wait
(asyncio.timeout); a reply that comes after its caller gave up is read and dropped, and a
connection whose oldest command has waited longer than `reply_timeout` is closed.

A command may carry a deadline (the event loop's clock): past it, its caller gets a
TimeoutError while the reply, when it comes, is dropped. One watchdog per connection
checks the deadlines every DEADLINE_CHECK_SECONDS; `asyncio.timeout` around each call
cost a timer handle of its own and a tenth of an incoming call's CPU.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
from typing import Any, cast

import hiredis
import redis
from redis.asyncio.connection import parse_url

# How late past its deadline a command's caller may learn it timed out.
DEADLINE_CHECK_SECONDS = 0.025


class _Protocol(asyncio.Protocol):
    """One connection: commands out in order, replies back to their futures in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=redis.ResponseError)
        # (future, sent at, deadline or 0.0), oldest first: replies come back in this order.
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float, float]] = (
            collections.deque()
        )
        self.pending: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.watching = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not derive from asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future = self.waiting.popleft()[0]
                if future.done():  # its caller gave up waiting
                    continue
                if isinstance(reply, redis.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except hiredis.ProtocolError as error:
            self.close(redis.ConnectionError(f"Redis protocol error: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = redis.ConnectionError(f"Redis connection lost: {exc or 'closed by the server'}")
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(error)

    def close(self, error: Exception) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(error)

    def send(self, args: tuple[Any, ...], now: float, deadline: float = 0.0) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((future, now, deadline))
        # Commands issued in one turn of the event loop leave in one write: on loopback a
        # send() costs more CPU than Redis spends on a command.
        if not self.pending:
            loop.call_soon(self.flush)
        self.pending.append(hiredis.pack_command(args))
        if deadline and not self.watching:
            self.watching = True
            loop.call_later(DEADLINE_CHECK_SECONDS, self.watch)
        return future

    def watch(self) -> None:
        """Fail the commands past their deadline; go on while a deadline is still ahead."""
        now = asyncio.get_running_loop().time()
        ahead = False
        for future, _sent, deadline in self.waiting:
            if deadline and not future.done():
                if deadline <= now:
                    future.set_exception(TimeoutError("no reply from Redis before the deadline"))
                else:
                    ahead = True
        if ahead and not self.lost:
            asyncio.get_running_loop().call_later(DEADLINE_CHECK_SECONDS, self.watch)
        else:
            self.watching = False

    def flush(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(b"".join(self.pending))
        self.pending.clear()


class Script:
    """A Lua script, run by its SHA1 (loaded into Redis on first use)."""

    def __init__(self, client: RespClient, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: list[Any], args: list[Any], deadline: float = 0.0) -> Any:
        try:
            return await self.client.execute(
                "EVALSHA", self.sha, len(keys), *keys, *args, deadline=deadline
            )
        except redis.ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self.client.execute(
            "EVAL", self.source, len(keys), *keys, *args, deadline=deadline
        )


class RespClient:
    """A pipelined Redis connection from a redis://, rediss:// or unix:// URL."""

    def __init__(
        self, url: str, *, connect_timeout: float = 1.0, reply_timeout: float = 2.0
    ) -> None:
        options = parse_url(url)
        self.url = url
        self.host = str(options.get("host", "localhost"))
        self.port = int(options.get("port", 6379))
        self.path = options.get("path")
        self.tls = url.startswith("rediss:")
        self.username = options.get("username")
        self.password = options.get("password")
        self.db = int(options.get("db", 0) or 0)
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    def register_script(self, source: str) -> Script:
        return Script(self, source)

    async def execute(self, *args: Any, deadline: float = 0.0) -> Any:
        """Send one command and wait for its reply (bytes, int, list, None).

        `deadline` (the running loop's time(), 0 for none): past it the caller gets a
        TimeoutError, within DEADLINE_CHECK_SECONDS, connecting included.
        """
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._connect(deadline)
        now = asyncio.get_running_loop().time()
        waiting = protocol.waiting
        if waiting and now - waiting[0][1] > self.reply_timeout:
            protocol.close(redis.TimeoutError(f"no reply from Redis in {self.reply_timeout:g} s"))
            protocol = await self._connect(deadline)
        if deadline and now >= deadline:
            raise TimeoutError("the deadline passed before the command was sent")
        return await protocol.send(args, now, deadline)

    async def _connect(self, deadline: float = 0.0) -> _Protocol:
        limit = asyncio.get_running_loop().time() + self.connect_timeout
        try:
            async with asyncio.timeout_at(min(limit, deadline) if deadline else limit):
                return await self._connect_now()
        except (OSError, TimeoutError) as error:
            raise redis.ConnectionError(f"cannot connect to Redis: {error!r}") from error

    async def _connect_now(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and not self._protocol.lost:
                return self._protocol  # another caller connected meanwhile
            loop = asyncio.get_running_loop()
            if self.path:
                _, protocol = await loop.create_unix_connection(_Protocol, self.path)
            else:
                _, protocol = await loop.create_connection(
                    _Protocol,
                    self.host,
                    self.port,
                    ssl=ssl.create_default_context() if self.tls else None,
                )
            now = loop.time()
            if self.password:
                credentials = [self.username] if self.username else []
                await protocol.send(("AUTH", *credentials, self.password), now)
            if self.db:
                await protocol.send(("SELECT", self.db), now)
            self._protocol = protocol
            return protocol

    async def aclose(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
