"""Claims and leases on SQLite and PostgreSQL: the SQL agrees with the pure rules, leases
run out and come back, and 50 parallel claimers take 2,000 items each exactly once."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from tests.factories import add_secretary, add_tenant
from triage.constants import QUEUE_DEFAULT
from triage.errors import Forbidden, InvalidTransition, LeaseExpired
from triage.models import AssignmentKind, WorkItem
from triage.routing import best_eligible
from triage.store import claims
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.repository import Repository
from triage.store.rows import item_from_row
from triage.store.tables import assignments, item_events, secretaries, work_items
from triage.voice import Routing as VoiceRouting
from triage.voice import hunt_tiers
from triage.web.directory_cache import DirectoryCache
from workers import context, leases
from workers.dispatch import Dispatcher

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)
_sids = itertools.count(1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(repo: Repository, clock: Clock) -> Repository:
    """Two tenants; sara primary of acme, reza primary of pars, maryam a supervisor backing acme."""
    add_tenant(repo.engine, "acme", "+15550100001")
    add_tenant(repo.engine, "pars", "+982100000001", language="fa")
    add_secretary(repo.engine, "sara", tenants_primary=["acme"], capacity=2)
    add_secretary(repo.engine, "reza", tenants_primary=["pars"])
    add_secretary(repo.engine, "maryam", role="supervisor", tenants_backup=["acme"])
    return Repository(repo.engine, clock=clock, lease=LEASE)


def add_items(repository: Repository, rows: list[dict[str, Any]]) -> list[int]:
    """Queued items written straight in (bulk), in the given order; returns their ids."""
    base = {
        "channel": "sms",
        "status": "queued",
        "priority_rank": 2,
        "sender": "+15550000001",
        "recipient": "+15550100001",
        "subject": "",
        "body": "",
        "language": "en",
        "payload": {},
        "created_at": START - timedelta(hours=1),
        "updated_at": START - timedelta(hours=1),
        "escalation": 0,
        # Every row names every column: an executemany takes its columns from the first.
        "required_skill": None,
        "pinned_to": None,
        "due_at": None,
        "backup_at": None,
        "snoozed_until": None,
    }
    values = []
    for row in rows:
        value = {**base, "external_id": f"SM{next(_sids)}", **row}
        tenant = value.setdefault("tenant_id", "acme")
        value.setdefault("pool", f"tenant:{tenant}" if tenant else "unmatched")
        values.append(value)
    statement = work_items.insert().returning(work_items.c.id, sort_by_parameter_order=True)
    with repository.engine.begin() as connection:
        return list(connection.scalars(statement, values))


def secretary_of(repository: Repository, secretary_id: str) -> Any:
    return repository.secretary(secretary_id)


# -- the SQL and the pure rules agree ---------------------------------------------------------


def random_world(repository: Repository, rng: random.Random) -> None:
    tenants = ["t0", "t1", "t2", "t3"]
    for n, tenant in enumerate(tenants):
        add_tenant(repository.engine, tenant, f"+1555020000{n}")
    people = [f"p{n}" for n in range(8)]
    with repository.engine.begin() as connection:
        for person in people:
            connection.execute(
                secretaries.insert().values(
                    id=person,
                    name=person,
                    role=rng.choice(["secretary"] * 4 + ["supervisor", "admin"]),
                    languages=rng.choice([["fa"], ["en"], ["fa", "en"], ["en", "fa"]]),
                    skills=rng.sample(["scheduling", "accounting", "travel"], rng.randint(0, 2)),
                    capacity=1000,
                    phone="+15550300000",
                    settings={},
                )
            )
            for tenant in rng.sample(tenants, rng.randint(0, 3)):
                connection.execute(
                    assignments.insert().values(
                        tenant_id=tenant,
                        secretary_id=person,
                        kind=rng.choice(["primary", "backup"]),
                    )
                )
    minutes = [timedelta(minutes=m) for m in (-30, -1, 0, 1, 30)]
    rows = []
    for _ in range(300):
        tenant = rng.choice([*tenants, None])
        pool = rng.choice(
            [f"tenant:{tenant}" if tenant else "unmatched"] * 8 + ["spam", "unmatched", "tenant:t0"]
        )
        rows.append(
            {
                "tenant_id": tenant,
                "pool": pool,
                "priority_rank": rng.randint(0, 3),
                "language": rng.choice(["fa", "en", None]),
                "required_skill": rng.choice([None, None, "scheduling", "accounting", "travel"]),
                "pinned_to": rng.choice([None] * 6 + people[:3]),
                "due_at": rng.choice([None, START + rng.choice(minutes)]),
                # Few distinct times, so ties fall through to the next key and to the id.
                "created_at": START - timedelta(minutes=rng.randint(0, 5)),
                "backup_at": rng.choice([None, START + rng.choice(minutes)]),
                "escalation": rng.choice([0, 0, 1, 2, 3]),
                "snoozed_until": rng.choice([None, None, START + rng.choice(minutes)]),
            }
        )
    add_items(repository, rows)


def all_items(repository: Repository) -> list[WorkItem]:
    with repository.engine.connect() as connection:
        return [item_from_row(row) for row in connection.execute(select(work_items))]


def kinds_of(repository: Repository, secretary_id: str) -> dict[str, AssignmentKind]:
    with repository.engine.connect() as connection:
        rows = connection.execute(
            select(assignments.c.tenant_id, assignments.c.kind).where(
                assignments.c.secretary_id == secretary_id
            )
        )
        return {row.tenant_id: AssignmentKind(row.kind) for row in rows}


@pytest.mark.parametrize("seed", [1, 2])
def test_claims_take_exactly_what_the_pure_rules_choose(
    repo: Repository, clock: Clock, seed: int
) -> None:
    rng = random.Random(seed)
    repository = Repository(repo.engine, clock=clock)
    random_world(repository, rng)
    people = [secretary_of(repository, f"p{n}") for n in range(8)]
    kinds = {person.id: kinds_of(repository, person.id) for person in people}
    claims = 0
    active = list(people)
    while active:
        person = rng.choice(active)
        expected = best_eligible(all_items(repository), person, kinds[person.id], clock.now)
        claimed = repository.claim_next_item(person.id)
        assert (claimed.id if claimed else None) == (expected.id if expected else None), person
        if claimed is None:
            active.remove(person)
        else:
            claims += 1
    assert claims > 50  # the world left plenty to claim, and some items to nobody
    left = [item for item in all_items(repository) if item.status.value == "queued"]
    assert left


# -- the claim itself -------------------------------------------------------------------------


def test_claim_serves_priority_then_due_time_then_age(queue: Repository) -> None:
    due = START + timedelta(minutes=20)
    ids = add_items(
        queue,
        [
            {"priority_rank": 2, "due_at": None, "created_at": START - timedelta(hours=9)},
            {"priority_rank": 2, "due_at": due, "created_at": START - timedelta(hours=1)},
            {"priority_rank": 2, "due_at": due, "created_at": START - timedelta(hours=2)},
            {"priority_rank": 1, "due_at": None, "created_at": START},
        ],
    )
    add_secretary(queue.engine, "ana", tenants_primary=["acme"], capacity=10)
    order = [queue.claim_next_item("ana") for _ in range(5)]
    assert [item.id if item else None for item in order] == [ids[3], ids[2], ids[1], ids[0], None]


def test_claim_holds_a_lease_sets_first_response_and_records_it(
    queue: Repository, clock: Clock
) -> None:
    (item_id,) = add_items(queue, [{}])
    item = queue.claim_next_item("sara")
    assert item is not None and item.id == item_id
    assert (item.held_by, item.lease_expires_at) == ("sara", START + LEASE)
    assert item.first_response_at == START
    (event,) = [e for e in queue.events(item_id) if e.kind == "claimed"]
    assert event.actor == "secretary:sara"
    assert event.data == {"lease_expires_at": (START + LEASE).isoformat()}


def test_capacity_is_never_exceeded_and_expired_leases_do_not_count(
    queue: Repository, clock: Clock
) -> None:
    add_items(queue, [{} for _ in range(4)])
    assert queue.claim_next_item("sara") is not None
    assert queue.claim_next_item("sara") is not None
    assert queue.claim_next_item("sara") is None  # capacity 2
    clock.now += LEASE
    again = queue.claim_next_item("sara")  # her two leases ran out: she may claim again
    assert again is not None
    assert queue.held_counts() == {"sara": 1}


def test_the_web_process_works_out_who_may_be_rung_again_after_each_refresh(
    queue: Repository,
) -> None:
    """DirectoryCache.planned keeps a plan until the next refresh, which brings new held
    counts: a secretary who reached her capacity is no longer a candidate for calls."""
    cache = DirectoryCache(queue)
    cache.refresh()
    acme = cache.directory.tenants["acme"]

    def candidates(directory: Any, held_counts: Any) -> list[list[str]]:
        return hunt_tiers(acme, directory, VoiceRouting("en"), held_counts)

    assert cache.planned("acme", candidates) == [["sara"], ["maryam"]]
    add_items(queue, [{} for _ in range(2)])
    assert queue.claim_next_item("sara") is not None
    assert queue.claim_next_item("sara") is not None  # her capacity, 2
    assert cache.planned("acme", candidates) == [["sara"], ["maryam"]]  # kept until...
    cache.refresh()
    assert cache.planned("acme", candidates) == [["maryam"]]


def test_backup_waits_for_the_delay_or_the_breach(queue: Repository, clock: Clock) -> None:
    later, breached = add_items(
        queue,
        [{"backup_at": START + timedelta(minutes=5)}, {"backup_at": None, "escalation": 2}],
    )
    first = queue.claim_next_item("maryam")
    assert first is not None and first.id == breached
    assert queue.claim_next_item("maryam") is None
    clock.now += timedelta(minutes=5)
    second = queue.claim_next_item("maryam")
    assert second is not None and second.id == later


def test_language_skill_pin_and_snooze_keep_items_from_the_wrong_claimer(
    queue: Repository, clock: Clock
) -> None:
    with queue.engine.begin() as connection:
        connection.execute(
            secretaries.update().where(secretaries.c.id == "sara").values(languages=["en"])
        )
    ids = add_items(
        queue,
        [
            {"language": "fa"},
            {"required_skill": "travel"},
            {"pinned_to": "maryam"},
            {"snoozed_until": START + timedelta(minutes=30)},
            {"tenant_id": "pars"},
            {"tenant_id": None},
            {"pool": "spam"},
        ],
    )
    assert queue.claim_next_item("sara") is None
    clock.now += timedelta(minutes=30)
    woken = queue.claim_next_item("sara")
    assert woken is not None and woken.id == ids[3]
    pinned = queue.claim_next_item("maryam")  # her pin outranks the backup delay
    assert pinned is not None and pinned.id == ids[2]
    unmatched = queue.claim_next_item("maryam")
    assert unmatched is not None and unmatched.id == ids[5]


def test_second_breach_goes_to_supervisors_anywhere(queue: Repository) -> None:
    (pars_item,) = add_items(queue, [{"tenant_id": "pars", "escalation": 3, "language": "fa"}])
    add_secretary(queue.engine, "boss", role="admin")
    claimed = queue.claim_next_item("boss")
    assert claimed is not None and claimed.id == pars_item


# -- leases -----------------------------------------------------------------------------------


def test_heartbeat_renews_the_lease_for_the_holder_only(queue: Repository, clock: Clock) -> None:
    add_items(queue, [{}, {"tenant_id": "pars", "language": "fa"}])
    item = queue.claim_next_item("sara")
    assert item is not None
    sara, reza, maryam = (queue.secretary(s) for s in ("sara", "reza", "maryam"))
    clock.now += timedelta(minutes=10)
    renewed = queue.heartbeat(item.id, sara)
    assert renewed.lease_expires_at == clock.now + LEASE
    clock.now += timedelta(minutes=10)  # 20 minutes after the claim: alive thanks to it
    assert queue.expire_leases() == []
    with pytest.raises(Forbidden):
        queue.heartbeat(item.id, reza)
    with pytest.raises(InvalidTransition, match="not claimed by maryam"):
        queue.heartbeat(item.id, maryam)
    done = queue.complete_item(item.id, sara, "answered")
    assert (done.status.value, done.lease_expires_at) == ("completed", None)
    with pytest.raises(InvalidTransition):
        queue.heartbeat(item.id, sara)


def test_expired_lease_goes_back_to_the_head_of_its_queue(queue: Repository, clock: Clock) -> None:
    first, second = add_items(queue, [{}, {}])
    lost = queue.claim_next_item("sara")
    assert lost is not None and lost.id == first
    clock.now += LEASE
    sara = queue.secretary("sara")
    with pytest.raises(LeaseExpired):
        queue.heartbeat(first, sara)
    with pytest.raises(LeaseExpired, match="ran out"):
        queue.complete_item(first, sara, "answered")
    (newer,) = add_items(queue, [{"created_at": START}])  # arrived meanwhile, same priority
    assert queue.expire_leases() == [(first, "sara")]
    back = queue.get_item(first)
    assert (back.status.value, back.held_by, back.lease_expires_at) == ("queued", None, None)
    (event,) = [e for e in queue.events(first) if e.kind == "lease_expired"]
    assert (event.actor, event.data) == ("system:lease", {"secretary": "sara"})
    # Swept back to the queue: she is still told she lost it, not that it is someone's.
    with pytest.raises(LeaseExpired):
        queue.heartbeat(first, sara)
    with pytest.raises(LeaseExpired):
        queue.complete_item(first, sara, "answered")
    with pytest.raises(InvalidTransition) as not_hers:
        queue.complete_item(second, sara, "answered")  # never claimed: no lease to lose
    assert not_hers.type is InvalidTransition
    order = [queue.claim_next_item("sara"), queue.claim_next_item("sara")]
    assert [item.id if item else None for item in order] == [first, second]
    assert queue.expire_leases() == []
    assert newer not in {item.id for item in order if item}


def test_complete_is_for_the_holder_who_still_sees_the_item(
    queue: Repository, clock: Clock
) -> None:
    answered_at = START - timedelta(minutes=5)
    kept, lost, unmatched = add_items(
        queue,
        [
            {"first_response_at": answered_at},
            {"first_response_at": None},
            {"first_response_at": None, "tenant_id": None, "pool": "unmatched"},
        ],
    )
    sara, maryam = queue.secretary("sara"), queue.secretary("maryam")
    assert [queue.claim_next_item("sara"), queue.claim_next_item("sara")] != [None, None]
    clock.now += timedelta(minutes=1)
    done = queue.complete_item(kept, sara, "answered", "called back at 9")
    assert (done.status.value, done.outcome, done.notes) == (
        "completed",
        "answered",
        "called back at 9",
    )
    assert (done.completed_at, done.first_response_at, done.held_by) == (
        clock.now,
        answered_at,
        "sara",
    )
    completed = [e for e in queue.events(kept) if e.kind == "completed"]
    assert [(e.actor, e.data) for e in completed] == [
        ("secretary:sara", {"outcome": "answered", "notes": "called back at 9"})
    ]
    with pytest.raises(InvalidTransition, match="completed"):
        queue.complete_item(kept, sara, "again")
    # Taken off the tenant after claiming: she holds the item but no longer sees it.
    with queue.engine.begin() as connection:
        connection.execute(assignments.delete().where(assignments.c.secretary_id == "sara"))
    with pytest.raises(Forbidden):
        queue.complete_item(lost, sara, "answered")
    assert queue.get_item(lost).status.value == "claimed"
    # A supervisor completes what she holds in any tenant, or none.
    mine = queue.claim_next_item("maryam")
    assert mine is not None and mine.id == unmatched
    finished = queue.complete_item(unmatched, maryam, "forwarded")
    assert (finished.status.value, finished.first_response_at) == ("completed", clock.now)
    assert [e.kind for e in queue.events(unmatched)] == ["claimed", "completed"]


def test_a_claim_sweeps_run_out_leases_on_its_way(queue: Repository, clock: Clock) -> None:
    (item_id,) = add_items(queue, [{}])
    add_secretary(queue.engine, "ana", tenants_primary=["acme"])
    assert queue.claim_next_item("sara") is not None
    assert queue.claim_next_item("ana") is None
    clock.now += LEASE + timedelta(seconds=1)
    taken = queue.claim_next_item("ana")
    assert taken is not None and (taken.id, taken.held_by) == (item_id, "ana")
    kinds = [(e.kind, e.data.get("secretary")) for e in queue.events(item_id)]
    assert kinds[-3:] == [("claimed", None), ("lease_expired", "sara"), ("claimed", None)]
    # First response stays the first one.
    assert taken.first_response_at == START


# -- 50 parallel claimers ---------------------------------------------------------------------


@pytest.fixture
def wide_repository(database_url: str) -> Iterator[Repository]:
    """A pool of connections wide enough that each of 50 threads has its own."""
    engine = make_engine(database_url, **({} if "sqlite" in database_url else {"pool_size": 55}))
    upgrade(engine)
    yield Repository(engine)
    engine.dispose()


@pytest.mark.timeout(120)
def test_fifty_parallel_claimers_take_two_thousand_items_each_exactly_once(
    wide_repository: Repository,
) -> None:
    repository = wide_repository
    tenants = [f"c{n}" for n in range(5)]
    for n, tenant in enumerate(tenants):
        add_tenant(repository.engine, tenant, f"+1555040000{n}")
    # 25 secretaries with two claimer threads each: the pair races for one capacity slot.
    people = [f"s{n:02}" for n in range(25)]
    for n, person in enumerate(people):
        add_secretary(
            repository.engine,
            person,
            tenants_primary=[tenants[n % 5], tenants[(n + 1) % 5]],
            tenants_backup=[tenants[(n + 2) % 5]],
            capacity=1,
        )
    rng = random.Random(6)
    total = 2000
    add_items(
        repository,
        [
            {
                "tenant_id": rng.choice(tenants),
                "priority_rank": rng.randint(0, 3),
                "language": rng.choice(["fa", "en", None]),
                "created_at": START - timedelta(seconds=rng.randint(0, 3600)),
                # Some wait for the backups too: they open at once.
                "backup_at": rng.choice([None, START - timedelta(hours=2)]),
            }
            for _ in range(total)
        ],
    )
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(50)
    freed = {person: threading.Condition() for person in people}

    def claimer(person: str) -> None:
        try:
            secretary = repository.secretary(person)
            start.wait()
            while True:
                item = repository.claim_next_item(person)
                if item is None:
                    # Her twin may hold her one slot: wait for a completion of hers, and
                    # stop only when nothing waits.
                    if _anything_queued(repository):
                        with freed[person]:
                            freed[person].wait(0.05)
                        continue
                    return
                with lock:
                    taken.append(item.id)
                repository.complete_item(item.id, secretary, "done")
                with freed[person]:
                    freed[person].notify_all()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(p,)) for p in people for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(110)
    assert not errors, errors[:3]
    assert not any(thread.is_alive() for thread in threads)
    counts = Counter(taken)
    assert len(counts) == total and max(counts.values()) == 1
    with repository.engine.connect() as connection:
        events = connection.execute(
            select(item_events.c.kind, item_events.c.item_id, item_events.c.actor, item_events.c.id)
            .where(item_events.c.kind.in_(["claimed", "completed"]))
            .order_by(item_events.c.id)
        ).all()
    claimed_events = Counter(row.item_id for row in events if row.kind == "claimed")
    assert len(claimed_events) == total and set(claimed_events.values()) == {1}
    assert sum(1 for row in events if row.kind == "completed") == total
    # Nobody over capacity: replay each secretary's claims and completions in event order.
    # A claim's event is written after the completions it counted on were committed (and
    # her row lock orders her claims), so the replay can miss no overrun it would not see.
    held: dict[str, int] = defaultdict(int)
    worst = 0
    for row in events:
        if row.kind == "claimed":
            held[row.actor] += 1
        else:
            held[row.actor] -= 1
        worst = max(worst, held[row.actor])
    assert worst == 1
    assert set(held.values()) == {0}


def _anything_queued(repository: Repository) -> bool:
    with repository.engine.connect() as connection:
        waiting = select(work_items.c.id).where(work_items.c.status == "queued").limit(1)
        return connection.scalar(waiting) is not None


# -- the scheduled sweep ----------------------------------------------------------------------


def test_the_sweep_job_requeues_run_out_leases_and_schedules_its_next_run(
    queue: Repository, clock: Clock, redis_url: str
) -> None:
    connection = redis.Redis.from_url(redis_url)
    context.install(context.WorkerContext(queue, connection, Dispatcher(connection)))
    try:
        first, second = add_items(queue, [{}, {}])
        assert queue.claim_next_item("sara") is not None
        assert queue.claim_next_item("sara") is not None
        clock.now += timedelta(minutes=5)
        queue.heartbeat(second, queue.secretary("sara"))
        clock.now = START + LEASE
        assert leases.sweep_leases() == 1  # the heartbeat kept the second one
        assert [e.kind for e in queue.events(first)][-1] == "lease_expired"
        assert queue.get_item(second).held_by == "sara"
        registry = ScheduledJobRegistry(QUEUE_DEFAULT, connection=connection)
        next_run = int((START + LEASE + timedelta(minutes=1)).timestamp())
        assert registry.get_job_ids() == [f"lease-sweep-{next_run}"]
        # A worker starting now names the same next run: still one chain.
        leases.schedule_sweep(connection, clock.now)
        assert registry.get_job_ids() == [f"lease-sweep-{next_run}"]
    finally:
        context.install(None)
        connection.close()


def test_a_claim_the_pure_rule_refuses_is_rolled_back_and_the_next_item_taken(
    queue: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the first item changed between the read and the lock in a way the SQL missed.
    first, second = add_items(queue, [{"priority_rank": 0}, {"priority_rank": 1}])
    real = claims.eligible
    monkeypatch.setattr(
        claims, "eligible", lambda item, *rest: item.id != first and real(item, *rest)
    )
    taken = queue.claim_next_item("sara")
    assert taken is not None and taken.id == second
    untouched = queue.get_item(first)
    assert (untouched.status.value, untouched.held_by, untouched.first_response_at) == (
        "queued",
        None,
        None,
    )
    assert [e.kind for e in queue.events(first)] == []  # its claimed event rolled back too
    assert [e.kind for e in queue.events(second)] == ["claimed"]
