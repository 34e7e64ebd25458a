"""Whole calls through the real web app, Redis and database, with Twilio's side played here."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application

from tests.voice_support import (
    ACME,
    CASPIAN,
    HUDSON,
    PARS,
    FakeTwilio,
    Twiml,
    configure,
    new_sid,
    query_of,
)
from triage.models import Channel, ItemStatus, Priority
from triage.presence import PresenceStatus
from triage.settings import Settings
from triage.web.state import (
    ASYNC_REDIS,
    CALLS,
    CLOCK,
    DISPATCHER,
    MODELS,
    PRESENCE,
    REPOSITORY,
    SPOOL,
)
from workers.call_persister import CallPersister
from workers.main import run_worker

# Wednesday: 07:00 in New York (a law office still closed), 15:30 in Tehran (open).
WEDNESDAY_NOON_UTC = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclasses.dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class Rig:
    clock: Clock
    app: Application
    client: TestClient[Any, Any]
    twilio: FakeTwilio
    settings: Settings

    def available(self, *secretary_ids: str) -> None:
        for secretary_id in secretary_ids:
            self.app[PRESENCE].set_status(secretary_id, PresenceStatus.AVAILABLE)

    def status_of(self, secretary_id: str) -> PresenceStatus:
        return self.app[PRESENCE].state(secretary_id).status

    async def persist(self) -> None:
        persister = CallPersister(self.app[ASYNC_REDIS], self.app[REPOSITORY], self.app[DISPATCHER])
        while await persister.drain_once():
            pass

    def item(self, call_sid: str) -> Any:
        repository = self.app[REPOSITORY]
        item_id = repository.item_id_for(Channel.CALL, call_sid)
        assert item_id is not None, f"no item for {call_sid}"
        return repository.get_item(item_id)

    def event_kinds(self, call_sid: str) -> list[str]:
        item = self.item(call_sid)
        return [event.kind for event in self.app[REPOSITORY].events(item.id)]


@pytest.fixture
async def rig(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> Rig:
    configure(settings, tmp_path)
    settings = dataclasses.replace(settings, spool_dir=str(tmp_path / "spool"))
    from triage.web.app import create_app

    app = create_app(settings, background=False)
    clock = Clock(WEDNESDAY_NOON_UTC)
    app[CLOCK] = clock
    client = await aiohttp_client(app)
    return Rig(clock, app, client, FakeTwilio(client, settings), settings)


def dialled(twiml: Twiml) -> str:
    """The secretary a <Dial> rings, from its whisper URL."""
    return query_of(twiml.find("Dial/Number").attrib["url"])["secretary"]


async def test_call_answered_by_the_first_secretary(rig: Rig) -> None:
    rig.available("sara", "emily")  # sara has waited longest
    call = new_sid()
    first = await rig.twilio.incoming(call, ACME)
    assert first.verbs() == ["Say", "Dial"]
    assert first.find("Say").text == "Thank you for calling Acme Dental."
    dial = first.find("Dial")
    assert dial.attrib["timeout"] == "15"
    assert dial.attrib["callerId"] == ACME
    assert dialled(first) == "sara"
    assert rig.status_of("sara") is PresenceStatus.RINGING

    # Sara hears the whisper in Persian (her first language) and presses 1.
    number = first.find("Dial/Number")
    whisper = await rig.twilio.post(
        number.attrib["url"], {"CallSid": new_sid(), "ParentCallSid": call, "To": number.text or ""}
    )
    gather = whisper.find("Gather")
    assert gather.attrib["numDigits"] == "1"
    assert "Acme Dental" in (gather.find("Say").text or "")
    assert gather.find("Say").attrib["language"] == "fa-IR"
    connected = await rig.twilio.answer_whisper(first, call)
    assert connected.verbs() == []
    assert rig.status_of("sara") is PresenceStatus.ON_CALL

    done = await rig.twilio.dial_result(first, call, ACME, "completed", duration=95)
    assert done.verbs() == ["Hangup"]
    assert rig.status_of("sara") is PresenceStatus.WRAP_UP
    await rig.twilio.hang_up(call, ACME, duration=110)

    await rig.persist()
    item = rig.item(call)
    assert item.status is ItemStatus.COMPLETED
    assert item.outcome == "answered_live"
    assert item.held_by == "sara"
    assert item.tenant_id == "acme-dental"
    kinds = rig.event_kinds(call)
    assert kinds[:2] == ["received", "call_started"]
    assert {"ringing", "accepted", "handled_live", "call_ended"} <= set(kinds)


async def test_no_answer_then_second_then_voicemail_with_transcript(rig: Rig) -> None:
    rig.available("sara", "emily")
    call = new_sid()
    first = await rig.twilio.incoming(call, ACME)
    assert dialled(first) == "sara"
    second = await rig.twilio.dial_result(first, call, ACME, "no-answer")
    assert second.verbs() == ["Dial"]
    assert dialled(second) == "emily"
    assert rig.status_of("sara") is PresenceStatus.AVAILABLE  # released, not tried again
    # Emily's leg hears the whisper but does not press 1: her leg hangs up.
    hung = await rig.twilio.answer_whisper(second, call, digits="")
    assert hung.verbs() == ["Hangup"]
    # david is a backup, and available backups are tried before voicemail;
    # he is offline here, so voicemail it is.
    third = await rig.twilio.dial_result(second, call, ACME, "completed")
    assert third.verbs() == ["Say", "Record"]
    record = third.find("Record")
    assert record.attrib["transcribe"] == "true"
    assert record.attrib["recordingStatusCallback"].startswith("/twilio/voice/recording")
    await rig.twilio.voicemail(
        third, call, ACME, seconds=14, text="Please move my cleaning to Friday."
    )
    await rig.twilio.hang_up(call, ACME, duration=60)

    await rig.persist()
    assert run_worker(rig.settings, burst=True)
    item = rig.item(call)
    assert item.status is ItemStatus.QUEUED
    assert item.pool == "tenant:acme-dental"
    assert item.body == "Please move my cleaning to Friday."
    assert item.payload["call"]["recording"]["duration"] == 14
    kinds = rig.event_kinds(call)
    assert kinds.count("not_answered") == 2
    assert {"voicemail_offered", "voicemail", "transcribed", "queued"} <= set(kinds)


async def test_a_short_silent_voicemail_is_a_hang_up(rig: Rig) -> None:
    call = new_sid()
    first = await rig.twilio.incoming(call, ACME)  # nobody available: straight to voicemail
    assert first.verbs() == ["Say", "Say", "Record"]
    await rig.twilio.voicemail(first, call, ACME, seconds=1, text=None)
    await rig.twilio.hang_up(call, ACME, duration=9)
    await rig.persist()
    item = rig.item(call)
    assert (item.status, item.outcome, item.priority) == (
        ItemStatus.COMPLETED,
        "hang_up",
        Priority.LOW,
    )


@pytest.mark.parametrize(
    ("params", "skill", "secretary"),
    [
        ({"Digits": "2"}, "accounting", "maryam"),
        (
            {"SpeechResult": "سلام، می‌خواستم برای فردا نوبت بگیرم", "Confidence": "0.9"},
            "scheduling",
            "reza",
        ),
        ({}, None, "maryam"),
    ],
    ids=["digit", "persian-speech", "no-input"],
)
async def test_ivr_routes_by_digit_or_speech(
    rig: Rig, params: dict[str, str], skill: str | None, secretary: str
) -> None:
    rig.available("maryam", "reza")  # maryam has waited longest
    call = new_sid()
    menu = await rig.twilio.incoming(call, PARS)
    gather = menu.find("Gather")
    assert gather.attrib["input"] == "speech dtmf"
    assert gather.attrib["language"] == "fa-IR"
    assert gather.attrib["action"] == "/twilio/voice/gather"
    routed = await rig.twilio.post(
        "/twilio/voice/gather", {**rig.twilio.call_params(call, PARS), **params}
    )
    assert dialled(routed) == secretary
    await rig.persist()
    assert rig.item(call).category == skill


async def test_after_hours_forward_and_voicemail(rig: Rig) -> None:
    rig.available("emily")
    call = new_sid()
    closed = await rig.twilio.incoming(call, HUDSON)  # 07:00 in New York
    assert closed.verbs() == ["Say", "Dial"]
    assert closed.find("Dial").text == "+12125550177"
    assert rig.status_of("emily") is PresenceStatus.AVAILABLE  # nobody was rung
    await rig.persist()
    assert rig.item(call).outcome == "forwarded"

    # Pars Clinic is closed on Thursday: its policy is voicemail.
    rig.clock.now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    rig.available("reza")
    night = new_sid()
    message = await rig.twilio.incoming(night, PARS)
    assert message.verbs() == ["Say", "Say", "Record"]
    assert "transcribe" not in message.find("Record").attrib  # Twilio transcribes English only
    assert rig.status_of("reza") is PresenceStatus.AVAILABLE


async def test_vip_and_repeat_callers(rig: Rig) -> None:
    rig.available("sara")
    vip_call = new_sid()
    first = await rig.twilio.incoming(vip_call, ACME, caller="+12125550188")
    number = first.find("Dial/Number")
    whisper = await rig.twilio.post(
        number.attrib["url"],
        {"CallSid": new_sid(), "ParentCallSid": vip_call, "To": number.text or ""},
    )
    assert "ویژه" in whisper.text()  # sara's whisper is in Persian: "a VIP caller"

    again = new_sid()
    await rig.twilio.incoming(again, ACME, caller="+12125550188")
    plain = new_sid()
    await rig.twilio.incoming(plain, ACME, caller="+12125550100")
    repeat = new_sid()
    await rig.twilio.incoming(repeat, ACME, caller="+12125550100")
    await rig.persist()
    assert rig.item(vip_call).priority is Priority.URGENT
    assert rig.item(plain).priority is Priority.NORMAL
    assert rig.item(repeat).priority is Priority.HIGH
    assert rig.item(repeat).payload["call"]["tags"] == ["repeat"]
    assert rig.item(again).payload["call"]["tags"] == ["vip", "repeat"]


async def test_every_webhook_retried_gives_the_same_answer_and_no_second_effect(rig: Rig) -> None:
    rig.available("sara", "emily")
    call = new_sid()
    first = await rig.twilio.incoming(call, ACME)
    retry = await rig.twilio.incoming(call, ACME)
    assert dialled(retry) == dialled(first) == "sara"
    assert rig.status_of("emily") is PresenceStatus.AVAILABLE  # no second reservation

    second = await rig.twilio.dial_result(first, call, ACME, "no-answer")
    second_again = await rig.twilio.dial_result(first, call, ACME, "no-answer")
    assert dialled(second) == dialled(second_again) == "emily"
    voicemail = await rig.twilio.dial_result(second, call, ACME, "busy")
    recording = await rig.twilio.voicemail(voicemail, call, ACME, seconds=20, text="Hi")
    await rig.twilio.hang_up(call, ACME, duration=50)
    await rig.twilio.voicemail(
        voicemail, call, ACME, seconds=20, text="Hi", recording_sid=recording
    )
    await rig.twilio.hang_up(call, ACME, duration=50)
    await rig.persist()
    repository = rig.app[REPOSITORY]
    assert repository.count_items() == 1
    kinds = rig.event_kinds(call)
    assert kinds.count("ringing") == 2
    assert kinds.count("voicemail") == 1
    assert kinds.count("transcribed") == 1
    assert kinds.count("call_ended") == 1
    assert kinds.count("received") == 1


async def test_a_retry_with_the_idempotency_token_is_answered_from_the_cache(rig: Rig) -> None:
    rig.available("sara", "emily")
    call = new_sid()
    headers = {"I-Twilio-Idempotency-Token": "token-123"}
    params = rig.twilio.call_params(call, ACME)
    first = await rig.twilio.post("/twilio/voice", params, headers)
    again = await rig.twilio.post("/twilio/voice", params, headers)
    assert dialled(first) == dialled(again)


async def test_twenty_simultaneous_calls_never_ring_anyone_twice(rig: Rig) -> None:
    # One call first, so the scripts are loaded in Redis before the burst.
    await rig.twilio.incoming(new_sid(), "+12125550100")
    rig.available("sara", "emily", "david")
    calls = [new_sid() for _ in range(20)]
    answers = await asyncio.gather(*(rig.twilio.incoming(call, ACME) for call in calls))
    rung = [dialled(answer) for answer in answers if answer.has("Dial/Number")]
    messages = sum(1 for answer in answers if answer.has("Record"))
    # On a loaded machine a call may miss the 500 ms budget: it is then forwarded to
    # Acme's own number from memory, which is valid too, and rings no secretary.
    forwarded = sum(1 for answer in answers if answer.has("Dial") and not answer.has("Dial/Number"))
    assert len(rung) == len(set(rung))  # nobody is rung for two calls
    assert len(rung) + messages + forwarded == 20
    if forwarded == 0:
        assert sorted(rung) == ["david", "emily", "sara"]
    else:
        assert set(rung) <= {"david", "emily", "sara"}
    await rig.persist()
    await rig.app[SPOOL].replay(rig.app[CALLS])
    await rig.persist()
    assert rig.app[REPOSITORY].count_items() == 21


async def test_unknown_number_takes_a_message_for_supervisors(rig: Rig) -> None:
    call = new_sid()
    answer = await rig.twilio.incoming(call, "+12125550100")
    assert answer.verbs() == ["Say", "Record"]
    # The same caller again: the first round trip does not commit a call it sees a
    # previous one for; the second does, and there is no repeat for no client.
    again = new_sid()
    second = await rig.twilio.incoming(again, "+12125550100")
    assert second.verbs() == ["Say", "Record"]
    retried = await rig.twilio.incoming(again, "+12125550100")
    assert retried.text() == second.text()
    await rig.persist()
    assert rig.item(call).tenant_id is None
    assert rig.item(again).tenant_id is None and rig.item(again).priority is Priority.NORMAL
    assert rig.app[REPOSITORY].count_items() == 2


async def test_fallback_url_takes_a_voicemail_without_redis_or_database(rig: Rig) -> None:
    call = new_sid()
    answer = await rig.twilio.post(
        "/twilio/voice/fallback", {**rig.twilio.call_params(call, ACME), "ErrorCode": "11200"}
    )
    assert answer.verbs() == ["Say", "Say", "Record"]
    assert answer.find("Say").text == "Thank you for calling Acme Dental."
    spool = rig.app[SPOOL]
    assert len(spool.pending()) == 1
    await spool.replay(rig.app[CALLS])
    await rig.persist()
    assert "answered_by_fallback" in rig.event_kinds(call)


@pytest.mark.parametrize(
    ("params", "skill", "language", "secretary"),
    [
        (
            {"SpeechResult": "Hi, I need to pay my last invoice", "Confidence": "0.8"},
            "accounting",
            "en",
            "emily",
        ),
        ({"Digits": "9"}, None, "fa", "sara"),
        ({"SpeechResult": "umm hello", "Confidence": "0.4"}, None, "en", "sara"),
    ],
    ids=["english-speech", "digit-for-persian", "speech-without-cue"],
)
async def test_bilingual_ivr_routes_by_english_speech_or_language_digit(
    rig: Rig, params: dict[str, str], skill: str | None, language: str, secretary: str
) -> None:
    rig.available("sara", "emily")  # sara has waited longest
    # 12:00 UTC on Wednesday is 07:00 in Toronto, before opening: move to 15:00 UTC.
    rig.clock.now = WEDNESDAY_NOON_UTC.replace(hour=15)
    call = new_sid()
    menu = await rig.twilio.incoming(call, CASPIAN)
    assert menu.find("Gather").attrib["language"] == "en-US"
    routed = await rig.twilio.post(
        "/twilio/voice/gather", {**rig.twilio.call_params(call, CASPIAN), **params}
    )
    assert dialled(routed) == secretary
    await rig.persist()
    item = rig.item(call)
    assert (item.category, item.language) == (skill, language)


async def test_after_hours_rings_the_on_call_secretary(rig: Rig) -> None:
    rig.available("emily", "david")  # emily is assigned but not on call
    call = new_sid()
    answer = await rig.twilio.incoming(call, CASPIAN)  # 07:00 in Toronto: closed
    assert dialled(answer) == "david"
    assert rig.status_of("emily") is PresenceStatus.AVAILABLE


async def test_ivr_speech_is_read_by_the_category_model_once_loaded(rig: Rig) -> None:
    """The keyword rules would say accounting ("refund"); the model hears a complaint."""
    registry = rig.app[MODELS]
    assert registry is not None and registry.load_existing() is not None
    rig.available("sara", "emily")
    rig.clock.now = WEDNESDAY_NOON_UTC.replace(hour=15)  # Caspian Travel is open
    call = new_sid()
    await rig.twilio.incoming(call, CASPIAN)
    speech = {"SpeechResult": "I never got my refund back", "Confidence": "0.9"}
    routed = await rig.twilio.post(
        "/twilio/voice/gather", {**rig.twilio.call_params(call, CASPIAN), **speech}
    )
    assert dialled(routed) == "emily"  # the one with the support skill
    await rig.persist()
    item = rig.item(call)
    assert item.category == "support"
    assert "support" in item.payload["call"]["ivr"]["reason"]


async def test_web_processes_sharing_a_spool_replay_each_file_once(rig: Rig) -> None:
    """Replicas on one host (`monshi web --reuse-port`) share the spool directory."""
    from triage.store.calls import CALL_EVENTS_STREAM
    from triage.web.spool import Spool

    calls = [new_sid() for _ in range(12)]
    for call in calls:
        answer = await rig.twilio.post(
            "/twilio/voice/fallback", {**rig.twilio.call_params(call, ACME), "ErrorCode": "11200"}
        )
        assert answer.verbs()[-1] == "Record"
    directory = rig.app[SPOOL].directory
    files = Spool(directory).pending()
    assert len(files) == 12
    spooled = sum(len(json.loads(path.read_text(encoding="utf-8"))) for path in files)
    stream = rig.app[ASYNC_REDIS]
    before = await stream.xlen(CALL_EVENTS_STREAM)
    moved = await asyncio.gather(
        Spool(directory).replay(rig.app[CALLS]), Spool(directory).replay(rig.app[CALLS])
    )
    assert sum(moved) == 12 and Spool(directory).pending() == []
    added = await stream.xlen(CALL_EVENTS_STREAM) - before
    await rig.persist()
    for call in calls:
        assert rig.event_kinds(call).count("answered_by_fallback") == 1
    assert added == spooled  # every spooled event went into the stream once
