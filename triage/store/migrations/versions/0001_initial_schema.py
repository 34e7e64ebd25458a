"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 13:28:22.171752
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import triage.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secretaries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "role IN ('secretary', 'supervisor', 'admin')", name=op.f("ck_secretaries_role")
        ),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_secretaries_capacity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secretaries")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("secretary_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", triage.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", triage.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["secretary_id"],
            ["secretaries.id"],
            name=op.f("fk_api_tokens_secretary_id_secretaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "assignments",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("secretary_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.CheckConstraint("kind IN ('primary', 'backup')", name=op.f("ck_assignments_kind")),
        sa.ForeignKeyConstraint(
            ["secretary_id"],
            ["secretaries.id"],
            name=op.f("fk_assignments_secretary_id_secretaries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_assignments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "secretary_id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_secretary", ["secretary_id"], unique=False)

    op.create_table(
        "tenant_email_addresses",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_email_addresses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_tenant_email_addresses")),
    )
    op.create_table(
        "tenant_phone_numbers",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_phone_numbers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_tenant_phone_numbers")),
    )
    op.create_table(
        "work_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=80), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("held_by", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", triage.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", triage.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", triage.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", triage.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", triage.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'call', 'email')", name=op.f("ck_work_items_channel")
        ),
        sa.CheckConstraint(
            "status IN ('received', 'queued', 'claimed', 'completed')",
            name=op.f("ck_work_items_status"),
        ),
        sa.ForeignKeyConstraint(
            ["held_by"], ["secretaries.id"], name=op.f("fk_work_items_held_by_secretaries")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_work_items_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
        sa.UniqueConstraint("channel", "external_id", name="uq_work_items_channel_external_id"),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_items_claim", ["status", "pool", "priority_rank", "created_at"], unique=False
        )
        batch_op.create_index("ix_work_items_held_by", ["held_by", "status"], unique=False)

    op.create_table(
        "item_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", triage.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["work_items.id"],
            name=op.f("fk_item_events_item_id_work_items"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_events")),
    )
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.create_index("ix_item_events_item", ["item_id", "id"], unique=False)

    _make_item_events_append_only()


def _make_item_events_append_only() -> None:
    """The audit trail is append-only in the database itself, not just by convention."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER item_events_no_{action.lower()} BEFORE {action} ON item_events "
                "BEGIN SELECT RAISE(ABORT, 'item_events is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION item_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'item_events is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER item_events_append_only BEFORE UPDATE OR DELETE ON item_events "
        "FOR EACH ROW EXECUTE FUNCTION item_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER item_events_no_update")
        op.execute("DROP TRIGGER item_events_no_delete")
    else:
        op.execute("DROP TRIGGER item_events_append_only ON item_events")
        op.execute("DROP FUNCTION item_events_append_only()")
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.drop_index("ix_item_events_item")

    op.drop_table("item_events")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_held_by")
        batch_op.drop_index("ix_work_items_claim")

    op.drop_table("work_items")
    op.drop_table("tenant_phone_numbers")
    op.drop_table("tenant_email_addresses")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_secretary")

    op.drop_table("assignments")
    op.drop_table("api_tokens")
    op.drop_table("tenants")
    op.drop_table("secretaries")
