"""Where an item waits and who may take it: pure decisions over plain values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from triage.models import (
    TENANT_POOL_PREFIX,
    UNMATCHED_POOL,
    AssignmentKind,
    ItemStatus,
    Role,
    Secretary,
    WorkItem,
    tenant_pool,
)


def pool_for(tenant_id: str | None) -> str:
    """The pool an item joins once ingested: its tenant's, or the supervisors' unmatched pool."""
    return UNMATCHED_POOL if tenant_id is None else tenant_pool(tenant_id)


def pools_for_secretary(role: Role, assigned_tenants: list[str]) -> list[str]:
    """The pools a secretary claims from: her tenants', plus unmatched for supervisors."""
    pools = [tenant_pool(tenant_id) for tenant_id in sorted(assigned_tenants)]
    if role.sees_all_tenants:
        pools.append(UNMATCHED_POOL)
    return pools


def may_see_item(role: Role, assigned_tenants: set[str], item_tenant: str | None) -> bool:
    """A secretary sees items of her tenants; supervisors and admins see everything."""
    if role.sees_all_tenants:
        return True
    return item_tenant is not None and item_tenant in assigned_tenants


# Escalation levels (items.escalation): 1 warned and raised, 2 breached, 3 second breach.
ESCALATION_OPEN_TO_BACKUPS = 2
ESCALATION_TO_SUPERVISORS = 3


def claimable_pool(pool: str | None) -> bool:
    """Pools a claim may take from: a tenant's, or unmatched. Spam is reviewed, not claimed."""
    return pool is not None and (pool == UNMATCHED_POOL or pool.startswith(TENANT_POOL_PREFIX))


def speaks(secretary: Secretary, language: str | None) -> bool:
    """An item in no known language is anyone's; otherwise she must speak it."""
    return language is None or language in secretary.languages


def has_skill(secretary: Secretary, skill: str | None) -> bool:
    return skill is None or skill in secretary.skills


def backup_may_take(item: WorkItem, now: datetime) -> bool:
    """A backup takes an item once it waited the tenant's backup delay or breached its SLA."""
    if item.escalation >= ESCALATION_OPEN_TO_BACKUPS:
        return True
    return item.backup_at is not None and now >= item.backup_at


def eligible(
    item: WorkItem,
    secretary: Secretary,
    assignment: AssignmentKind | None,
    now: datetime,
) -> bool:
    """Whether `secretary` may claim `item` now.

    `assignment` is her assignment to the item's tenant (None: not assigned). The rules:
    only queued items in a tenant's pool or the unmatched pool; a snoozed item is nobody's
    until its time; a pinned item is only its secretary's (she still needs to be allowed
    to see it, but not its language or skill: whoever pinned it chose her); otherwise a
    primary takes it if she speaks its language and has its skill, a backup likewise once
    `backup_may_take`. Supervisors and admins are the last resort: they take unmatched
    items and anything at the second breach (pinned or not, in any language), but not
    ordinary work of tenants they are not assigned to — they see it, and can transfer it,
    without it landing in their claims ahead of the secretaries it is meant for.
    """
    if item.status is not ItemStatus.QUEUED or not claimable_pool(item.pool):
        return False
    if item.snoozed_until is not None and item.snoozed_until > now:
        return False
    supervisor = secretary.role.sees_all_tenants
    if supervisor and item.escalation >= ESCALATION_TO_SUPERVISORS:
        return True
    in_unmatched = item.pool == UNMATCHED_POOL
    in_tenant_pool = item.tenant_id is not None and item.pool == tenant_pool(item.tenant_id)
    if item.pinned_to is not None:
        if item.pinned_to != secretary.id:
            return False
        return (in_unmatched and supervisor) or (in_tenant_pool and assignment is not None)
    if in_unmatched:
        return supervisor
    if not in_tenant_pool or assignment is None:
        return False
    if not (speaks(secretary, item.language) and has_skill(secretary, item.required_skill)):
        return False
    return assignment is AssignmentKind.PRIMARY or backup_may_take(item, now)


# Far beyond any due time: an item with none sorts after every item that has one.
_NO_DUE = datetime.max.replace(tzinfo=UTC)


def serving_key(item: WorkItem) -> tuple[int, datetime, datetime, int]:
    """The order claims serve items in: priority, then earliest due time (none last), then
    the oldest, then the lowest id (so the order is total). The claim SQL sorts the same way.
    """
    return (item.priority.rank, item.due_at or _NO_DUE, item.created_at, item.id)


def best_eligible(
    items: Iterable[WorkItem],
    secretary: Secretary,
    assignments: Mapping[str, AssignmentKind],
    now: datetime,
) -> WorkItem | None:
    """The item a claim by `secretary` should get from `items` (`assignments`: tenant -> kind)."""
    candidates = [
        item
        for item in items
        if eligible(
            item,
            secretary,
            assignments.get(item.tenant_id) if item.tenant_id is not None else None,
            now,
        )
    ]
    return min(candidates, key=serving_key, default=None)


def lease_expired(item: WorkItem, now: datetime) -> bool:
    """A claimed item whose lease ran out: its holder may no longer act on it."""
    return (
        item.status is ItemStatus.CLAIMED
        and item.lease_expires_at is not None
        and now >= item.lease_expires_at
    )
