"""A local, durable spool for call events that could not reach Redis.

When Redis is down the voice webhook still answers (voicemail or the client's fallback
number) and writes what happened here, one fsync'ed file per webhook; a background task
hands the files to the call-event stream once Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import redis

from triage.store.calls import CallEvent, CallStore

log = logging.getLogger(__name__)

REPLAY_SECONDS = 2.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[str] | None]:
    """The spool file open under an exclusive lock, or None when another process holds
    it or the file is gone (replayed and removed by another process)."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        yield None
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        yield handle if same else None


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, events: Sequence[CallEvent]) -> Path:
        """Write events durably (write, fsync, rename); returns the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex}.json"
        temporary = self.directory / (name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump([event._asdict() for event in events], handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        final = self.directory / name
        temporary.rename(final)
        return final

    def pending(self) -> list[Path]:
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("*.json"), key=lambda path: path.stat().st_mtime)

    async def replay(self, calls: CallStore) -> int:
        """Move spooled events into the call-event stream; returns how many files went.

        Several web processes on one host may share the spool (`monshi web --reuse-port`):
        each file is replayed under an exclusive lock by one of them, and a process that
        gets the lock after another replayed and removed the file sees it is gone.
        """
        moved = 0
        for path in self.pending():
            with _locked(path) as handle:
                if handle is None:
                    continue  # another process has it, or replayed it already
                events = [
                    CallEvent(
                        kind=raw["kind"],
                        call_sid=raw["call_sid"],
                        data=raw["data"],
                        at=raw["at"],
                    )
                    for raw in json.loads(handle.read())
                ]
                await calls.add_events(events)
                path.unlink()
            moved += 1
        if moved:
            log.warning("replayed %d spooled call webhook(s) into Redis", moved)
        return moved

    async def run(
        self, calls: CallStore, stop: asyncio.Event, interval: float = REPLAY_SECONDS
    ) -> None:
        """Replay every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.replay(calls)
            except (redis.RedisError, OSError) as error:
                log.info("spool replay waits: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
