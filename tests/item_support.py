"""Work items and people for the item API tests, written through the repository and tables."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import update

from tests.factories import add_secretary
from triage.models import Channel, Priority
from triage.routing import pool_for
from triage.store.repository import Repository
from triage.store.tables import work_items

_external_ids = itertools.count(1)

# Beside the `store` fixture's sara (acme primary), reza (pars primary) and maryam
# (supervisor, acme backup): omid, a second acme primary, and ali, an admin.
EXTRA_PEOPLE = (("omid", "secretary", ["acme-dental"]), ("ali", "admin", []))


# A whole agency config, small: one tenant, a secretary and an admin.
SMALL_CONFIG = """
[agency]
name = "Test Agency"
inbox = "inbox@agency.example"

[[tenants]]
id = "acme-dental"
name = "Acme Dental"
language = "en"
timezone = "America/New_York"
phone_numbers = ["+12125550143"]
secretaries = ["sara"]

[[secretaries]]
id = "sara"
name = "Sara"
role = "secretary"
languages = ["fa", "en"]
skills = ["scheduling"]
capacity = 3
phone = "+989121234567"

[[secretaries]]
id = "ali"
name = "Ali"
role = "admin"
languages = ["fa"]
skills = []
capacity = 1
phone = "+989121234568"
"""


def add_people(store: Repository) -> None:
    for secretary_id, role, primary in EXTRA_PEOPLE:
        add_secretary(store.engine, secretary_id, role=role, tenants_primary=primary)


def auth(store: Repository, secretary_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.issue_token(secretary_id)}"}


def new_item(
    store: Repository,
    tenant_id: str | None = "acme-dental",
    *,
    channel: Channel = Channel.SMS,
    priority: Priority = Priority.NORMAL,
    routed: bool = True,
    **columns: Any,
) -> int:
    """A stored item, queued in its tenant's pool (or unmatched) unless `routed` is False;
    `columns` are written straight into its row afterwards."""
    item_id, _ = store.record_inbound(
        channel=channel,
        external_id=f"test-{next(_external_ids)}",
        tenant_id=tenant_id,
        sender="+15551230000",
        recipient="+12125550143",
        body="Please call me back",
        priority=priority,
        actor="test",
    )
    if routed:
        store.route_item(item_id, pool_for(tenant_id), "test")
    if columns:
        with store.engine.begin() as connection:
            connection.execute(
                update(work_items).where(work_items.c.id == item_id).values(**columns)
            )
    return item_id
