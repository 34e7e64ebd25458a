"""Live call state in Redis, the TwiML answered at each step, and the stream of call events.

The voice webhooks read and write only here (a few round trips, no SQL), so a call is
answered in milliseconds; a persister drains the event stream into the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from triage.constants import redis_key
from triage.store.presence import RESERVE_FUNCTION, RESERVE_SCRIPT, reserved_id
from triage.store.resp import RespClient

CALL_TTL_SECONDS = 24 * 3600
CALL_EVENTS_STREAM = redis_key("call-events")
PERSISTER_GROUP = "persisters"


class CallState(NamedTuple):
    """One live call, as the webhooks share it between steps.

    A NamedTuple, not a frozen dataclass: as immutable, and built in a fifth of the time
    (a frozen dataclass sets each of its 17 fields through object.__setattr__), which
    every step of every call does two or three times.
    """

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

    def to_redis(self) -> bytes:
        """The state as one JSON object (Redis keeps it whole: one SET per step)."""
        return orjson.dumps(dict(zip(self._fields, self, strict=True)))

    @classmethod
    def from_redis(cls, raw: bytes | str) -> CallState:
        data: dict[str, Any] = orjson.loads(raw)
        values: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in data.items()
            if name in _STATE_FIELD_SET
        }
        return cls(**values)

    def evolve(self, **changes: Any) -> CallState:
        return self._replace(**changes)


_STATE_FIELD_SET = frozenset(CallState._fields)
_NO_DATA: Mapping[str, Any] = {}


class CallEvent(NamedTuple):
    """Something the database must learn about a call. `base` lets any event create the item."""

    kind: str
    call_sid: str
    data: Mapping[str, Any] = _NO_DATA
    at: float = 0.0

    @classmethod
    def from_fields(cls, raw: Mapping[Any, Any]) -> CallEvent:
        data = {_text(key): _text(value) for key, value in raw.items()}
        return cls(
            kind=data["kind"],
            call_sid=data["call"],
            data=orjson.loads(data["data"]),
            at=float(data["at"]),
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _call_key(call_sid: str) -> str:
    return redis_key("call-state", call_sid)


def _response_key(step_key: str) -> str:
    return redis_key("twiml", step_key)


# KEYS: the step's n response keys, the caller's recent-call key, then (optionally) the
# reservation keys of RESERVE_FUNCTION. ARGV: n, call_sid, ttl, then its arguments.
# Returns {cached response or false, the caller's previous call or false, reserved or false}.
_BEGIN = (
    RESERVE_FUNCTION
    + """
local n = tonumber(ARGV[1])
for i = 1, n do
  local cached = redis.call('GET', KEYS[i])
  if cached then return {cached, false, false} end
end
local previous = redis.call('SET', KEYS[n + 1], ARGV[2], 'EX', ARGV[3], 'GET')
local reserved = false
if #KEYS > n + 1 then
  local K, A = {}, {}
  for i = n + 2, #KEYS do K[#K + 1] = KEYS[i] end
  for i = 4, #ARGV do A[#A + 1] = ARGV[i] end
  reserved = reserve(K, A)
end
return {false, previous, reserved}
"""
)

# KEYS: the call's state key, the event stream, the step's response keys.
# ARGV: ttl, response, the state ('' to leave it), event count, (kind, call, at, data)...
_COMMIT = """
local ttl = ARGV[1]
if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl) end
local events = tonumber(ARGV[4])
local i = 5
for _ = 1, events do
  redis.call('XADD', KEYS[2], '*', 'kind', ARGV[i], 'call', ARGV[i + 1], 'at', ARGV[i + 2],
             'data', ARGV[i + 3])
  i = i + 4
end
for k = 3, #KEYS do redis.call('SET', KEYS[k], ARGV[2], 'EX', ttl) end
return 1
"""


class CallStore:
    """Call state, cached step responses and the call-event stream, over an asyncio Redis.

    Each method is one round trip (a Lua script where several keys change together), on
    the voice path's own pipelined connection (triage.store.resp: redis-py's asyncio
    client cost five times the CPU per command).
    """

    def __init__(self, connection: RespClient, clock: Callable[[], float] = time.time) -> None:
        self.redis = connection
        self.clock = clock
        self._begin = connection.register_script(_BEGIN)
        self._commit = connection.register_script(_COMMIT)
        self._reserve = connection.register_script(RESERVE_SCRIPT)

    async def reserve(
        self, request: tuple[list[str], list[str | int]] | None, deadline: float = 0.0
    ) -> str | None:
        """Run Presence's atomic reservation (see Presence.reserve_request) on this connection."""
        if request is None:
            return None
        reply = await self._reserve(keys=request[0], args=request[1], deadline=deadline)
        return reserved_id(reply)

    async def cached_response(self, step_keys: Sequence[str], deadline: float = 0.0) -> str | None:
        """The TwiML answered already for any of these step keys (a retried webhook)."""
        keys = [_response_key(key) for key in step_keys]
        values = await self.redis.execute("MGET", *keys, deadline=deadline)
        return next((_text(value) for value in values if value is not None), None)

    async def begin_call(
        self,
        step_keys: Sequence[str],
        tenant: str,
        caller: str,
        call_sid: str,
        reserve: tuple[list[str], list[str | int]] | None = None,
        deadline: float = 0.0,
    ) -> tuple[str | None, str | None, str | None]:
        """(cached TwiML of a retry, the caller's previous call here in 30 min, reserved).

        One round trip for the whole start of a call: the retry check, the repeat-caller
        mark (a retry of the same call sees its own sid, which is not a repeat) and, when
        `reserve` is given (Presence.reserve_request), the atomic reservation.
        """
        keys = [_response_key(key) for key in step_keys]
        keys.append(redis_key("recent-caller", tenant, caller))
        args: list[str | int] = [len(step_keys), call_sid, 30 * 60]
        if reserve is not None:
            keys += reserve[0]
            args += reserve[1]
        cached, previous, reserved = await self._begin(keys=keys, args=args, deadline=deadline)
        return (
            None if cached is None else _text(cached),
            None if previous is None else _text(previous),
            reserved_id(reserved),
        )

    async def load(self, call_sid: str, deadline: float = 0.0) -> CallState | None:
        raw = await self.redis.execute("GET", _call_key(call_sid), deadline=deadline)
        return None if raw is None else CallState.from_redis(raw)

    async def commit(
        self,
        state: CallState | None,
        events: Sequence[CallEvent],
        step_keys: Sequence[str],
        response: str,
        deadline: float = 0.0,
    ) -> None:
        """Save the call state, append its events and remember the answer, atomically."""
        now = self.clock()
        args: list[Any] = [
            CALL_TTL_SECONDS,
            response,
            state.to_redis() if state is not None else "",
            len(events),
        ]
        for event in events:
            args += (event.kind, event.call_sid, repr(event.at or now), orjson.dumps(event.data))
        keys = [
            _call_key(state.call_sid) if state else redis_key("call-state", "-"),
            CALL_EVENTS_STREAM,
        ]
        keys += [_response_key(key) for key in step_keys]
        await self._commit(keys=keys, args=args, deadline=deadline)

    async def add_events(self, events: Sequence[CallEvent]) -> None:
        await self.commit(None, events, (), "")
