"""Where an item waits: pure decisions over plain values (v0: the tenant's pool)."""

from __future__ import annotations

from triage.models import UNMATCHED_POOL, Role, tenant_pool


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
