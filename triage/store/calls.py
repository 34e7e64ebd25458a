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


_NO_STATE = redis_key("call-state", "-")  # a key of the scripts when no state is saved


# commit(state key, event stream, response keys, A, i): the state A[i + 2] ('' to leave
# it) and the answer A[i + 1] kept for A[i] seconds; A[i + 3] events follow, four values
# each (kind, call, at, data). Returns the index after the last event.
_COMMIT_FUNCTION = """
local function commit(state_key, stream, responses, A, i)
  local ttl = A[i]
  if A[i + 2] ~= '' then redis.call('SET', state_key, A[i + 2], 'EX', ttl) end
  local at = i + 4
  for _ = 1, tonumber(A[i + 3]) do
    redis.call('XADD', stream, '*', 'kind', A[at], 'call', A[at + 1], 'at', A[at + 2],
               'data', A[at + 3])
    at = at + 4
  end
  for _, key in ipairs(responses) do redis.call('SET', key, A[i + 1], 'EX', ttl) end
  return at
end
"""

# KEYS: the step's n response keys, the caller's recent-call key, the call's state key,
# the event stream, then (optionally) the reservation keys of RESERVE_FUNCTION.
# ARGV: n, call_sid, ttl of the recent-call mark, '1' when a commit is foreseen (its
# arguments follow, as commit() takes them) or '0', then the reservation's arguments.
# Returns {cached response or false, the caller's previous call or false, reserved or
# false, 1 when the foreseen commit was made}. The foreseen commit is the answer worked
# out before Redis replied for a caller who is not calling again and finds nobody to
# ring; it is made only when that is what happened.
_BEGIN = (
    RESERVE_FUNCTION
    + _COMMIT_FUNCTION
    + """
local n = tonumber(ARGV[1])
local responses = {}
for i = 1, n do
  local cached = redis.call('GET', KEYS[i])
  if cached then return {cached, false, false, 0} end
  responses[i] = KEYS[i]
end
local call = ARGV[2]
local previous = redis.call('SET', KEYS[n + 1], call, 'EX', ARGV[3], 'GET')
local foreseen = ARGV[4] == '1'
local after = 5
if foreseen then after = 9 + 4 * tonumber(ARGV[8]) end
local reserved = false
if #KEYS > n + 3 then
  local K, A = {}, {}
  for i = n + 4, #KEYS do K[#K + 1] = KEYS[i] end
  for i = after, #ARGV do A[#A + 1] = ARGV[i] end
  reserved = reserve(K, A)
end
if foreseen and not reserved and (not previous or previous == call) then
  commit(KEYS[n + 2], KEYS[n + 3], responses, ARGV, 5)
  return {false, previous, false, 1}
end
return {false, previous, reserved, 0}
"""
)

# KEYS: the call's state key, the event stream, the step's response keys.
# ARGV: as commit() takes them from its first argument.
_COMMIT = (
    _COMMIT_FUNCTION
    + """
local responses = {}
for k = 3, #KEYS do responses[#responses + 1] = KEYS[k] end
commit(KEYS[1], KEYS[2], responses, ARGV, 1)
return 1
"""
)


class CallStart(NamedTuple):
    """What CallStore.begin_call learnt from Redis."""

    cached: str | None  # the TwiML answered already (a retried webhook)
    previous: str | None  # the caller's previous call to this client within 30 minutes
    reserved: str | None  # the secretary reserved for this call
    committed: bool  # the foreseen answer was what happened, and it is committed


class Commit(NamedTuple):
    """A call's new state, its events and the step's answer, saved together."""

    state: CallState | None
    events: Sequence[CallEvent]
    response: str


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

    async def reserve(self, request: tuple[list[str], list[str | int]] | None) -> str | None:
        """Run Presence's atomic reservation (see Presence.reserve_request) on this connection."""
        if request is None:
            return None
        return reserved_id(await self._reserve(keys=request[0], args=request[1]))

    async def cached_response(self, step_keys: Sequence[str]) -> str | None:
        """The TwiML answered already for any of these step keys (a retried webhook)."""
        values = await self.redis.execute("MGET", *[_response_key(key) for key in step_keys])
        return next((_text(value) for value in values if value is not None), None)

    async def begin_call(
        self,
        step_keys: Sequence[str],
        tenant: str,
        caller: str,
        call_sid: str,
        reserve: tuple[list[str], list[str | int]] | None = None,
        deadline: float = 0.0,
        foreseen: Commit | None = None,
    ) -> CallStart:
        """The whole start of a call in one round trip.

        The retry check, the repeat-caller mark (a retry of the same call sees its own
        sid, which is not a repeat) and, when `reserve` is given (Presence.reserve_request),
        the atomic reservation. `foreseen` is the commit for a caller who is not calling
        again and for whom nobody is reserved: when that is what happens it is made in the
        same round trip (`committed`), otherwise the caller commits what it then decides.
        """
        keys = [_response_key(key) for key in step_keys]
        keys += (
            redis_key("recent-caller", tenant, caller),
            _call_key(foreseen.state.call_sid) if foreseen and foreseen.state else _NO_STATE,
            CALL_EVENTS_STREAM,
        )
        args: list[Any] = [len(step_keys), call_sid, 30 * 60]
        if foreseen is None:
            args.append(0)
        else:
            args.append(1)
            args += self._commit_args(foreseen)
        if reserve is not None:
            keys += reserve[0]
            args += reserve[1]
        cached, previous, reserved, committed = await self._begin(
            keys=keys, args=args, deadline=deadline
        )
        return CallStart(
            None if cached is None else _text(cached),
            None if previous is None else _text(previous),
            reserved_id(reserved),
            committed == 1,
        )

    async def load(self, call_sid: str) -> CallState | None:
        raw = await self.redis.execute("GET", _call_key(call_sid))
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
        keys = [_call_key(state.call_sid) if state else _NO_STATE, CALL_EVENTS_STREAM]
        keys += [_response_key(key) for key in step_keys]
        args = self._commit_args(Commit(state, events, response))
        await self._commit(keys=keys, args=args, deadline=deadline)

    def _commit_args(self, commit: Commit) -> list[Any]:
        """commit()'s arguments in the Lua scripts: ttl, answer, state, events."""
        now = self.clock()
        state, events = commit.state, commit.events
        args: list[Any] = [
            CALL_TTL_SECONDS,
            commit.response,
            state.to_redis() if state is not None else "",
            len(events),
        ]
        for event in events:
            args += (event.kind, event.call_sid, repr(event.at or now), orjson.dumps(event.data))
        return args

    async def add_events(self, events: Sequence[CallEvent]) -> None:
        await self.commit(None, events, (), "")
