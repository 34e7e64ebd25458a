"""CallStore.begin_call: the start of a call, and its foreseen commit, in one round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from triage.presence import PresenceStatus
from triage.store.calls import CALL_EVENTS_STREAM, CallEvent, CallState, CallStore, Commit
from triage.store.presence import Presence
from triage.store.resp import RespClient

TENANT = "hudson-law"
CALLER = "+12125550111"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CallStore]:
    client = RespClient(redis_url)
    yield CallStore(client)
    await client.aclose()


@pytest.fixture
def sync_redis(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def voicemail_commit(call_sid: str) -> Commit:
    """What an answer worked out before Redis replied looks like: a voicemail."""
    state = CallState(
        call_sid=call_sid,
        tenant=TENANT,
        caller=CALLER,
        called="+12125550143",
        language="en",
        priority="normal",
        started=1_764_000_000.25,
        voicemail=True,
    )
    events = [
        CallEvent("call_started", call_sid, {"params": {"CallSid": call_sid}}),
        CallEvent("voicemail_offered", call_sid, {"reason": "voicemail"}),
    ]
    return Commit(state, events, f"<Response><Record/><!-- {call_sid} --></Response>")


def events_of(sync_redis: redis.Redis, call_sid: str) -> list[str]:
    return [
        CallEvent.from_fields(fields).kind
        for _id, fields in sync_redis.xrange(CALL_EVENTS_STREAM)
        if fields[b"call"] == call_sid.encode()
    ]


async def test_a_first_call_nobody_can_take_is_committed_in_the_same_round_trip(
    store: CallStore, sync_redis: redis.Redis
) -> None:
    foreseen = voicemail_commit("CA1")
    start = await store.begin_call(["CA1:voice"], TENANT, CALLER, "CA1", foreseen=foreseen)
    assert start.committed and start.cached is None and start.previous is None
    assert await store.load("CA1") == foreseen.state
    assert events_of(sync_redis, "CA1") == ["call_started", "voicemail_offered"]
    assert await store.cached_response(["CA1:voice"]) == foreseen.response

    retry = await store.begin_call(["CA1:voice"], TENANT, CALLER, "CA1", foreseen=foreseen)
    assert retry.cached == foreseen.response and not retry.committed
    assert events_of(sync_redis, "CA1") == ["call_started", "voicemail_offered"]


async def test_a_repeat_caller_is_left_to_the_second_round_trip(
    store: CallStore, sync_redis: redis.Redis
) -> None:
    await store.begin_call(["CA1:voice"], TENANT, CALLER, "CA1", foreseen=voicemail_commit("CA1"))
    start = await store.begin_call(
        ["CA2:voice"], TENANT, CALLER, "CA2", foreseen=voicemail_commit("CA2")
    )
    assert start.previous == "CA1" and not start.committed
    assert await store.load("CA2") is None
    assert events_of(sync_redis, "CA2") == []
    assert await store.cached_response(["CA2:voice"]) is None

    # The same caller to another client is no repeat there.
    other = await store.begin_call(
        ["CA3:voice"], "other-client", CALLER, "CA3", foreseen=voicemail_commit("CA3")
    )
    assert other.previous is None and other.committed


async def test_a_reserved_secretary_is_left_to_the_second_round_trip(
    store: CallStore, sync_redis: redis.Redis
) -> None:
    presence = Presence(sync_redis)
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    request = presence.reserve_request([["sara"]], "CA1", ring_seconds=20)
    start = await store.begin_call(
        ["CA1:voice"], TENANT, CALLER, "CA1", request, foreseen=voicemail_commit("CA1")
    )
    assert start.reserved == "sara" and not start.committed
    assert await store.load("CA1") is None
    assert events_of(sync_redis, "CA1") == []

    # Sara is ringing for CA1 now: the next caller finds nobody, as foreseen.
    request = presence.reserve_request([["sara"]], "CA2", ring_seconds=20)
    start = await store.begin_call(
        ["CA2:voice"], TENANT, "+12125550122", "CA2", request, foreseen=voicemail_commit("CA2")
    )
    assert start.reserved is None and start.committed
    assert events_of(sync_redis, "CA2") == ["call_started", "voicemail_offered"]


async def test_without_a_foreseen_commit_nothing_is_committed(
    store: CallStore, sync_redis: redis.Redis
) -> None:
    start = await store.begin_call(["CA1:voice"], TENANT, CALLER, "CA1")
    assert not start.committed and start.previous is None
    assert await store.load("CA1") is None
    assert events_of(sync_redis, "CA1") == []
