"""Secretary presence: the statuses and the one rule that derives what a secretary is doing.

The store keeps a few raw fields per secretary (a stored status, timestamps, the call)
and, while her phone rings, a reservation. What she *is* right now depends on the clock
as well, so it is derived, never stored: `effective_status` is that rule. The Lua in
triage.store.presence applies the same rule inside Redis; tests hold the two together.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class PresenceStatus(enum.StrEnum):
    # Set by the secretary.
    AVAILABLE = "available"
    BREAK = "break"
    OFFLINE = "offline"
    # Set by the system.
    RINGING = "ringing"  # reserved for a call and being dialled
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # a call just ended; she finishes her notes before the next one


MANUAL_STATUSES = frozenset(
    {PresenceStatus.AVAILABLE, PresenceStatus.BREAK, PresenceStatus.OFFLINE}
)


@dataclass(frozen=True, slots=True)
class PresenceState:
    """What a secretary is doing now, as of the clock reading it was derived at.

    `since` is when the status began (0.0: never seen). `until` is when a wrap-up ends or
    a reservation lapses, else None. `call_sid` is the call she is ringing for, on, or
    wrapping up. `idle_since` is when she last became free (0.0: never); the hunt rings
    the longest idle first.
    """

    secretary_id: str
    status: PresenceStatus
    since: float
    until: float | None
    call_sid: str | None
    idle_since: float


def reservation_live(reserved_call: str | None, reserved_until: float | None, now: float) -> bool:
    """A reservation holds while its key exists and its deadline, by our clock, is ahead.

    The key's Redis TTL is the same deadline by Redis's clock; whichever passes first ends it.
    """
    return reserved_call is not None and reserved_until is not None and reserved_until > now


def effective_status(
    stored: str | None, *, until: float | None, reserved: bool, now: float
) -> PresenceStatus:
    """The rule: on_call > ringing (a live reservation) > wrap_up until it ends > stored status.

    `stored` is the status field as stored (None for a secretary never seen: offline);
    an expired wrap-up is available; `reserved` says whether a live reservation exists.
    """
    if stored is None:
        return PresenceStatus.OFFLINE
    if stored == PresenceStatus.ON_CALL:
        return PresenceStatus.ON_CALL
    if reserved:
        return PresenceStatus.RINGING
    if stored == PresenceStatus.WRAP_UP:
        if until is not None and until > now:
            return PresenceStatus.WRAP_UP
        return PresenceStatus.AVAILABLE
    return PresenceStatus(stored)


def derive_state(
    secretary_id: str, fields: Mapping[str, str], reserved_call: str | None, now: float
) -> PresenceState:
    """A PresenceState from the stored hash fields and the reservation key's value."""
    if "status" not in fields:
        return PresenceState(secretary_id, PresenceStatus.OFFLINE, 0.0, None, None, 0.0)
    since = _float(fields.get("since")) or 0.0
    until = _float(fields.get("until"))
    idle_since = _float(fields.get("idle_since")) or 0.0
    reserved_until = _float(fields.get("reserved_until"))
    reserved = reservation_live(reserved_call, reserved_until, now)
    status = effective_status(fields["status"], until=until, reserved=reserved, now=now)
    if status is PresenceStatus.RINGING:
        reserved_at = _float(fields.get("reserved_at")) or since
        return PresenceState(
            secretary_id, status, reserved_at, reserved_until, reserved_call, idle_since
        )
    if status in (PresenceStatus.ON_CALL, PresenceStatus.WRAP_UP):
        shown_until = until if status is PresenceStatus.WRAP_UP else None
        return PresenceState(
            secretary_id, status, since, shown_until, fields.get("call"), idle_since
        )
    if fields["status"] == PresenceStatus.WRAP_UP:  # wrap-up over: available since it ended
        return PresenceState(secretary_id, status, until or since, None, None, idle_since)
    return PresenceState(secretary_id, status, since, None, None, idle_since)


def _float(raw: str | None) -> float | None:
    return None if raw is None or raw == "" else float(raw)
