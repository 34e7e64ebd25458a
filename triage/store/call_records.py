"""What each call event does to the call's work item, in the database.

Events arrive from the Redis stream the voice webhooks write (possibly out of order when
several persisters run, and possibly twice after a crash), so every function here is
idempotent and creates the item first when an earlier event has not been applied yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import update

from triage.models import Channel, ItemStatus, Priority
from triage.store.calls import CallEvent
from triage.store.repository import Repository
from triage.store.rows import add_event, locked_item_row
from triage.store.tables import work_items
from triage.voice import MISSED_CALL_SECONDS, is_hang_up

log = logging.getLogger(__name__)

ACTOR = "twilio:voice"


def apply_call_events(repository: Repository, events: Iterable[CallEvent]) -> list[int]:
    """Apply events in order; returns the ids of items that are now ready to be routed."""
    to_route: list[int] = []
    for event in events:
        item_id = _ensure_item(repository, event)
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            log.info("call %s: unknown event kind %r kept as a note", event.call_sid, event.kind)
            _note(repository, item_id, event.kind, event.data)
            continue
        if handler(repository, item_id, event):
            to_route.append(item_id)
    return to_route


def _ensure_item(repository: Repository, event: CallEvent) -> int:
    base: Mapping[str, Any] = event.data.get("base", {})
    tenant = base.get("tenant") or None
    caller = str(base.get("from", ""))
    item_id, _ = repository.record_inbound(
        channel=Channel.CALL,
        external_id=event.call_sid,
        tenant_id=tenant,
        sender=caller,
        recipient=str(base.get("to", "")),
        subject=f"Call from {caller}" if caller else "Call",
        body="",
        payload={"call": {}},
        priority=Priority(base.get("priority", Priority.NORMAL.value)),
        language=base.get("language") or None,
        actor=ACTOR,
    )
    return item_id


def _change(
    repository: Repository,
    item_id: int,
    kind: str,
    data: Mapping[str, Any],
    *,
    call_updates: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    close_with: str | None = None,
) -> bool:
    """Merge `call_updates` into payload['call'], set `values`, optionally close; one event.

    Returns False (and changes nothing) when this exact event was applied already.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        row = locked_item_row(connection, item_id)
        payload = dict(row.payload)
        call = dict(payload.get("call", {}))
        applied = list(call.get("applied", []))
        marker = f"{kind}:{data.get('key', '')}"
        if marker in applied:
            return False
        applied.append(marker)
        call.update(call_updates or {})
        call["applied"] = applied
        payload["call"] = call
        changes: dict[str, Any] = {"payload": payload, "updated_at": now, **(values or {})}
        if close_with and row.status in (ItemStatus.RECEIVED.value, ItemStatus.QUEUED.value):
            changes.update(status=ItemStatus.COMPLETED.value, outcome=close_with, completed_at=now)
        connection.execute(update(work_items).where(work_items.c.id == item_id).values(**changes))
        event_data = {key: value for key, value in data.items() if key not in ("base", "key")}
        add_event(connection, item_id, now, ACTOR, kind, event_data)
    return True


def _note(repository: Repository, item_id: int, kind: str, data: Mapping[str, Any]) -> bool:
    _change(repository, item_id, kind, data)
    return False


def _started(repository: Repository, item_id: int, event: CallEvent) -> bool:
    data = event.data
    _change(
        repository,
        item_id,
        "call_started",
        data,
        call_updates={
            "tags": data.get("tags", []),
            "after_hours": data.get("after_hours", False),
            "params": data.get("params", {}),
        },
        values={
            "priority_rank": Priority(data["base"]["priority"]).rank,
            "language": data["base"].get("language"),
        },
    )
    return False


def _ivr(repository: Repository, item_id: int, event: CallEvent) -> bool:
    data = event.data
    values: dict[str, Any] = {"language": data["language"]} if data.get("language") else {}
    if data.get("skill"):
        values["category"] = data["skill"]
    _change(repository, item_id, "ivr", data, call_updates={"ivr": dict(data)}, values=values)
    return False


def _handled_live(repository: Repository, item_id: int, event: CallEvent) -> bool:
    data = event.data
    _change(
        repository,
        item_id,
        "handled_live",
        data,
        call_updates={"answered_by": data["secretary"], "talk_seconds": data.get("duration")},
        values={"held_by": data["secretary"]},
        close_with="answered_live",
    )
    return False


def _forwarded(repository: Repository, item_id: int, event: CallEvent) -> bool:
    _change(repository, item_id, "forwarded", event.data, close_with="forwarded")
    return False


def _recording(repository: Repository, item_id: int, event: CallEvent) -> bool:
    data = event.data
    duration = int(data.get("duration", 0))
    recording = {"sid": data["sid"], "url": data.get("url", ""), "duration": duration}
    if is_hang_up(duration, None):
        _change(
            repository,
            item_id,
            "hang_up",
            data,
            call_updates={"recording": recording},
            values={"priority_rank": Priority.LOW.rank},
            close_with="hang_up",
        )
        return False
    return _change(repository, item_id, "voicemail", data, call_updates={"recording": recording})


def _transcription(repository: Repository, item_id: int, event: CallEvent) -> bool:
    data = event.data
    text = str(data.get("text", "")).strip()
    values = {"body": text} if text else {}
    changed = _change(
        repository,
        item_id,
        "transcribed",
        data,
        call_updates={"transcript": {"sid": data.get("sid"), "status": data.get("status")}},
        values=values,
    )
    # The words arrive after the voicemail was queued: triage reads the item again.
    return changed and bool(text)


def _ended(repository: Repository, item_id: int, event: CallEvent) -> bool:
    """The call is over: an unanswered call without voicemail is a missed call or a hang-up."""
    data = event.data
    duration = int(data.get("duration", 0) or 0)
    updates = {"final_status": data.get("status"), "duration": duration}
    if data.get("answered") or data.get("voicemail"):
        _change(repository, item_id, "call_ended", data, call_updates=updates)
        return False
    if duration < MISSED_CALL_SECONDS:
        _change(
            repository,
            item_id,
            "hang_up",
            data,
            call_updates=updates,
            values={"priority_rank": Priority.LOW.rank},
            close_with="hang_up",
        )
        return False
    return _change(
        repository,
        item_id,
        "missed_call",
        data,
        call_updates=updates,
        values={"subject": "Missed call", "category": "message"},
    )


Handler = Callable[[Repository, int, CallEvent], bool]


def _noting(kind: str) -> Handler:
    def note(repository: Repository, item_id: int, event: CallEvent) -> bool:
        return _note(repository, item_id, kind, event.data)

    return note


_HANDLERS: dict[str, Handler] = {
    "call_started": _started,
    "ivr": _ivr,
    "handled_live": _handled_live,
    "forwarded": _forwarded,
    "recording": _recording,
    "transcription": _transcription,
    "call_ended": _ended,
    "ringing": _noting("ringing"),
    "not_answered": _noting("not_answered"),
    "accepted": _noting("accepted"),
    "voicemail_offered": _noting("voicemail_offered"),
    "answered_by_fallback": _noting("answered_by_fallback"),
}
