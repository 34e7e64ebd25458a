"""Presence and call reservations against the private Redis, with a clock the tests drive."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from triage.errors import PresenceConflict
from triage.presence import PresenceState, PresenceStatus, effective_status
from triage.store.presence import Presence, presence_key, reservation_key

T0 = 1_750_000_000.25  # a float with a fraction, so lost precision would show
RING = 20
HOLD = RING + 30  # how long a reservation lasts


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def presence(connection: redis.Redis, clock: Clock) -> Presence:
    return Presence(connection, clock)


def status(presence: Presence, secretary_id: str) -> PresenceStatus:
    return presence.state(secretary_id).status


def make_available(presence: Presence, clock: Clock, *ids_oldest_first: str) -> None:
    """Each secretary becomes available one second after the previous one."""
    for secretary_id in ids_oldest_first:
        presence.set_status(secretary_id, PresenceStatus.AVAILABLE)
        clock.advance(1)


# -- the rule, on plain values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "until", "reserved", "expected"),
    [
        (None, None, False, "offline"),
        ("available", None, False, "available"),
        ("break", None, False, "break"),
        ("offline", None, False, "offline"),
        ("available", None, True, "ringing"),
        ("break", None, True, "ringing"),
        ("on_call", None, True, "on_call"),
        ("on_call", None, False, "on_call"),
        ("wrap_up", T0 + 1, False, "wrap_up"),
        ("wrap_up", T0, False, "available"),
        ("wrap_up", T0 - 1, True, "ringing"),
    ],
)
def test_effective_status_rule(
    stored: str | None, until: float | None, reserved: bool, expected: str
) -> None:
    assert effective_status(stored, until=until, reserved=reserved, now=T0) == expected


# -- manual statuses -------------------------------------------------------------------


def test_a_secretary_never_seen_is_offline(presence: Presence) -> None:
    state = presence.state("sara")
    assert (state.status, state.since, state.idle_since, state.call_sid) == (
        "offline",
        0.0,
        0.0,
        None,
    )


def test_set_status_keeps_since_and_idle_time_unless_the_status_changes(
    presence: Presence, clock: Clock
) -> None:
    state = presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert (state.status, state.since, state.idle_since) == ("available", T0, T0)
    clock.advance(10)
    state = presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert (state.since, state.idle_since) == (T0, T0)
    state = presence.set_status("sara", PresenceStatus.BREAK)
    assert (state.status, state.since, state.idle_since) == ("break", T0 + 10, T0)
    clock.advance(5)
    state = presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert (state.status, state.since, state.idle_since) == ("available", T0 + 15, T0 + 15)
    assert presence.state("sara") == state


def test_the_system_statuses_cannot_be_set_by_hand(presence: Presence) -> None:
    for system_status in (PresenceStatus.RINGING, PresenceStatus.ON_CALL, PresenceStatus.WRAP_UP):
        with pytest.raises(ValueError, match="set by the system"):
            presence.set_status("sara", system_status)
    assert status(presence, "sara") == "offline"


def test_states_reads_many_secretaries_in_one_round_trip(
    presence: Presence, clock: Clock, connection: redis.Redis
) -> None:
    make_available(presence, clock, "sara", "reza")
    presence.set_status("maryam", PresenceStatus.BREAK)
    ids = ["sara", "reza", "maryam", "nobody"]
    presence.states(ids)  # loads the script
    connection.config_resetstat()
    states = presence.states(ids)
    calls = {
        name: stats["calls"]
        for name, stats in connection.info("commandstats").items()
        if name not in {"cmdstat_info", "cmdstat_config|resetstat"}
    }
    assert calls.pop("cmdstat_evalsha") == 1
    assert set(calls) <= {"cmdstat_hgetall", "cmdstat_get"}  # run inside the script
    assert {key: state.status.value for key, state in states.items()} == {
        "sara": "available",
        "reza": "available",
        "maryam": "break",
        "nobody": "offline",
    }
    assert presence.states([]) == {}


def test_a_connection_that_decodes_responses_works_too(redis_url: str, clock: Clock) -> None:
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        presence = Presence(client, clock)
        presence.set_status("sara", PresenceStatus.AVAILABLE)
        assert presence.reserve([["sara"]], "CA1", RING) == "sara"
        assert presence.state("sara").call_sid == "CA1"


# -- the clock: wrap-up and reservations run out -------------------------------------------


def test_wrap_up_ends_by_the_clock_and_she_is_idle_from_then(
    presence: Presence, clock: Clock
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    clock.advance(3)
    assert presence.start_call("sara", "CA1")
    clock.advance(60)
    assert presence.end_call("sara", "CA1", wrap_up_seconds=30)
    end = T0 + 63 + 30
    assert presence.state("sara") == PresenceState(
        "sara", PresenceStatus.WRAP_UP, T0 + 63, end, "CA1", end
    )
    assert presence.reserve([["sara"]], "CA2", RING) is None
    clock.advance(29.5)
    assert status(presence, "sara") == "wrap_up"
    clock.advance(0.5)
    state = presence.state("sara")
    assert (state.status, state.since, state.until, state.idle_since) == (
        "available",
        end,
        None,
        end,
    )
    assert presence.reserve([["sara"]], "CA2", RING) == "sara"


def test_a_reservation_lapses_by_the_clock(
    presence: Presence, clock: Clock, connection: redis.Redis
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    clock.advance(5)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert 0 < connection.ttl(reservation_key("sara")) <= HOLD
    state = presence.state("sara")
    assert (state.status, state.since, state.until, state.call_sid) == (
        "ringing",
        T0 + 5,
        T0 + 5 + HOLD,
        "CA1",
    )
    clock.advance(HOLD - 0.1)
    assert status(presence, "sara") == "ringing"
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"  # still hers
    clock.advance(0.1)
    state = presence.state("sara")
    assert (state.status, state.idle_since, state.call_sid) == ("available", T0, None)
    assert not presence.start_call("sara", "CA1")  # too late to answer
    assert presence.reserve([["sara"]], "CA2", RING) == "sara"  # the stale key is replaced
    assert connection.get(reservation_key("sara")) == b"CA2"


def test_a_reservation_ends_when_redis_expires_its_key(
    presence: Presence, connection: redis.Redis
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    connection.pexpire(reservation_key("sara"), 1)
    deadline = time.monotonic() + 5
    while connection.exists(reservation_key("sara")) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert status(presence, "sara") == "available"
    assert presence.reserve([["sara"]], "CA2", RING) == "sara"


# -- reserve ----------------------------------------------------------------------------


def test_reserve_rings_primaries_before_backups(presence: Presence, clock: Clock) -> None:
    make_available(presence, clock, "maryam", "sara", "reza")  # maryam idle longest
    tiers = [["sara", "reza"], ["maryam"]]
    assert presence.reserve(tiers, "CA1", RING) == "sara"
    assert presence.reserve(tiers, "CA2", RING) == "reza"
    assert presence.reserve(tiers, "CA3", RING) == "maryam"
    assert presence.reserve(tiers, "CA4", RING) is None


def test_reserve_rings_the_longest_idle_first_then_by_id(presence: Presence, clock: Clock) -> None:
    make_available(presence, clock, "zahra", "reza")
    presence.set_status("ali", PresenceStatus.AVAILABLE)
    presence.set_status("bahar", PresenceStatus.AVAILABLE)  # same second as ali
    tier = ["bahar", "ali", "reza", "zahra"]
    picks = [presence.reserve([tier], f"CA{n}", RING) for n in range(5)]
    assert picks == ["zahra", "reza", "ali", "bahar", None]


def test_reserve_skips_everyone_who_is_not_available(presence: Presence, clock: Clock) -> None:
    make_available(presence, clock, "ringing", "on-call", "wrap-up", "free")
    presence.set_status("break", PresenceStatus.BREAK)
    presence.set_status("offline", PresenceStatus.OFFLINE)
    assert presence.reserve([["ringing"]], "CA-R", RING) == "ringing"
    assert presence.reserve([["on-call"]], "CA-O", RING) == "on-call"
    assert presence.start_call("on-call", "CA-O")
    assert presence.reserve([["wrap-up"]], "CA-W", RING) == "wrap-up"
    assert presence.start_call("wrap-up", "CA-W")
    assert presence.end_call("wrap-up", "CA-W", wrap_up_seconds=30)
    busy = ["never-seen", "break", "offline", "ringing", "on-call", "wrap-up"]
    assert presence.reserve([busy], "CA1", RING) is None
    assert presence.reserve([busy, [*busy, "free"]], "CA1", RING) == "free"


def test_reserve_is_idempotent_per_call(presence: Presence, clock: Clock) -> None:
    make_available(presence, clock, "sara", "reza", "maryam")
    assert presence.reserve([["sara", "reza"]], "CA1", RING) == "sara"
    clock.advance(10)
    # The retried webhook gets sara again, even with her listed in another tier.
    assert presence.reserve([["reza"], ["maryam", "sara"]], "CA1", RING) == "sara"
    assert presence.state("sara").until == T0 + 3 + HOLD  # not extended
    assert status(presence, "reza") == "available"
    assert presence.reserve([["sara", "reza"]], "CA2", RING) == "reza"
    assert presence.reserve([], "CA3", RING) is None


@pytest.mark.parametrize(
    "scenario",
    [
        "never seen",
        "available",
        "break",
        "offline",
        "ringing",
        "on call",
        "wrap-up",
        "wrap-up over",
        "reservation lapsed",
        "released",
        "break while ringing",
        "break while ringing, released",
    ],
)
def test_python_and_lua_agree_on_who_is_available(
    presence: Presence, clock: Clock, scenario: str
) -> None:
    setups: dict[str, Callable[[], object]] = {
        "never seen": lambda: None,
        "available": lambda: presence.set_status("sara", PresenceStatus.AVAILABLE),
        "break": lambda: presence.set_status("sara", PresenceStatus.BREAK),
        "offline": lambda: presence.set_status("sara", PresenceStatus.OFFLINE),
        "ringing": lambda: presence.reserve([["sara"]], "CA0", RING),
        "on call": lambda: presence.start_call("sara", "CA0"),
        "wrap-up": lambda: presence.end_call("sara", "CA0", 30),
        "wrap-up over": lambda: clock.advance(30),
        "reservation lapsed": lambda: clock.advance(HOLD),
        "released": lambda: presence.release("sara", "CA0"),
        "break while ringing": lambda: presence.set_status("sara", PresenceStatus.BREAK),
        "break while ringing, released": lambda: presence.release("sara", "CA0"),
    }
    steps = {
        "never seen": [],
        "available": ["available"],
        "break": ["break"],
        "offline": ["offline"],
        "ringing": ["available", "ringing"],
        "on call": ["available", "ringing", "on call"],
        "wrap-up": ["available", "ringing", "on call", "wrap-up"],
        "wrap-up over": ["available", "ringing", "on call", "wrap-up", "wrap-up over"],
        "reservation lapsed": ["available", "ringing", "reservation lapsed"],
        "released": ["available", "ringing", "released"],
        "break while ringing": ["available", "ringing", "break while ringing"],
        "break while ringing, released": [
            "available",
            "ringing",
            "break while ringing",
            "break while ringing, released",
        ],
    }[scenario]
    for step in steps:
        setups[step]()
    python_says_available = status(presence, "sara") == "available"
    lua_says_available = presence.reserve([["sara"]], "CA-probe", RING) == "sara"
    assert python_says_available == lua_says_available
    expected_available = scenario in {"available", "wrap-up over", "reservation lapsed", "released"}
    assert python_says_available == expected_available


# -- release, start_call, end_call: compare and set -------------------------------------------


def test_release_only_for_the_call_she_is_reserved_for(
    presence: Presence, clock: Clock, connection: redis.Redis
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    clock.advance(5)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert not presence.release("sara", "CA-stale")
    assert not presence.release("reza", "CA1")
    assert presence.state("sara").status == "ringing"
    assert presence.release("sara", "CA1")
    state = presence.state("sara")
    assert (state.status, state.since, state.idle_since, state.call_sid) == (
        "available",
        T0,
        T0,
        None,
    )
    assert not connection.exists(reservation_key("sara"))
    assert not presence.release("sara", "CA1")


def test_a_break_taken_while_ringing_survives_the_release(presence: Presence) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert presence.set_status("sara", PresenceStatus.BREAK).status == "ringing"
    assert presence.release("sara", "CA1")
    assert status(presence, "sara") == "break"


def test_start_call_only_for_her_live_reservation_and_idempotent(
    presence: Presence, clock: Clock, connection: redis.Redis
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert not presence.start_call("sara", "CA1")  # no reservation
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert not presence.start_call("sara", "CA-stale")
    assert status(presence, "sara") == "ringing"
    clock.advance(4)
    assert presence.start_call("sara", "CA1")
    state = presence.state("sara")
    assert (state.status, state.since, state.call_sid) == ("on_call", T0 + 4, "CA1")
    assert not connection.exists(reservation_key("sara"))
    clock.advance(1)
    assert presence.start_call("sara", "CA1")  # a retry
    assert presence.state("sara") == state
    assert not presence.start_call("sara", "CA-other")
    assert not presence.release("sara", "CA1")  # answered: nothing to release
    assert presence.state("sara") == state


def test_no_manual_status_while_on_call(presence: Presence) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert presence.start_call("sara", "CA1")
    for manual in (PresenceStatus.AVAILABLE, PresenceStatus.BREAK, PresenceStatus.OFFLINE):
        with pytest.raises(PresenceConflict, match="on a call"):
            presence.set_status("sara", manual)
    assert status(presence, "sara") == "on_call"


def test_end_call_only_for_her_call_and_idempotent(
    presence: Presence, clock: Clock, connection: redis.Redis
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert not presence.end_call("sara", "CA1", 30)  # ringing, not on the call
    assert presence.start_call("sara", "CA1")
    before = connection.hgetall(presence_key("sara"))
    assert not presence.end_call("sara", "CA-stale", 30)
    assert not presence.end_call("reza", "CA1", 30)
    assert connection.hgetall(presence_key("sara")) == before
    clock.advance(100)
    assert presence.end_call("sara", "CA1", 30)
    wrapped = presence.state("sara")
    assert (wrapped.status, wrapped.until) == ("wrap_up", T0 + 130)
    clock.advance(10)
    assert presence.end_call("sara", "CA1", 30)  # a retry changes nothing
    assert presence.state("sara") == wrapped
    # Available again before wrap-up ends: idle from now.
    state = presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert (state.status, state.since, state.idle_since) == ("available", T0 + 110, T0 + 110)
    assert not presence.end_call("sara", "CA1", 30)


def test_a_break_cuts_wrap_up_short(presence: Presence, clock: Clock) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    assert presence.reserve([["sara"]], "CA1", RING) == "sara"
    assert presence.start_call("sara", "CA1")
    assert presence.end_call("sara", "CA1", 30)
    clock.advance(5)
    state = presence.set_status("sara", PresenceStatus.BREAK)
    assert (state.status, state.since, state.until) == ("break", T0 + 5, None)
    clock.advance(60)
    assert status(presence, "sara") == "break"


# -- concurrency: real threads, a connection each ------------------------------------------


def make_presences(redis_url: str, count: int) -> list[tuple[redis.Redis, Presence]]:
    pairs = []
    for _ in range(count):
        client = redis.Redis.from_url(redis_url)
        pairs.append((client, Presence(client)))
    return pairs


def test_twenty_simultaneous_calls_three_secretaries(
    redis_url: str, connection: redis.Redis
) -> None:
    setup = Presence(connection)
    for secretary_id in ("sara", "reza", "maryam"):
        setup.set_status(secretary_id, PresenceStatus.AVAILABLE)
    pairs = make_presences(redis_url, 20)
    start = threading.Barrier(20)

    def one_call(n: int) -> str | None:
        _, presence = pairs[n]
        start.wait(timeout=10)
        return presence.reserve([["sara", "reza"], ["maryam"]], f"CA{n:02d}", RING)

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one_call, range(20)))
    finally:
        for client, _ in pairs:
            client.close()
    reserved = [secretary for secretary in results if secretary is not None]
    assert sorted(reserved) == ["maryam", "reza", "sara"]
    assert results.count(None) == 17
    assert len(list(connection.scan_iter(reservation_key("*")))) == 3
    holders = {connection.get(reservation_key(s)) for s in ("sara", "reza", "maryam")}
    calls = {f"CA{n:02d}".encode() for n, secretary in enumerate(results) if secretary}
    assert holders == calls
    assert {state.status for state in setup.states(["sara", "reza", "maryam"]).values()} == {
        "ringing"
    }


def test_reservations_with_releases_never_double_book(
    redis_url: str, connection: redis.Redis
) -> None:
    setup = Presence(connection)
    for secretary_id in ("sara", "reza", "maryam"):
        setup.set_status(secretary_id, PresenceStatus.AVAILABLE)
    threads, rounds = 12, 40
    pairs = make_presences(redis_url, threads)
    lock = threading.Lock()
    holding: Counter[str] = Counter()
    double_booked: list[str] = []
    served: Counter[str] = Counter()
    start = threading.Barrier(threads)

    def caller(n: int) -> int:
        _, presence = pairs[n]
        start.wait(timeout=10)
        failed_releases = 0
        for round_ in range(rounds):
            call_sid = f"CA{n:02d}-{round_:03d}"
            secretary = presence.reserve([["sara", "reza"], ["maryam"]], call_sid, RING)
            if secretary is None:
                continue
            with lock:
                holding[secretary] += 1
                served[secretary] += 1
                if holding[secretary] > 1:
                    double_booked.append(f"{secretary} for {call_sid}")
            time.sleep(0.001)
            with lock:
                holding[secretary] -= 1
            failed_releases += not presence.release(secretary, call_sid)
        return failed_releases

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            failed = sum(pool.map(caller, range(threads)))
    finally:
        for client, _ in pairs:
            client.close()
    assert double_booked == []
    assert failed == 0
    assert set(served) == {"sara", "reza", "maryam"}
    assert sum(served.values()) >= rounds  # the three were busy over and over
    assert {state.status for state in setup.states(["sara", "reza", "maryam"]).values()} == {
        "available"
    }
