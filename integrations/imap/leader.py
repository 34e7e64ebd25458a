"""One active connector per mailbox: a lease in Redis, taken with SET NX PX and kept by renewal.

The lease holds a random token; renewing and releasing compare it first (in Lua, so the
check and the change are one step), so a process whose lease expired can never extend or
delete its successor's. A standby replica retries the SET until the holder releases the
lease or stops renewing it and it expires.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Final

import redis

from triage.constants import redis_key

log = logging.getLogger(__name__)

# Extend the lease only if we still hold it.
_RENEW: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Delete it only if we still hold it.
_RELEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def leader_key(mailbox: str) -> str:
    return redis_key("imap-leader", mailbox)


def new_token() -> str:
    """Says who holds the lease (host and pid, for an operator) and is unguessable."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"


class LeaderLock:
    """The lease on one mailbox, held under `token` for `ttl_seconds` at a time."""

    def __init__(
        self,
        connection: redis.Redis,
        mailbox: str,
        ttl_seconds: float,
        token: str | None = None,
    ) -> None:
        self.redis = connection
        self.key = leader_key(mailbox)
        self.ttl_ms = max(1, round(ttl_seconds * 1000))
        self.token = token or new_token()
        self._renew = connection.register_script(_RENEW)
        self._release = connection.register_script(_RELEASE)

    @property
    def ttl_seconds(self) -> float:
        return self.ttl_ms / 1000

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (or we already do). Raises redis errors."""
        if self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return self.renew()

    def renew(self) -> bool:
        """Extend the lease for another TTL; False when it is no longer ours."""
        return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    def release(self) -> bool:
        """Give the lease up now, so a standby takes over without waiting for the TTL."""
        return bool(self._release(keys=[self.key], args=[self.token]))

    def holder(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value


class Leadership:
    """Keeps a held lease alive from a thread; sets `lost` (and calls `on_lost`) if it goes.

    Renews every third of the TTL. A renewal that finds the lease taken means it is lost at
    once; a renewal that cannot reach Redis is retried, and the lease is given up for lost
    when the last successful renewal is 80% of a TTL old: by then it may have expired on
    the server and a standby may hold it.
    """

    def __init__(
        self,
        lock: LeaderLock,
        on_lost: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.on_lost = on_lost
        self.clock = clock
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="imap-leader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop renewing and, unless the lease was lost, release it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if release and not self.lost.is_set():
            try:
                self.lock.release()
            except redis.RedisError as error:
                log.warning("imap leader: could not release the lease (%s); it expires", error)

    def _main(self) -> None:
        interval = self.lock.ttl_seconds / 3
        last_renewed = self.clock()
        while not self._stop.wait(interval):
            try:
                held = self.lock.renew()
            except redis.RedisError as error:
                if self.clock() - last_renewed < self.lock.ttl_seconds * 0.8:
                    log.warning("imap leader: renewal failed (%s); retrying", error)
                    interval = self.lock.ttl_seconds / 10
                    continue
                log.error("imap leader: Redis unreachable for most of a TTL; standing down")
                held = False
            if not held:
                self._lose()
                return
            last_renewed = self.clock()
            interval = self.lock.ttl_seconds / 3

    def _lose(self) -> None:
        log.warning("imap leader: lease %s lost; stopping at once", self.lock.key)
        self.lost.set()
        self.on_lost()
