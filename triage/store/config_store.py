"""The agency config in the database: read it back as an `AgencyConfig`, apply a new one.

Applying is one transaction: the current config is read (on PostgreSQL with the
secretaries' rows locked, so no claim slips in), compared with the file, checked against
live work, and only the differing rows are written. The file is the whole truth: tenants
and secretaries it does not name are removed. An apply that writes anything also bumps the
config version (the `agency` row "version"), which processes holding a snapshot poll.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, inspect, select, update
from sqlalchemy.engine import Engine

from triage.config import (
    AgencyConfig,
    AgencyInfo,
    SecretaryConfig,
    TenantConfig,
    load_config,
    tenant_from_stored,
)
from triage.config_checks import quote
from triage.config_output import assignment_kinds, diff_configs, render_config, summarize_changes
from triage.config_sla import sla_from_settings, sla_settings
from triage.errors import ConfigError, SchemaNotReady
from triage.models import UNMATCHED_POOL, ItemStatus, Role, tenant_pool
from triage.store.tables import (
    agency,
    assignments,
    item_events,
    secretaries,
    tenant_email_addresses,
    tenant_phone_numbers,
    tenants,
    work_items,
)

_CONFIG_TABLES = (
    agency,
    tenants,
    tenant_phone_numbers,
    tenant_email_addresses,
    secretaries,
    assignments,
    work_items,
)
ACTOR = "config"
# Two applies at once on PostgreSQL queue on this transaction-scoped advisory lock (SQLite's
# BEGIN IMMEDIATE already serializes them).
_APPLY_LOCK_KEY = 0x6D6F6E736869  # "monshi"
# The `agency` row holding the config version: an integer counter, one up per apply that
# changed something. Not a key of the file's [agency] table.
VERSION_KEY = "version"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What applying a config did (or, for a dry run, would do)."""

    changes: list[str]  # one line per change; empty: the database already matched the file
    summary: str  # counts, e.g. "1 tenant added, 2 phone numbers added"; "no changes"
    applied: bool  # False for a dry run and when there was nothing to change


def apply_config_path(engine: Engine, path: Path, *, dry_run: bool = False) -> ApplyResult:
    """Validate the config file at `path` and make the database match it, in one transaction.

    Raises ConfigError (with every problem and its path) for an invalid file, or when the
    file would remove a secretary who holds claimed items; nothing is written then.
    Raises SchemaNotReady when the database has not been migrated.
    """
    return apply_config(engine, load_config(path), dry_run=dry_run)


def apply_config(engine: Engine, config: AgencyConfig, *, dry_run: bool = False) -> ApplyResult:
    """Make the database match a validated config; see apply_config_path."""
    with engine.begin() as connection:
        check_schema(connection)
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_APPLY_LOCK_KEY)))
        current = read_config(connection, lock=True)
        changes = diff_configs(current, config)
        if not changes:
            return ApplyResult(changes=[], summary="no changes", applied=False)
        _refuse_removing_busy_secretaries(connection, current, config)
        if not dry_run:
            _write(connection, current, config)
            _bump_version(connection)
    return ApplyResult(
        changes=[str(change) for change in changes],
        summary=summarize_changes(changes),
        applied=not dry_run,
    )


def load_current_config(engine: Engine) -> AgencyConfig:
    """The config the database holds now."""
    with engine.connect() as connection:
        check_schema(connection)
        return read_config(connection)


def export_config_toml(engine: Engine) -> str:
    """The database's config as TOML that `apply_config_path` accepts (when configured)."""
    return render_config(load_current_config(engine))


def read_version(connection: Connection) -> str:
    """The config version on `connection`: "" until an apply has changed something."""
    value = connection.scalar(select(agency.c.value).where(agency.c.key == VERSION_KEY))
    return "" if value is None else str(value)


def read_config(connection: Connection, *, lock: bool = False) -> AgencyConfig:
    """Read the config tables on `connection`; `lock` holds the secretaries' rows until commit."""
    values = {row.key: row.value for row in connection.execute(select(agency))}
    info = None
    if isinstance(values.get("name"), str) and isinstance(values.get("inbox"), str):
        sla = values.get("sla")
        info = AgencyInfo(
            name=values["name"],
            inbox=values["inbox"],
            sla=sla_from_settings(sla),
        )
    numbers = _grouped(connection, tenant_phone_numbers.c.tenant_id, tenant_phone_numbers.c.number)
    addresses = _grouped(
        connection, tenant_email_addresses.c.tenant_id, tenant_email_addresses.c.address
    )
    assigned: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in connection.execute(select(assignments)):
        assigned[row.tenant_id, row.kind].append(row.secretary_id)
    secretary_query = select(secretaries).order_by(secretaries.c.id)
    if lock and connection.dialect.name == "postgresql":
        # claim_next_item locks the claimer's row first: holding them all keeps a secretary
        # from claiming work between the busy check and her removal.
        secretary_query = secretary_query.with_for_update()
    return AgencyConfig(
        agency=info,
        tenants=tuple(
            tenant_from_stored(
                id=row.id,
                name=row.name,
                language=row.language,
                timezone=row.timezone,
                settings=row.settings or {},
                phone_numbers=numbers[row.id],
                email_addresses=addresses[row.id],
                secretaries=assigned[row.id, "primary"],
                backups=assigned[row.id, "backup"],
            )
            for row in connection.execute(select(tenants).order_by(tenants.c.id))
        ),
        secretaries=tuple(
            SecretaryConfig(
                id=row.id,
                name=row.name,
                role=Role(row.role),
                languages=tuple(row.languages),
                skills=tuple(row.skills),
                capacity=row.capacity,
                phone=row.phone,
            )
            for row in connection.execute(secretary_query)
        ),
    )


def _grouped(connection: Connection, key: Any, value: Any) -> defaultdict[str, list[str]]:
    grouped: defaultdict[str, list[str]] = defaultdict(list)
    for group, item in connection.execute(select(key, value)):
        grouped[group].append(item)
    return grouped


def check_schema(connection: Connection) -> None:
    """Raise SchemaNotReady unless every config table exists (`monshi db upgrade` made them)."""
    present = set(inspect(connection).get_table_names())
    missing = [table.name for table in _CONFIG_TABLES if table.name not in present]
    if missing:
        raise SchemaNotReady(
            f"the database has no {', '.join(missing)} table(s); run `monshi db upgrade` first"
        )


def _refuse_removing_busy_secretaries(
    connection: Connection, current: AgencyConfig, new: AgencyConfig
) -> None:
    """A secretary holding claimed items cannot vanish under them: refuse, naming her."""
    removed = {s.id for s in current.secretaries} - {s.id for s in new.secretaries}
    if not removed:
        return
    held = connection.execute(
        select(work_items.c.held_by, func.count())
        .where(
            work_items.c.held_by.in_(removed),
            work_items.c.status == ItemStatus.CLAIMED.value,
        )
        .group_by(work_items.c.held_by)
        .order_by(work_items.c.held_by)
    ).all()
    if held:
        raise ConfigError(
            [
                f"secretaries: {quote(secretary_id)} is not in the file, but holds {count} "
                "claimed item(s); complete, release or transfer them first, "
                "or keep her in the file"
                for secretary_id, count in held
            ]
        )


def _write(connection: Connection, current: AgencyConfig, new: AgencyConfig) -> None:
    old_tenants = {tenant.id: tenant for tenant in current.tenants}
    new_tenants = {tenant.id: tenant for tenant in new.tenants}
    for tenant in new.tenants:
        values = _tenant_values(tenant)
        if tenant.id not in old_tenants:
            connection.execute(tenants.insert().values(id=tenant.id, **values))
        elif _tenant_values(old_tenants[tenant.id]) != values:
            connection.execute(update(tenants).where(tenants.c.id == tenant.id).values(**values))

    old_secretaries = {secretary.id: secretary for secretary in current.secretaries}
    new_secretaries = {secretary.id: secretary for secretary in new.secretaries}
    for secretary in new.secretaries:
        values = _secretary_values(secretary)
        if secretary.id not in old_secretaries:
            # settings belong to the secretary (preferences), not to the config file.
            connection.execute(secretaries.insert().values(id=secretary.id, settings={}, **values))
        elif old_secretaries[secretary.id] != secretary:
            connection.execute(
                update(secretaries).where(secretaries.c.id == secretary.id).values(**values)
            )

    for key, table, column in (
        ("phone_numbers", tenant_phone_numbers, "number"),
        ("email_addresses", tenant_email_addresses, "address"),
    ):
        _sync_owned(connection, table, column, _owners(current, key), _owners(new, key))
    _sync_assignments(connection, assignment_kinds(current), assignment_kinds(new))

    for secretary_id in sorted(old_secretaries.keys() - new_secretaries.keys()):
        _remove_secretary(connection, secretary_id)
    for tenant_id in sorted(old_tenants.keys() - new_tenants.keys()):
        _remove_tenant(connection, tenant_id)
    if new.agency is not None and new.agency != current.agency:
        _sync_agency(
            connection,
            {
                "name": new.agency.name,
                "inbox": new.agency.inbox,
                "sla": sla_settings(new.agency.sla),
            },
        )


def _tenant_values(tenant: TenantConfig) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "language": tenant.language,
        "timezone": tenant.timezone,
        "settings": tenant.settings(),
    }


def _secretary_values(secretary: SecretaryConfig) -> dict[str, Any]:
    return {
        "name": secretary.name,
        "role": secretary.role.value,
        "languages": list(secretary.languages),
        "skills": list(secretary.skills),
        "capacity": secretary.capacity,
        "phone": secretary.phone,
    }


def _owners(config: AgencyConfig, key: str) -> dict[str, str]:
    return {value: tenant.id for tenant in config.tenants for value in getattr(tenant, key)}


def _sync_owned(
    connection: Connection,
    table: Table,
    column: str,
    old: Mapping[str, str],
    new: Mapping[str, str],
) -> None:
    """Make `table` (number or address -> tenant_id) hold exactly `new`."""
    key = table.c[column]
    gone = sorted(old.keys() - new.keys())
    if gone:
        connection.execute(delete(table).where(key.in_(gone)))
    for value in sorted(old.keys() & new.keys()):
        if old[value] != new[value]:
            connection.execute(update(table).where(key == value).values(tenant_id=new[value]))
    added = [{column: value, "tenant_id": new[value]} for value in sorted(new.keys() - old.keys())]
    if added:
        connection.execute(table.insert(), added)


def _sync_assignments(
    connection: Connection,
    old: Mapping[tuple[str, str], str],
    new: Mapping[tuple[str, str], str],
) -> None:
    def where(tenant_id: str, secretary_id: str) -> Any:
        return (assignments.c.tenant_id == tenant_id) & (assignments.c.secretary_id == secretary_id)

    for tenant_id, secretary_id in sorted(old.keys() - new.keys()):
        connection.execute(delete(assignments).where(where(tenant_id, secretary_id)))
    for pair in sorted(old.keys() & new.keys()):
        if old[pair] != new[pair]:
            connection.execute(update(assignments).where(where(*pair)).values(kind=new[pair]))
    added = [
        {"tenant_id": tenant_id, "secretary_id": secretary_id, "kind": new[tenant_id, secretary_id]}
        for tenant_id, secretary_id in sorted(new.keys() - old.keys())
    ]
    if added:
        connection.execute(assignments.insert(), added)


def _remove_secretary(connection: Connection, secretary_id: str) -> None:
    # work_items.held_by has no ON DELETE action. Her claimed items were refused above; on
    # finished or released items the column is history, which item_events keeps anyway
    # (actor "secretary:<id>"), so it is cleared as ON DELETE SET NULL would.
    connection.execute(
        update(work_items).where(work_items.c.held_by == secretary_id).values(held_by=None)
    )
    connection.execute(delete(secretaries).where(secretaries.c.id == secretary_id))


def _remove_tenant(connection: Connection, tenant_id: str) -> None:
    """Delete the tenant; its items stay, unmatched (ON DELETE SET NULL).

    Items waiting in its pool move to the unmatched pool, which supervisors work: no one
    is assigned to a removed tenant's pool any more.
    """
    now = datetime.now(UTC)
    waiting = list(
        connection.scalars(
            select(work_items.c.id).where(
                work_items.c.tenant_id == tenant_id,
                work_items.c.status == ItemStatus.QUEUED.value,
                work_items.c.pool == tenant_pool(tenant_id),
            )
        )
    )
    if waiting:
        connection.execute(
            update(work_items)
            .where(work_items.c.id.in_(waiting))
            .values(pool=UNMATCHED_POOL, updated_at=now)
        )
        connection.execute(
            item_events.insert(),
            [
                {
                    "item_id": item_id,
                    "at": now,
                    "actor": ACTOR,
                    "kind": "rerouted",
                    "data": {"pool": UNMATCHED_POOL, "reason": f"tenant {tenant_id} removed"},
                }
                for item_id in waiting
            ],
        )
    connection.execute(delete(tenants).where(tenants.c.id == tenant_id))


def _sync_agency(connection: Connection, values: Mapping[str, Any]) -> None:
    stored = {row.key: row.value for row in connection.execute(select(agency))}
    for key, value in values.items():
        if key not in stored:
            connection.execute(agency.insert().values(key=key, value=value))
        elif stored[key] != value:
            connection.execute(update(agency).where(agency.c.key == key).values(value=value))


def _bump_version(connection: Connection) -> None:
    """One up, in the apply's transaction: applies are serialized, so no two get one number."""
    current = connection.scalar(select(agency.c.value).where(agency.c.key == VERSION_KEY))
    if current is None:
        connection.execute(agency.insert().values(key=VERSION_KEY, value=1))
    else:
        connection.execute(
            update(agency).where(agency.c.key == VERSION_KEY).values(value=int(current) + 1)
        )
