"""When Redis stops or stalls mid-call, callers still get valid TwiML and nothing is lost."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import free_port, start_redis
from tests.test_voice import WEDNESDAY_NOON_UTC, Clock, Rig
from tests.voice_support import ACME, PARS, FakeTwilio, configure, new_sid
from triage.settings import Settings
from triage.web.app import create_app
from triage.web.state import CALLS, CLOCK, SPOOL


@dataclasses.dataclass
class OwnRedis:
    port: int
    workdir: Path
    process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis(self.port, self.workdir)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A Redis this test may stop and start again on the same port."""
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
async def rig(aiohttp_client: Any, settings: Settings, tmp_path: Path, own_redis: OwnRedis) -> Rig:
    settings = dataclasses.replace(
        settings, redis_url=own_redis.url, spool_dir=str(tmp_path / "spool")
    )
    configure(settings, tmp_path)
    app = create_app(settings, background=False)
    clock = Clock(WEDNESDAY_NOON_UTC)
    app[CLOCK] = clock
    client = await aiohttp_client(app)
    return Rig(clock, app, client, FakeTwilio(client, settings), settings)


async def test_redis_stopped_mid_test_callers_get_fallback_and_calls_are_recorded_later(
    rig: Rig, own_redis: OwnRedis
) -> None:
    rig.available("sara")
    before = new_sid()
    assert (await rig.twilio.incoming(before, ACME)).has("Dial/Number")

    own_redis.stop()
    started = time.monotonic()
    forwarded = new_sid()
    answer = await rig.twilio.incoming(forwarded, ACME)
    assert time.monotonic() - started < 1.0
    # Acme has a fallback number: the call goes there, in Acme's name.
    assert answer.verbs() == ["Say", "Dial"]
    assert answer.find("Say").text == "Thank you for calling Acme Dental."
    assert answer.find("Dial").text == "+12125550199"
    # Pars Clinic has none: a voicemail, whose callbacks are spooled as well.
    message = new_sid()
    record = await rig.twilio.incoming(message, PARS)
    assert record.verbs() == ["Say", "Say", "Record"]
    await rig.twilio.voicemail(record, message, PARS, seconds=12, text=None)
    ready = await rig.client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["failing"] == ["redis"]
    assert len(rig.app[SPOOL].pending()) == 3

    own_redis.start()
    await rig.app[SPOOL].replay(rig.app[CALLS])
    assert rig.app[SPOOL].pending() == []
    await rig.persist()
    assert rig.item(forwarded).outcome == "forwarded"
    assert "answered_by_fallback" in rig.event_kinds(forwarded)
    voicemail = rig.item(message)
    assert voicemail.tenant_id == "pars-clinic"
    assert voicemail.payload["call"]["recording"]["duration"] == 12


async def test_a_stalled_redis_is_given_up_on_after_half_a_second(
    rig: Rig, own_redis: OwnRedis
) -> None:
    pauser = redis.Redis.from_url(own_redis.url)
    pauser.execute_command("CLIENT", "PAUSE", "3000", "ALL")
    started = time.monotonic()
    answer = await rig.twilio.incoming(new_sid(), ACME)
    elapsed = time.monotonic() - started
    pauser.execute_command("CLIENT", "UNPAUSE")
    pauser.close()
    assert 0.45 < elapsed < 1.5
    assert answer.find("Dial").text == "+12125550199"
    assert len(rig.app[SPOOL].pending()) == 1
