"""Drains the call-event stream into the database, then enqueues routing for ready items.

Runs in a thread of each worker process (a consumer group shares the stream between
workers), so the web process answers calls without ever writing SQL. An event is
acknowledged only after its transaction committed; a failing database leaves events
pending and they are retried, so nothing a webhook recorded is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio as aioredis

from triage.store.call_records import apply_call_events
from triage.store.calls import CALL_EVENTS_STREAM, PERSISTER_GROUP, CallEvent
from triage.store.repository import Repository
from workers.dispatch import Dispatcher

log = logging.getLogger(__name__)

BATCH = 200
BLOCK_MS = 1000
# Events another consumer took but did not acknowledge for this long are taken over.
CLAIM_IDLE_MS = 30_000
RETRY_SECONDS = (0.5, 1, 2, 5, 10)


Entry = tuple[Any, Any]


def _entries(response: Any) -> list[Entry]:
    """The stream entries of an XREADGROUP reply (a list in RESP2, a mapping in RESP3)."""
    if not response:
        return []
    if isinstance(response, dict):
        return list(next(iter(response.values()))[0])
    return list(response[0][1])


class CallPersister:
    def __init__(
        self,
        connection: aioredis.Redis,
        repository: Repository,
        dispatcher: Dispatcher,
        consumer: str | None = None,
    ) -> None:
        self.redis = connection
        self.repository = repository
        self.dispatcher = dispatcher
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                CALL_EVENTS_STREAM, PERSISTER_GROUP, id="0", mkstream=True
            )
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Apply what is waiting (this consumer's pending first, then stale, then new)."""
        await self.ensure_group()
        entries = await self._pending_of_mine()
        if not entries:
            entries = await self._claim_stale()
        if not entries:
            response = await self.redis.xreadgroup(
                PERSISTER_GROUP,
                self.consumer,
                {CALL_EVENTS_STREAM: ">"},
                count=BATCH,
                block=block_ms,
            )
            entries = _entries(response)
        if not entries:
            return 0
        await self._apply(entries)
        return len(entries)

    async def _pending_of_mine(self) -> list[Entry]:
        response = await self.redis.xreadgroup(
            PERSISTER_GROUP, self.consumer, {CALL_EVENTS_STREAM: "0"}, count=BATCH
        )
        # Entries deleted meanwhile come back with no fields: nothing to apply.
        return [entry for entry in _entries(response) if entry[1]]

    async def _claim_stale(self) -> list[Entry]:
        response: Any = await self.redis.xautoclaim(
            CALL_EVENTS_STREAM, PERSISTER_GROUP, self.consumer, CLAIM_IDLE_MS, count=BATCH
        )
        return [entry for entry in response[1] if entry[1]]

    async def _apply(self, entries: Sequence[Entry]) -> None:
        events = [CallEvent.from_fields(fields) for _id, fields in entries]
        to_route = await asyncio.to_thread(apply_call_events, self.repository, events)
        for item_id in dict.fromkeys(to_route):
            await asyncio.to_thread(self.dispatcher.ingest, item_id)
        ids = [entry_id for entry_id, _fields in entries]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(CALL_EVENTS_STREAM, PERSISTER_GROUP, *ids)
            pipe.xdel(CALL_EVENTS_STREAM, *ids)
            await pipe.execute()

    async def drain_all(self) -> int:
        """Apply everything waiting now, then return how many events were applied."""
        total = 0
        while applied := await self.drain_once():
            total += applied
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set; back off while Redis or the database fails."""
        failures = 0
        while not stop.is_set():
            try:
                await self.drain_once(block_ms=BLOCK_MS)
                failures = 0
            except Exception as error:  # store or Redis failure: events stay pending
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("call persister: %s; retrying in %s s", error, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)


class PersisterThread:
    """The persister on an event loop of its own, beside RQ's synchronous work loop."""

    def __init__(self, redis_url: str, repository: Repository, dispatcher: Dispatcher) -> None:
        self.redis_url = redis_url
        self.repository = repository
        self.dispatcher = dispatcher
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="call-persister", daemon=True)
        self._started = threading.Event()

    def _persister(self) -> CallPersister:
        connection = aioredis.Redis.from_url(self.redis_url, socket_timeout=5)
        return CallPersister(connection, self.repository, self.dispatcher)

    def drain(self) -> int:
        """Apply what is waiting, synchronously (burst workers and tests)."""

        async def drain() -> int:
            persister = self._persister()
            try:
                return await persister.drain_all()
            finally:
                await persister.redis.aclose()

        # A thread of its own, so a caller that already runs an event loop can use it too.
        result: list[int] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                result.append(asyncio.run(drain()))
            except BaseException as error:
                failure.append(error)

        thread = threading.Thread(target=target, name="call-persister-drain")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._started.set()
            persister = self._persister()
            try:
                await persister.run(self._stop)
            finally:
                await persister.redis.aclose()

        asyncio.run(main())

    def stop(self, timeout: float = 10) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)
