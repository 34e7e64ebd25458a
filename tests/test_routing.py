"""Eligibility and serving order as pure functions over plain values (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from triage.models import (
    AssignmentKind,
    Channel,
    ItemStatus,
    Priority,
    Role,
    Secretary,
    WorkItem,
)
from triage.routing import best_eligible, eligible, lease_expired, serving_key

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PRIMARY = AssignmentKind.PRIMARY
BACKUP = AssignmentKind.BACKUP


def secretary(
    secretary_id: str = "sara",
    *,
    role: Role = Role.SECRETARY,
    languages: tuple[str, ...] = ("fa", "en"),
    skills: tuple[str, ...] = ("scheduling",),
) -> Secretary:
    return Secretary(
        id=secretary_id,
        name=secretary_id.title(),
        role=role,
        languages=languages,
        skills=skills,
        capacity=3,
        phone="+15550100000",
    )


def item(item_id: int = 1, tenant_id: str | None = "acme", **changes: object) -> WorkItem:
    base = WorkItem(
        id=item_id,
        tenant_id=tenant_id,
        channel=Channel.SMS,
        external_id=f"SM{item_id}",
        status=ItemStatus.QUEUED,
        priority=Priority.NORMAL,
        pool=f"tenant:{tenant_id}" if tenant_id else "unmatched",
        sender="+15550000001",
        recipient="+15550100001",
        subject="",
        body="hello",
        language="en",
        category=None,
        held_by=None,
        outcome=None,
        notes=None,
        created_at=NOW - timedelta(minutes=10),
        updated_at=NOW - timedelta(minutes=10),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


SARA = secretary()
MARYAM = secretary("maryam", role=Role.SUPERVISOR)
ONLY_FA = secretary("reza", languages=("fa",), skills=())
ADMIN = secretary("root", role=Role.ADMIN)
SOON = NOW + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("case", "the_item", "who", "assignment", "expected"),
    [
        ("primary, plain item", item(), SARA, PRIMARY, True),
        ("not assigned to the tenant", item(), SARA, None, False),
        ("language she does not speak", item(language="en"), ONLY_FA, PRIMARY, False),
        ("no language: anyone", item(language=None), ONLY_FA, PRIMARY, True),
        ("skill she has", item(required_skill="scheduling"), SARA, PRIMARY, True),
        ("skill she lacks", item(required_skill="accounting"), SARA, PRIMARY, False),
        ("backup before the delay", item(backup_at=SOON), SARA, BACKUP, False),
        ("backup at the delay", item(backup_at=NOW), SARA, BACKUP, True),
        ("backup, no delay set", item(), SARA, BACKUP, False),
        ("backup after a warning only", item(escalation=1), SARA, BACKUP, False),
        ("backup after the breach", item(escalation=2), SARA, BACKUP, True),
        ("backup still needs the language", item(escalation=2), ONLY_FA, BACKUP, False),
        ("pinned to her", item(pinned_to="sara"), SARA, PRIMARY, True),
        ("pinned to her, as backup, early", item(pinned_to="sara"), SARA, BACKUP, True),
        ("pinned to her, her skill aside", item(pinned_to="reza", required_skill="x"),
         ONLY_FA, PRIMARY, True),
        ("pinned to her but not her tenant", item(pinned_to="sara"), SARA, None, False),
        ("pinned to someone else", item(pinned_to="reza"), SARA, PRIMARY, False),
        ("snoozed", item(snoozed_until=NOW + timedelta(minutes=1)), SARA, PRIMARY, False),
        ("snooze over", item(snoozed_until=NOW), SARA, PRIMARY, True),
        ("claimed already", item(status=ItemStatus.CLAIMED, held_by="reza"), SARA, PRIMARY, False),
        ("not routed yet", item(status=ItemStatus.RECEIVED, pool=None), SARA, PRIMARY, False),
        ("done", item(status=ItemStatus.COMPLETED), SARA, PRIMARY, False),
        ("spam pool", item(pool="spam"), MARYAM, PRIMARY, False),
        ("pool of another tenant", item(pool="tenant:other"), SARA, PRIMARY, False),
        ("unmatched: not for secretaries", item(tenant_id=None), SARA, None, False),
        ("unmatched: supervisors", item(tenant_id=None), MARYAM, None, True),
        ("unmatched, pinned to X", item(tenant_id=None, pinned_to="boss"), MARYAM, None, False),
        ("supervisor, unassigned tenant, ordinary", item(), MARYAM, None, False),
        ("supervisor as backup before delay", item(), MARYAM, BACKUP, False),
        ("supervisor, second breach", item(escalation=3, language="xx"), MARYAM, None, True),
        ("second breach beats a pin", item(escalation=3, pinned_to="sara"), MARYAM, None, True),
        ("second breach, snoozed", item(escalation=3, snoozed_until=SOON), MARYAM, None, False),
        ("second breach: not for secretaries", item(escalation=3), SARA, None, False),
        ("admin, second breach", item(escalation=3), ADMIN, None, True),
    ],
)  # fmt: skip
def test_eligibility(
    case: str, the_item: WorkItem, who: Secretary, assignment: AssignmentKind | None, expected: bool
) -> None:
    assert eligible(the_item, who, assignment, NOW) is expected, case


def test_serving_order_is_priority_then_due_time_then_age_then_id() -> None:
    early, late = NOW + timedelta(minutes=5), NOW + timedelta(minutes=50)
    older, newer = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    items = [
        item(1, priority=Priority.LOW, due_at=early, created_at=older),
        item(2, priority=Priority.NORMAL, due_at=None, created_at=older),
        item(3, priority=Priority.NORMAL, due_at=late, created_at=older),
        item(4, priority=Priority.NORMAL, due_at=early, created_at=newer),
        item(5, priority=Priority.NORMAL, due_at=early, created_at=older),
        item(6, priority=Priority.NORMAL, due_at=early, created_at=older),
        item(7, priority=Priority.URGENT, due_at=None, created_at=newer),
    ]
    assert [i.id for i in sorted(items, key=serving_key)] == [7, 5, 6, 4, 3, 2, 1]


def test_best_eligible_skips_what_she_may_not_take() -> None:
    items = [
        item(1, priority=Priority.URGENT, language="fa", tenant_id="pars"),  # not her tenant
        item(2, priority=Priority.URGENT, required_skill="travel"),  # not her skill
        item(3, priority=Priority.HIGH, tenant_id="backup-co", backup_at=NOW + timedelta(hours=1)),
        item(4, priority=Priority.NORMAL),
        item(5, priority=Priority.HIGH, tenant_id="backup-co", escalation=2),
    ]
    assignments = {"acme": PRIMARY, "backup-co": BACKUP}
    best = best_eligible(items, SARA, assignments, NOW)
    assert best is not None and best.id == 5
    assert best_eligible(items[:3], SARA, assignments, NOW) is None


def test_lease_runs_out_at_its_expiry() -> None:
    held = item(status=ItemStatus.CLAIMED, held_by="sara", lease_expires_at=NOW)
    assert lease_expired(held, NOW)
    assert not lease_expired(held, NOW - timedelta(microseconds=1))
    assert not lease_expired(item(), NOW)  # queued: nothing to expire
