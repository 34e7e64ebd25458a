"""First-response SLAs: what an item is due by, when backups may take it, which skill it
needs, and the moments its escalation steps fire.

Pure: plain values in (the tenant's profile, the staff's skills, the item's facts, a
moment), plain values out. Both the one-item triage path and a batched one call
`routing_for`, so every channel's item gets the same decision. Time is counted in the
tenant's business hours and time zone (triage/hours.py), holidays excluded.

Escalation levels: 0 none; 1 warning (the item rises one priority level); 2 breach (the
item opens to the tenant's backups); 3 second breach (supervisors may take it, and the
on-call number gets an SMS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from triage.hours import BusinessHours
from triage.models import Priority

if TYPE_CHECKING:
    from triage.directory import SecretaryProfile, TenantProfile

WARNING: int = 1
BREACH: int = 2
SUPERVISORS: int = 3
LEVELS = (WARNING, BREACH, SUPERVISORS)
LEVEL_NAMES: Mapping[int, str] = {WARNING: "warning", BREACH: "breach", SUPERVISORS: "supervisors"}

PRIORITY_KEYS = tuple(priority.value for priority in Priority)
SLA_KEYS = (*PRIORITY_KEYS, "warn_at", "backup_delay", "second_breach", "alert_number")

# Unmatched items (no tenant) wait for supervisors around the clock.
AROUND_THE_CLOCK = BusinessHours("UTC", always_open=True)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """A tenant's first-response targets and escalation settings, every field resolved.

    Targets and delays are minutes of business time. `second_breach` is how long after
    the breach supervisors are called (None: the priority's target once more).
    """

    urgent: int = 15
    high: int = 60
    normal: int = 240
    low: int = 480  # one 8-hour business day
    warn_at: float = 0.75  # the share of the target after which the item rises
    backup_delay: int = 30
    second_breach: int | None = None
    alert_number: str | None = None  # E.164; the on-call SMS at the second breach

    def target(self, priority: Priority) -> timedelta:
        minutes: int = getattr(self, priority.value)
        return timedelta(minutes=minutes)


DEFAULT_SLA = SlaPolicy()


def resolve_policy(*layers: Mapping[str, Any]) -> SlaPolicy:
    """The policy of validated `[... .sla]` tables, later layers overriding earlier ones
    key by key (agency defaults, then the tenant's own), over the built-in defaults."""
    values: dict[str, Any] = {}
    for layer in layers:
        values.update({key: value for key, value in layer.items() if key in SLA_KEYS})
    known = {f.name for f in fields(SlaPolicy)}
    return SlaPolicy(**{key: value for key, value in values.items() if key in known})


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What routing needs to know about one item, as triage read it."""

    priority: Priority
    spam: bool = False
    ivr_skill: str | None = None  # what the caller chose in the tenant's menu
    skill: str | None = None  # a tenant rule's skill, else the category


@dataclass(frozen=True, slots=True)
class Routing:
    """The routing attributes an item takes when it is queued."""

    due_at: datetime | None  # first response due; None: no SLA (spam)
    backup_at: datetime | None  # from when backups may take it; None: never by waiting
    required_skill: str | None


NO_SLA = Routing(due_at=None, backup_at=None, required_skill=None)


def routing_for(
    tenant: TenantProfile | None,
    staff: Mapping[str, SecretaryProfile],
    facts: ItemFacts,
    queued_at: datetime,
    *,
    default: SlaPolicy = DEFAULT_SLA,
) -> Routing:
    """Due time, backup time and required skill of an item queued at `queued_at`.

    Spam has no SLA. An unmatched item (no tenant) gets `default`'s target counted around
    the clock, and no backups. The required skill is the caller's IVR choice, else the
    rule's skill or category, but only one somebody assigned to the tenant (primary or
    backup) has: an item nobody can take would wait for ever.
    """
    if facts.spam:
        return NO_SLA
    if tenant is None:
        due = add_time(AROUND_THE_CLOCK, queued_at, default.target(facts.priority))
        return Routing(due_at=due, backup_at=None, required_skill=None)
    policy = tenant.sla
    return Routing(
        due_at=add_time(tenant.hours, queued_at, policy.target(facts.priority)),
        backup_at=add_time(tenant.hours, queued_at, timedelta(minutes=policy.backup_delay)),
        required_skill=required_skill(tenant, staff, facts),
    )


def required_skill(
    tenant: TenantProfile, staff: Mapping[str, SecretaryProfile], facts: ItemFacts
) -> str | None:
    """The first of the IVR choice and the rule's skill (or category) that someone
    assigned to the tenant has; None when no one has either."""
    assigned = [staff[sid] for sid in (*tenant.primaries, *tenant.backups) if sid in staff]
    for skill in (facts.ivr_skill, facts.skill):
        if skill and skill != "spam" and any(skill in person.skills for person in assigned):
            return skill
    return None


def due_after_reclassify(
    tenant: TenantProfile | None,
    priority: Priority,
    queued_at: datetime,
    *,
    default: SlaPolicy = DEFAULT_SLA,
) -> datetime:
    """The due time of an item whose priority a secretary changed: the new priority's
    target, counted from when it was first queued."""
    if tenant is None:
        return add_time(AROUND_THE_CLOCK, queued_at, default.target(priority))
    return add_time(tenant.hours, queued_at, tenant.sla.target(priority))


def escalation_moments(
    hours: BusinessHours, policy: SlaPolicy, queued_at: datetime, due_at: datetime
) -> dict[int, datetime]:
    """When each escalation level fires for an item queued at `queued_at` and due at
    `due_at`: the warning point (`warn_at` of the open time between them), the breach,
    and the second breach (`second_breach` of open time later, else the target again).

    Derived from the two moments alone, so a due time changed by a reclassification
    plans again the same way.
    """
    target = business_time_between(hours, queued_at, due_at)
    second = target if policy.second_breach is None else timedelta(minutes=policy.second_breach)
    return {
        WARNING: min(add_time(hours, queued_at, target * policy.warn_at), due_at),
        BREACH: due_at,
        SUPERVISORS: add_time(hours, due_at, second),
    }


def business_time_between(hours: BusinessHours, start: datetime, end: datetime) -> timedelta:
    """The open time from `start` to `end` (zero when `end` is not later)."""
    if end <= start:
        return timedelta(0)
    if hours.always_open:
        return end - start
    total = timedelta(0)
    for interval_start, interval_end in hours.open_intervals(start):
        if interval_start >= end:
            break
        overlap = min(interval_end, end) - max(interval_start, start)
        if overlap > timedelta(0):
            total += overlap
    return total


@dataclass(frozen=True, slots=True)
class Escalation:
    """The changes escalating an item to `level` makes."""

    level: int
    priority_rank: int
    backup_at: datetime | None


def escalate(
    level: int, current_level: int, priority_rank: int, backup_at: datetime | None, now: datetime
) -> Escalation | None:
    """Escalating to `level` from `current_level`; None when it is already there.

    Reaching the warning (directly or by skipping it) raises the priority one level, never
    above urgent; the breach and beyond open the item to backups now.
    """
    if level <= current_level:
        return None
    if current_level < WARNING <= level:
        priority_rank = max(priority_rank - 1, Priority.URGENT.rank)
    if level >= BREACH and (backup_at is None or backup_at > now):
        backup_at = now
    return Escalation(level=level, priority_rank=priority_rank, backup_at=backup_at)


def add_time(hours: BusinessHours, start: datetime, duration: timedelta) -> datetime:
    """`duration` of open time after `start`; wall time when the office never opens again
    within the search limit (a year of holidays), so an item still gets a due time."""
    try:
        return hours.add_business_time(start, duration)
    except ValueError:
        return start + duration
