"""Secretary presence and call reservations in Redis, changed only by atomic Lua scripts.

Per secretary, two keys:
  monshi:presence:<id>     hash: status, since, until, idle_since, call,
                           reserved_at, reserved_until (while a reservation exists)
  monshi:reservation:<id>  string: the CallSid she is being dialled for; TTL ring + 30 s

Every timestamp comes from the injected clock and reaches the scripts as an argument
(never Redis's TIME), so tests drive time. The effective status is derived by the rule in
triage.presence; the reserve script repeats that rule in Lua.

The connection is passed in. triage/store imports no network library, so the class asks
only for what it uses of a `redis.Redis`: `register_script`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from triage.constants import redis_key
from triage.errors import PresenceConflict
from triage.presence import MANUAL_STATUSES, PresenceState, PresenceStatus, derive_state

# Kept after ringing ends, so a dial-status callback that comes late still finds the
# reservation to release or to turn into a call.
RESERVATION_GRACE_SECONDS = 30


class ScriptClient(Protocol):
    """What Presence needs of its connection; a `redis.Redis` is one."""

    def register_script(self, script: str) -> Callable[..., Any]: ...


def presence_key(secretary_id: str) -> str:
    return redis_key("presence", secretary_id)


def reservation_key(secretary_id: str) -> str:
    return redis_key("reservation", secretary_id)


# Returns the raw state of one secretary: her hash (flat) and her reservation's CallSid.
_RAW = """
local function raw(pkey, rkey)
  return {redis.call('HGETALL', pkey), redis.call('GET', rkey)}
end
"""

# KEYS: presence, reservation of each secretary. Returns one raw state per secretary.
_STATES = (
    _RAW
    + """
local out = {}
for i = 1, #KEYS, 2 do out[#out + 1] = raw(KEYS[i], KEYS[i + 1]) end
return out
"""
)

# KEYS: presence, reservation. ARGV: now, status. Returns {'on_call'} or {'ok', raw}.
_SET_STATUS = (
    _RAW
    + """
local now, wanted = tonumber(ARGV[1]), ARGV[2]
local h = redis.call('HMGET', KEYS[1], 'status', 'until')
local stored = h[1]
if stored == 'on_call' then return {'on_call'} end
if stored == 'wrap_up' then
  if tonumber(h[2] or '0') > now then stored = 'wrap_up' else stored = 'available' end
end
if stored ~= wanted then
  redis.call('HSET', KEYS[1], 'status', wanted, 'since', ARGV[1])
  redis.call('HDEL', KEYS[1], 'until')
  if wanted == 'available' then redis.call('HSET', KEYS[1], 'idle_since', ARGV[1]) end
end
return {'ok', raw(KEYS[1], KEYS[2])}
"""
)

# KEYS: presence, reservation of every candidate, tier after tier.
# ARGV: now, call_sid, ttl seconds, reserved_until, tier count, tier sizes..., ids...
# Returns the reserved secretary's id, or false.
# A Lua function over key and argument tables, so other scripts can embed it.
# K: presence, reservation of every candidate, tier after tier.
# A: now, call_sid, ttl seconds, reserved_until, tier count, tier sizes..., ids...
# Returns the reserved secretary's id, or false.
RESERVE_FUNCTION = """
local function reserve(K, A)
local now, call, ttl, reserved_until = tonumber(A[1]), A[2], tonumber(A[3]), A[4]
local tiers = tonumber(A[5])
local first_id = 6 + tiers
-- Every candidate's reservation holder in one call (false: none).
local rkeys = {}
for i = 1, #K / 2 do rkeys[i] = K[2 * i] end
local holders = redis.call('MGET', unpack(rkeys))
-- A retried webhook: whoever already rings for this call keeps it.
for i = 1, #K / 2 do
  if holders[i] == call then
    local deadline = tonumber(redis.call('HGET', K[2 * i - 1], 'reserved_until'))
    if deadline ~= nil and deadline > now then return A[first_id + i - 1] end
  end
end
-- The rule of triage.presence.effective_status, asking only "is she available?".
local function idle_since_if_available(i)
  local h = redis.call('HMGET', K[2 * i - 1], 'status', 'until', 'idle_since', 'reserved_until')
  local status = h[1]
  if not status or status == 'on_call' then return nil end
  if holders[i] and tonumber(h[4] or '0') > now then return nil end
  if status == 'wrap_up' then
    if tonumber(h[2] or '0') > now then return nil end
  elseif status ~= 'available' then
    return nil
  end
  return tonumber(h[3] or '0')
end
local index = 0
for tier = 1, tiers do
  local free = {}
  for _ = 1, tonumber(A[5 + tier]) do
    index = index + 1
    local idle = idle_since_if_available(index)
    if idle then
      free[#free + 1] = {idle, A[first_id + index - 1], K[2 * index - 1], K[2 * index]}
    end
  end
  table.sort(free, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  for _, c in ipairs(free) do
    redis.call('DEL', c[4])  -- a reservation past our deadline but not yet past its TTL
    if redis.call('SET', c[4], call, 'NX', 'EX', ttl) then
      redis.call('HSET', c[3], 'call', call, 'reserved_at', A[1],
                 'reserved_until', reserved_until)
      return c[2]
    end
  end
end
return false
end
"""

# KEYS and ARGV as RESERVE_FUNCTION's K and A.
_RESERVE = RESERVE_FUNCTION + "return reserve(KEYS, ARGV)\n"

# KEYS: presence, reservation. ARGV: call_sid. Returns 1 when released.
_RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'reserved_at', 'reserved_until')
if redis.call('HGET', KEYS[1], 'call') == ARGV[1] then redis.call('HDEL', KEYS[1], 'call') end
return 1
"""

# KEYS: presence, reservation. ARGV: now, call_sid. Returns 1 when she is on this call.
_START_CALL = """
local now, call = tonumber(ARGV[1]), ARGV[2]
local h = redis.call('HMGET', KEYS[1], 'status', 'call', 'reserved_until')
if h[1] == 'on_call' then
  if h[2] == call then return 1 else return 0 end
end
if redis.call('GET', KEYS[2]) ~= call or tonumber(h[3] or '0') <= now then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'on_call', 'since', ARGV[1], 'call', call)
redis.call('HDEL', KEYS[1], 'until', 'reserved_at', 'reserved_until')
return 1
"""

# KEYS: presence. ARGV: now, call_sid, end of wrap-up. Returns 1 when this call has ended.
_END_CALL = """
local h = redis.call('HMGET', KEYS[1], 'status', 'call')
if h[2] ~= ARGV[2] then return 0 end
if h[1] == 'wrap_up' then return 1 end
if h[1] ~= 'on_call' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'wrap_up', 'since', ARGV[1], 'until', ARGV[3],
           'idle_since', ARGV[3])
return 1
"""


RESERVE_SCRIPT = _RESERVE


def reserved_id(result: object) -> str | None:
    """The secretary id RESERVE_SCRIPT returned, or None."""
    return None if result is None else _text(result)  # type: ignore[arg-type]


class Presence:
    """Presence and reservations of secretaries over one Redis connection."""

    def __init__(self, connection: ScriptClient, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._states = connection.register_script(_STATES)
        self._set_status = connection.register_script(_SET_STATUS)
        self._reserve = connection.register_script(_RESERVE)
        self._release = connection.register_script(_RELEASE)
        self._start_call = connection.register_script(_START_CALL)
        self._end_call = connection.register_script(_END_CALL)

    def states(self, secretary_ids: Sequence[str]) -> dict[str, PresenceState]:
        """The effective state of each secretary, read in one round trip."""
        if not secretary_ids:
            return {}
        now = self.clock()
        raws = self._states(keys=_keys(secretary_ids), args=[])
        return {
            secretary_id: _state(secretary_id, raw, now)
            for secretary_id, raw in zip(secretary_ids, raws, strict=True)
        }

    def state(self, secretary_id: str) -> PresenceState:
        """The effective state of one secretary."""
        return self.states([secretary_id])[secretary_id]

    def set_status(self, secretary_id: str, status: PresenceStatus) -> PresenceState:
        """Her own choice: available, break or offline. Returns her state afterwards.

        Raises PresenceConflict while she is on a call. While her phone rings it is
        allowed: the choice is stored and takes effect when the reservation ends, so a
        secretary who goes on break mid-ring is not made available by the release.
        Becoming available (from anything else) restarts her idle time; choosing the
        status she already has changes nothing.
        """
        if status not in MANUAL_STATUSES:
            raise ValueError(f"{status!r} is set by the system, not by the secretary")
        now = self.clock()
        result = self._set_status(keys=_keys([secretary_id]), args=[_ts(now), str(status)])
        if _text(result[0]) == "on_call":
            raise PresenceConflict(f"{secretary_id} is on a call; presence changes after it")
        return _state(secretary_id, result[1], now)

    def reserve(
        self, tiers: Sequence[Sequence[str]], call_sid: str, ring_seconds: int
    ) -> str | None:
        """Atomically reserve the secretary to dial for a call; her id, or None if none is free.

        If a candidate already holds a live reservation for this call_sid (a retried
        webhook), she is returned again. Otherwise tiers are tried in order (primaries,
        then backups); within a tier the available candidates without a reservation, longest
        idle first (then by id), and the first is reserved for ring_seconds + 30 s.
        Candidates come filtered by the caller (language, skill, capacity, already tried).
        """
        request = self.reserve_request(tiers, call_sid, ring_seconds)
        if request is None:
            return None
        reserved = self._reserve(keys=request[0], args=request[1])
        return None if reserved is None else _text(reserved)

    def reserve_request(
        self, tiers: Sequence[Sequence[str]], call_sid: str, ring_seconds: int
    ) -> tuple[list[str], list[str | int]] | None:
        """The keys and arguments of RESERVE_SCRIPT for `reserve` (None: no candidate).

        For callers that run the script on another connection (the asyncio voice path).
        """
        plan = reservation_plan(tiers)
        return None if plan is None else self.planned_request(plan, call_sid, ring_seconds)

    def planned_request(
        self, plan: ReservationPlan, call_sid: str, ring_seconds: int
    ) -> tuple[list[str], list[str | int]]:
        """reserve_request's keys and arguments from a plan worked out before."""
        now = self.clock()
        ttl = ring_seconds + RESERVATION_GRACE_SECONDS
        args: list[str | int] = [_ts(now), call_sid, ttl, _ts(now + ttl)]
        args += plan.args
        return list(plan.keys), args

    def release(self, secretary_id: str, call_sid: str) -> bool:
        """End her reservation for this call (not answered). False if she holds none for it.

        Her stored status is untouched: available again with her old idle time, or the
        break or offline she chose while ringing.
        """
        return bool(self._release(keys=_keys([secretary_id]), args=[call_sid]))

    def start_call(self, secretary_id: str, call_sid: str) -> bool:
        """She answered: her live reservation for this call becomes on_call.

        True also when she is already on this call (a retry); False otherwise, changing nothing.
        """
        now = self.clock()
        return bool(self._start_call(keys=_keys([secretary_id]), args=[_ts(now), call_sid]))

    def end_call(self, secretary_id: str, call_sid: str, wrap_up_seconds: int) -> bool:
        """The call ended: wrap_up for wrap_up_seconds, then available, idle from then on.

        Only when she is on this call (or already wrapping it up: a retry, True again);
        False otherwise, changing nothing.
        """
        now = self.clock()
        args = [_ts(now), call_sid, _ts(now + wrap_up_seconds)]
        return bool(self._end_call(keys=[presence_key(secretary_id)], args=args))


@dataclass(frozen=True, slots=True)
class ReservationPlan:
    """What RESERVE_SCRIPT needs of the candidates, whatever the call: their keys, the tiers."""

    keys: tuple[str, ...]
    args: tuple[str | int, ...]


def reservation_plan(tiers: Sequence[Sequence[str]]) -> ReservationPlan | None:
    """The candidates of `tiers` as RESERVE_SCRIPT takes them (None: nobody to ring)."""
    flat = [secretary_id for tier in tiers for secretary_id in tier]
    if not flat:
        return None
    return ReservationPlan(
        keys=tuple(_keys(flat)), args=(len(tiers), *[len(tier) for tier in tiers], *flat)
    )


def _keys(secretary_ids: Sequence[str]) -> list[str]:
    return [k for s in secretary_ids for k in (presence_key(s), reservation_key(s))]


def _ts(seconds: float) -> str:
    # repr keeps every digit; Lua would format a computed number with only 14.
    return repr(float(seconds))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _state(secretary_id: str, raw: list[Any], now: float) -> PresenceState:
    flat, reserved_call = raw
    fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
    reserved = None if reserved_call is None else _text(reserved_call)
    return derive_state(secretary_id, fields, reserved, now)
