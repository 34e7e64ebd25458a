"""Live call state in Redis, the TwiML answered at each step, and the stream of call events.

The voice webhooks read and write only here (a few round trips, no SQL), so a call is
answered in milliseconds; a persister drains the event stream into the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import redis.asyncio as aioredis

from triage.constants import redis_key

CALL_TTL_SECONDS = 24 * 3600
CALL_EVENTS_STREAM = redis_key("call-events")
PERSISTER_GROUP = "persisters"


@dataclass(frozen=True, slots=True)
class CallState:
    """One live call, as the webhooks share it between steps."""

    call_sid: str
    tenant: str
    caller: str
    called: str
    language: str
    priority: str
    started: float
    tags: tuple[str, ...] = ()
    skill: str = ""
    reason: str = ""
    attempts: int = 0
    ring_used: int = 0
    tried: tuple[str, ...] = ()
    current: str = ""  # the secretary being rung now
    accepted: str = ""  # the secretary who pressed 1
    voicemail: bool = False
    after_hours: bool = False

    def to_redis(self) -> dict[Any, Any]:
        values = asdict(self)
        return {
            key: ",".join(value) if isinstance(value, tuple) else str(int(value))
            if isinstance(value, bool) else str(value)
            for key, value in values.items()
        }  # fmt: skip

    @classmethod
    def from_redis(cls, raw: Mapping[Any, Any]) -> CallState:
        data = {_text(key): _text(value) for key, value in raw.items()}
        kwargs: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in data:
                continue
            value = data[spec.name]
            if spec.type == "tuple[str, ...]":
                kwargs[spec.name] = tuple(part for part in value.split(",") if part)
            elif spec.type == "bool":
                kwargs[spec.name] = value == "1"
            elif spec.type == "int":
                kwargs[spec.name] = int(value)
            elif spec.type == "float":
                kwargs[spec.name] = float(value)
            else:
                kwargs[spec.name] = value
        return cls(**kwargs)

    def evolve(self, **changes: Any) -> CallState:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something the database must learn about a call. `base` lets any event create the item."""

    kind: str
    call_sid: str
    data: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0

    def to_fields(self) -> dict[Any, Any]:
        return {
            "kind": self.kind,
            "call": self.call_sid,
            "at": repr(self.at),
            "data": json.dumps(self.data, ensure_ascii=False),
        }

    @classmethod
    def from_fields(cls, raw: Mapping[Any, Any]) -> CallEvent:
        data = {_text(key): _text(value) for key, value in raw.items()}
        return cls(
            kind=data["kind"],
            call_sid=data["call"],
            data=json.loads(data["data"]),
            at=float(data["at"]),
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _call_key(call_sid: str) -> str:
    return redis_key("call", call_sid)


def _response_key(step_key: str) -> str:
    return redis_key("twiml", step_key)


class CallStore:
    """Call state, cached step responses and the call-event stream, over an asyncio Redis."""

    def __init__(self, connection: aioredis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = connection
        self.clock = clock

    async def cached_response(self, step_keys: Sequence[str]) -> str | None:
        """The TwiML answered already for any of these step keys (a retried webhook)."""
        values = await self.redis.mget([_response_key(key) for key in step_keys])
        return next((_text(value) for value in values if value is not None), None)

    async def begin_call(
        self, step_keys: Sequence[str], tenant: str, caller: str, call_sid: str
    ) -> tuple[str | None, str | None]:
        """(cached TwiML for a retry, the caller's previous call to this tenant in 30 min).

        One round trip. The previous call is remembered per tenant and caller; a retry of
        the same call sees its own sid, which is not a repeat.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.mget([_response_key(key) for key in step_keys])
            pipe.set(redis_key("recent-caller", tenant, caller), call_sid, ex=30 * 60, get=True)
            cached, previous = await pipe.execute()
        response = next((_text(value) for value in cached if value is not None), None)
        return response, None if previous is None else _text(previous)

    async def load(self, call_sid: str) -> CallState | None:
        raw = await self.redis.hgetall(_call_key(call_sid))
        return CallState.from_redis(raw) if raw else None

    async def commit(
        self,
        state: CallState | None,
        events: Sequence[CallEvent],
        step_keys: Sequence[str],
        response: str,
    ) -> None:
        """Save the call state, append its events and remember the answer, in one round trip."""
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            if state is not None:
                pipe.hset(_call_key(state.call_sid), mapping=state.to_redis())
                pipe.expire(_call_key(state.call_sid), CALL_TTL_SECONDS)
            for event in events:
                stamped = event if event.at else replace(event, at=now)
                pipe.xadd(CALL_EVENTS_STREAM, stamped.to_fields())
            for key in step_keys:
                pipe.set(_response_key(key), response, ex=CALL_TTL_SECONDS)
            await pipe.execute()

    async def add_events(self, events: Sequence[CallEvent]) -> None:
        await self.commit(None, events, (), "")
