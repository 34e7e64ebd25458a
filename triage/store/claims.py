"""Claims and leases: who gets which waiting item, atomically, and for how long.

The SQL here mirrors `triage.routing.eligible` and `serving_key`; the pure function is
also the last word: a row the query picks is checked against it before it is claimed.
PostgreSQL claimers lock candidates with FOR UPDATE SKIP LOCKED, so they never wait on
each other; SQLite serializes writers with BEGIN IMMEDIATE (triage.store.db).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Row,
    String,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)

from triage.errors import Forbidden, InvalidTransition, LeaseExpired, NotFound
from triage.models import (
    TENANT_POOL_PREFIX,
    UNMATCHED_POOL,
    AssignmentKind,
    ItemStatus,
    Secretary,
    WorkItem,
    tenant_pool,
)
from triage.routing import (
    ESCALATION_OPEN_TO_BACKUPS,
    ESCALATION_TO_SUPERVISORS,
    eligible,
    lease_expired,
    may_see_item,
)
from triage.store.rows import add_event, item_from_row, locked_item_row, secretary_from_row
from triage.store.tables import assignments, item_events, secretaries, work_items

if TYPE_CHECKING:
    from triage.store.repository import Repository

LEASE_ACTOR = "system:lease"
# Candidates read per pool before locking one; grown when other claimers hold them all.
_FIRST_BATCH = 4
_LAST_BATCH = 4096
# Expired leases swept per claim (the scheduled sweep takes the rest).
_LAZY_EXPIRY_LIMIT = 50

_w = work_items.c
# Statuses written into the SQL, not bound: PostgreSQL's generic plan for a prepared
# statement (psycopg prepares repeated ones) then still knows a claimed or queued item is
# a narrow slice of the lease and claim indexes. Bound, "status = $1" planned a scan of
# the whole table (18 ms a claim at 100,000 items).
_QUEUED = literal_column(f"'{ItemStatus.QUEUED.value}'", String())
_CLAIMED = literal_column(f"'{ItemStatus.CLAIMED.value}'", String())
# Written into the SQL, as the partial index ix_work_items_escalated spells it: a bound
# value would not let the planners prove the index covers the supervisors' branch.
_TO_SUPERVISORS = literal_column(str(ESCALATION_TO_SUPERVISORS), Integer())
# serving_key in SQL: priority, earliest due time with none last, oldest, lowest id.
SERVING_ORDER = (_w.priority_rank, _w.due_at.asc().nulls_last(), _w.created_at, _w.id)
_SQLITE_DUE_ORDER = (_w.priority_rank, _w.due_at, _w.created_at, _w.id)
_SQLITE_UNDUE_ORDER = (_w.priority_rank, _w.created_at, _w.id)


def claim_next_item(repository: Repository, secretary_id: str) -> WorkItem | None:
    """Atomically claim the best item `secretary_id` may take now, or None.

    In one transaction: lock the secretary's row (her parallel claims queue up behind it,
    so she can never exceed her capacity), requeue leases that ran out, then claim
    the best eligible item, if she holds less than her capacity, in one UPDATE, and hold
    it for a lease.
    """
    refused: set[int] = set()
    while True:
        try:
            return _claim_once(repository, secretary_id, refused)
        except _Refused as refusal:
            # Rolled back: the row changed between the read and the lock in a way the SQL
            # did not catch. The pure rule is the last word; look again without it.
            refused.add(refusal.item_id)


class _Refused(Exception):
    def __init__(self, item_id: int) -> None:
        self.item_id = item_id


# Her row (locked on PostgreSQL), her assignments, and whether any lease has run out, at
# once; built once, like the claim statements below.
_HER_ROW = (
    select(
        secretaries,
        assignments.c.tenant_id.label("assigned"),
        assignments.c.kind,
        select(_w.id)
        .where(
            _w.status == _CLAIMED, _w.lease_expires_at <= bindparam("now", type_=_w.claimed_at.type)
        )
        .exists()
        .label("ran_out"),
    )
    .outerjoin(assignments, assignments.c.secretary_id == secretaries.c.id)
    .where(secretaries.c.id == bindparam("secretary_id", type_=String()))
)
_HER_ROW_LOCKED = _HER_ROW.with_for_update(of=secretaries)


def _claim_once(repository: Repository, secretary_id: str, refused: set[int]) -> WorkItem | None:

    now = repository.clock()
    postgres = repository.dialect == "postgresql"
    with repository.engine.begin() as connection:
        rows = connection.execute(
            _HER_ROW_LOCKED if postgres else _HER_ROW, {"secretary_id": secretary_id, "now": now}
        ).all()
        if not rows:
            raise NotFound(f"no secretary {secretary_id!r}")
        if rows[0].ran_out:
            # Before the pick, so her own lost leases no longer count against her capacity.
            _expire(connection, now, postgres, limit=_LAZY_EXPIRY_LIMIT)
        secretary = secretary_from_row(rows[0])
        kinds = {row.assigned: AssignmentKind(row.kind) for row in rows if row.assigned}
        lease_until = now + repository.lease
        row = _claim_best(connection, secretary, kinds, refused, now, lease_until, postgres)
        if row is None:
            return None
        item: WorkItem = item_from_row(row)
        tenant_kind = kinds.get(item.tenant_id) if item.tenant_id is not None else None
        if not eligible(replace(item, status=ItemStatus.QUEUED), secretary, tenant_kind, now):
            raise _Refused(item.id)
        if not postgres:  # on PostgreSQL the claiming statement wrote it
            add_event(connection, item.id, now, _actor(secretary_id), "claimed", _data(lease_until))
    return item


def _actor(secretary_id: str) -> str:
    return f"secretary:{secretary_id}"


def _data(lease_until: datetime) -> dict[str, Any]:
    return {"lease_expires_at": lease_until.isoformat()}


def heartbeat(repository: Repository, item_id: int, secretary: Secretary) -> WorkItem:
    """Renew the lease on an item `secretary` holds: it now runs `repository.lease` from now.

    No event is written: a console renews every minute or so while the item is open, and
    the audit trail keeps the claim and the loss of a lease, not every renewal.

    NotFound, Forbidden (not her tenant), InvalidTransition (she does not hold it) or
    LeaseExpired (she held it, but the lease ran out: the item is back in the queue).
    """

    now = repository.clock()
    with repository.engine.begin() as connection:
        item = item_from_row(locked_item_row(connection, item_id))
        check_holder(connection, item, secretary, now)
        lease_until = now + repository.lease
        connection.execute(
            update(work_items)
            .where(_w.id == item_id)
            .values(lease_expires_at=lease_until, updated_at=now)
        )
        renewed = connection.execute(select(work_items).where(_w.id == item_id)).one()
    return item_from_row(renewed)


def complete_item(
    repository: Repository, item_id: int, secretary: Secretary, outcome: str, notes: str
) -> WorkItem:
    """Complete an item `secretary` holds on a live lease, with an outcome and notes.

    The usual case is one statement: an UPDATE that completes the item only if it is
    hers to see, claimed by her and her lease still runs. On PostgreSQL the `completed`
    event goes in with it, and it runs as a transaction of its own (autocommit: no BEGIN
    and COMMIT round trips, each of which waited on a busy server as long as a query).
    When it matches nothing, the row is locked and read to say why, as for heartbeat:
    NotFound, Forbidden, InvalidTransition or LeaseExpired (or, if it became hers
    meanwhile, it is completed after all).
    """
    now = repository.clock()
    postgres = repository.dialect == "postgresql"
    statement = _complete_statement(postgres, secretary.role.sees_all_tenants)
    event_data = {"outcome": outcome, "notes": notes}
    values = {
        "item_id": item_id,
        "me": secretary.id,
        "outcome": outcome,
        "notes": notes,
        "now": now,
        "actor": _actor(secretary.id),
        "event_data": event_data,
    }
    if postgres:
        autocommit = repository.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            done = connection.execute(statement, values).one_or_none()
        if done is not None:
            return item_from_row(done)
    with repository.engine.begin() as connection:
        done = None if postgres else connection.execute(statement, values).one_or_none()
        if done is None:
            item = item_from_row(locked_item_row(connection, item_id))
            check_holder(connection, item, secretary, now)
            done = connection.execute(statement, values).one()
        if not postgres:  # on PostgreSQL the completing statement wrote it
            add_event(connection, item_id, now, _actor(secretary.id), "completed", event_data)
    return item_from_row(done)


@functools.cache
def _complete_statement(postgres: bool, sees_all_tenants: bool) -> Any:
    """The completing UPDATE, matching only an item the caller holds (see complete_item).

    Its conditions are check_holder's, in SQL: her tenant's (unless she sees all), claimed
    by her, its lease not run out.
    """
    me, now = bindparam("me", type_=String()), bindparam("now", type_=_WHEN)
    held = and_(
        _w.id == bindparam("item_id"),
        _w.status == _CLAIMED,
        _w.held_by == me,
        or_(_w.lease_expires_at.is_(None), _w.lease_expires_at > now),
    )
    if not sees_all_tenants:
        mine = select(assignments.c.tenant_id).where(assignments.c.secretary_id == me)
        held = and_(held, _w.tenant_id.in_(mine))
    complete = (
        update(work_items)
        .where(held)
        .values(
            status=ItemStatus.COMPLETED.value,
            outcome=bindparam("outcome", type_=String()),
            notes=bindparam("notes", type_=String()),
            completed_at=now,
            updated_at=now,
            lease_expires_at=None,
            # Completing is a response: the SLA clock stops here if nothing did before.
            first_response_at=func.coalesce(_w.first_response_at, now),
        )
        .returning(*work_items.c)
    )
    if not postgres:
        return complete
    return _with_event(complete, "completed")


def expire_leases(repository: Repository, limit: int | None = None) -> list[tuple[int, str]]:
    """Put every claimed item whose lease ran out back in its queue.

    Returns (item id, the secretary who lost it) for each; each gets a `lease_expired`
    event. For the scheduled sweep; claims also sweep a few on their way.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        return _expire(connection, now, repository.dialect == "postgresql", limit=limit)


def check_holder(
    connection: Connection, item: WorkItem, secretary: Secretary, now: datetime
) -> None:
    """Raise unless `secretary` may see `item` and holds it on a live lease."""
    tenants = set(assignments_of(connection, secretary.id))
    if not may_see_item(secretary.role, tenants, item.tenant_id):
        raise Forbidden(f"item {item.id} is not in {secretary.id}'s tenants")
    if item.status is not ItemStatus.CLAIMED or item.held_by != secretary.id:
        if _lost_lease(connection, item.id, secretary.id):
            raise LeaseExpired(
                f"{secretary.id}'s lease on item {item.id} ran out; it went back to the queue"
            )
        raise InvalidTransition(
            f"item {item.id} is {item.status.value}"
            + (f" by {item.held_by}" if item.held_by else "")
            + f", not claimed by {secretary.id}"
        )
    if lease_expired(item, now):
        assert item.lease_expires_at is not None
        raise LeaseExpired(
            f"{secretary.id}'s lease on item {item.id} ran out at "
            f"{item.lease_expires_at.isoformat()}; it is back in the queue"
        )


def _lost_lease(connection: Connection, item_id: int, secretary_id: str) -> bool:
    """Whether the item's last claim or lease loss is `secretary_id` losing her lease."""
    last = connection.execute(_LAST_CLAIM_OR_LOSS, {"item_id": item_id}).one_or_none()
    return (
        last is not None
        and last.kind == "lease_expired"
        and dict(last.data).get("secretary") == secretary_id
    )


_LAST_CLAIM_OR_LOSS = (
    select(item_events.c.kind, item_events.c.data)
    .where(
        item_events.c.item_id == bindparam("item_id"),
        item_events.c.kind.in_(("claimed", "lease_expired")),
    )
    .order_by(item_events.c.id.desc())
    .limit(1)
)


def assignments_of(connection: Connection, secretary_id: str) -> dict[str, AssignmentKind]:
    rows = connection.execute(_ASSIGNMENTS, {"secretary_id": secretary_id})
    return {row.tenant_id: AssignmentKind(row.kind) for row in rows}


_ASSIGNMENTS = select(assignments.c.tenant_id, assignments.c.kind).where(
    assignments.c.secretary_id == bindparam("secretary_id")
)


# The claim statements take their values as bound parameters and are built once per
# shape (which kinds of assignment, supervisor or not, ...): building SQLAlchemy
# expressions for every claim cost more CPU than running them.
_WHEN = work_items.c.claimed_at.type


@dataclass(frozen=True, slots=True)
class _Shape:
    kinds: tuple[AssignmentKind, ...]  # one per assigned tenant, in the order bound
    supervisor: bool
    languages: bool  # whether she has any (an empty IN list is spelt differently)
    skills: bool
    refused: bool
    batch: int
    postgres: bool


def _shape_of(
    secretary: Secretary,
    kinds: Sequence[AssignmentKind],
    refused: set[int],
    batch: int,
    postgres: bool,
) -> _Shape:
    return _Shape(
        kinds=tuple(kinds),
        supervisor=secretary.role.sees_all_tenants,
        languages=bool(secretary.languages),
        skills=bool(secretary.skills),
        refused=bool(refused),
        batch=batch,
        postgres=postgres,
    )


def _branches(shape: _Shape, values: dict[str, Any] | None = None) -> list[ColumnElement[bool]]:
    """One condition per place she may take from, each served by the claim index.

    A pool per tenant she is assigned to, the unmatched pool for supervisors, and for
    supervisors every item at the second breach. Each mirrors a branch of `eligible`.
    Values are bound when the statement runs, or here when `values` are given.
    """

    def value(name: str, type_: Any = None, expanding: bool = False) -> Any:
        if values is None:
            return bindparam(name, type_=type_, expanding=expanding)
        return bindparam(name, values[name], type_=type_, expanding=expanding)

    me, now = value("me", String()), value("now", _WHEN)
    awake = or_(_w.snoozed_until.is_(None), _w.snoozed_until <= now)
    queued = and_(_w.status == _QUEUED, awake)
    speaks = _w.language.in_(value("languages", expanding=True)) if shape.languages else false()
    skilled = _w.required_skill.in_(value("skills", expanding=True)) if shape.skills else false()
    matches = and_(or_(_w.language.is_(None), speaks), or_(_w.required_skill.is_(None), skilled))
    backup_open = or_(
        _w.escalation >= ESCALATION_OPEN_TO_BACKUPS,
        and_(_w.backup_at.is_not(None), _w.backup_at <= now),
    )
    branches: list[ColumnElement[bool]] = []
    for n, kind in enumerate(shape.kinds):
        unpinned = and_(_w.pinned_to.is_(None), matches)
        if kind is AssignmentKind.BACKUP:
            unpinned = and_(unpinned, backup_open)
        branches.append(
            and_(
                queued,
                _w.pool == value(f"claim_pool{n}", String()),
                _w.tenant_id == value(f"claim_tenant{n}", String()),
                or_(_w.pinned_to == me, unpinned),
            )
        )
    if shape.supervisor:
        branches.append(
            and_(
                queued,
                _w.pool == UNMATCHED_POOL,
                or_(_w.pinned_to.is_(None), _w.pinned_to == me),
            )
        )
        branches.append(
            and_(
                queued,
                _w.escalation >= _TO_SUPERVISORS,
                or_(_w.pool == UNMATCHED_POOL, _w.pool.startswith(TENANT_POOL_PREFIX)),
            )
        )
    return branches


def candidate_branches(
    secretary: Secretary, kinds: dict[str, AssignmentKind], now: datetime
) -> list[ColumnElement[bool]]:
    """The claim's branches with `secretary`'s values bound (the queue view lists with them)."""
    tenants = sorted(kinds)
    shape = _shape_of(secretary, [kinds[t] for t in tenants], set(), _FIRST_BATCH, False)
    return _branches(shape, _values(secretary, tenants, now, now))


def _values(
    secretary: Secretary, tenants: Sequence[str], now: datetime, lease_until: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "me": secretary.id,
        "now": now,
        "lease_until": lease_until,
        "languages": list(secretary.languages),
        "skills": list(secretary.skills),
    }
    for n, tenant_id in enumerate(tenants):
        values[f"claim_tenant{n}"] = tenant_id
        values[f"claim_pool{n}"] = tenant_pool(tenant_id)
    return values


@functools.lru_cache(maxsize=512)
def _statements(shape: _Shape) -> tuple[Any, Any]:
    """The claiming UPDATE and the read of its candidates, for claimers of this shape."""
    if shape.postgres:
        parts = [
            select(_w.id).where(branch).order_by(*SERVING_ORDER).limit(shape.batch).subquery()
            for branch in _branches(shape)
        ]
    else:
        # SQLite's index puts NULLs first, so "due time, none last" would sort a whole pool;
        # read items with and without a due time apart, each in index order (the rowid,
        # the id, ends every SQLite index), and let the final pick merge them.
        parts = [
            select(_w.id).where(branch, due).order_by(*order).limit(shape.batch).subquery()
            for branch in _branches(shape)
            for due, order in (
                (_w.due_at.is_not(None), _SQLITE_DUE_ORDER),
                (_w.due_at.is_(None), _SQLITE_UNDUE_ORDER),
            )
        ]
    candidates = union_all(*(select(part.c.id) for part in parts))
    pick = (
        select(_w.id)
        .where(_w.id.in_(candidates), _w.status == _QUEUED)
        .order_by(*SERVING_ORDER)
        .limit(1)
    )
    if shape.refused:
        pick = pick.where(_w.id.not_in(bindparam("refused", expanding=True)))
    # Her capacity, counted by the claiming statement itself: it starts after her row is
    # locked, so its snapshot sees every claim of hers committed while this one waited.
    # PostgreSQL tests it once, before reading or locking any candidate.
    pick = pick.where(_held_by_me() < bindparam("capacity"))
    if shape.postgres:
        pick = pick.with_for_update(skip_locked=True)
    now = bindparam("now", type_=_WHEN)
    claim = (
        update(work_items)
        .where(_w.id == pick.correlate(None).scalar_subquery())
        .values(
            status=ItemStatus.CLAIMED.value,
            held_by=bindparam("me", type_=String()),
            claimed_at=now,
            lease_expires_at=bindparam("lease_until", type_=_WHEN),
            first_response_at=func.coalesce(_w.first_response_at, now),
            updated_at=now,
        )
        .returning(*work_items.c)
    )
    if shape.postgres:
        # The `claimed` event goes in with the claim: one round trip fewer. (A claim the
        # pure rule then refuses rolls back, event and all.)
        return _with_event(claim, "claimed"), candidates
    return claim, candidates


def _with_event(change: Any, kind: str) -> Any:
    """PostgreSQL: `change` (an UPDATE ... RETURNING the item) and an `item_events` row of
    `kind` for the item it changed, in one statement; it returns the changed row."""
    changed = change.cte("changed")
    event = insert(item_events).from_select(
        ["item_id", "at", "actor", "kind", "data"],
        select(
            changed.c.id,
            bindparam("now", type_=_WHEN),
            bindparam("actor", type_=String()),
            literal(kind, String()),
            bindparam("event_data", type_=item_events.c.data.type),
        ),
    )
    return select(changed).add_cte(event.cte("change_event"))


def _held_by_me() -> Any:
    held = work_items.alias("held")
    return (
        select(func.count())
        .select_from(held)
        .where(
            held.c.held_by == bindparam("me", type_=String()),
            held.c.status == _CLAIMED,
        )
        .scalar_subquery()
    )


def _claim_best(
    connection: Connection,
    secretary: Secretary,
    kinds: dict[str, AssignmentKind],
    refused: set[int],
    now: datetime,
    lease_until: datetime,
    postgres: bool,
) -> Row[Any] | None:
    """Claim the best eligible item in one UPDATE; its row as claimed, or None.

    The candidates are the first few of every branch, each read in serving order from the
    claim index (one query over several pools would sort them all); the best one not
    locked by another claimer is locked and claimed. At the lock PostgreSQL re-reads only
    its status (repeating every branch there made planning cost more than it saved); the
    caller checks the claimed row against the pure rule. When other claimers hold every
    candidate read, read deeper.
    """
    tenants = sorted(kinds)
    values = _values(secretary, tenants, now, lease_until)
    values["refused"] = sorted(refused)
    values["capacity"] = secretary.capacity
    values["actor"] = _actor(secretary.id)
    values["event_data"] = _data(lease_until)
    batch = _FIRST_BATCH
    while True:
        shape = _shape_of(secretary, [kinds[t] for t in tenants], refused, batch, postgres)
        if not shape.kinds and not shape.supervisor:
            return None
        claim, candidates = _statements(shape)
        used = {key: value for key, value in values.items() if _uses(shape, key)}
        row: Row[Any] | None = connection.execute(claim, used).one_or_none()
        if row is not None or batch >= _LAST_BATCH:
            return row
        # Nothing claimed: she is at capacity, or nothing free among the candidates read
        # (were there more to read?).
        if (connection.scalar(select(_held_by_me()), used) or 0) >= secretary.capacity:
            return None
        if len(connection.scalars(candidates, used).all()) < batch:
            return None
        batch *= 8


def _uses(shape: _Shape, key: str) -> bool:
    """Whether the statements of `shape` bind the parameter `key`."""
    if key == "languages":
        return shape.languages
    if key == "skills":
        return shape.skills
    if key == "refused":
        return shape.refused
    return True


def _expire(
    connection: Connection, now: datetime, postgres: bool, limit: int | None
) -> list[tuple[int, str]]:
    """Requeue claimed items whose lease ran out, with a `lease_expired` event each.

    The item keeps its created_at and due time, so it goes back ahead of newer work of
    its priority. On PostgreSQL rows another transaction holds (a claim sweeping the same
    leases, a holder completing just now) are skipped, never waited for.
    """

    query = (
        select(_w.id, _w.held_by)
        .where(_w.status == _CLAIMED, _w.lease_expires_at <= now)
        .order_by(_w.lease_expires_at)
    )
    if limit is not None:
        query = query.limit(limit)
    if postgres:
        query = query.with_for_update(skip_locked=True)
    expired = [(row.id, row.held_by) for row in connection.execute(query)]
    if not expired:
        return []
    connection.execute(
        update(work_items)
        .where(_w.id.in_([item_id for item_id, _ in expired]))
        .values(
            status=ItemStatus.QUEUED.value,
            held_by=None,
            claimed_at=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )
    for item_id, holder in expired:
        add_event(connection, item_id, now, LEASE_ACTOR, "lease_expired", {"secretary": holder})
    return expired


__all__ = [
    "SERVING_ORDER",
    "assignments_of",
    "candidate_branches",
    "check_holder",
    "claim_next_item",
    "complete_item",
    "expire_leases",
    "heartbeat",
]
