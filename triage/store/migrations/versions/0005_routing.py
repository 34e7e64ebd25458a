"""routing: skills, pins, SLA due times, escalation, leases, snooze

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import triage.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, triage.store.types.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("required_skill", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pinned_to", sa.String(length=64), nullable=True))
        batch_op.add_column(_when("due_at"))
        batch_op.add_column(_when("backup_at"))
        batch_op.add_column(
            sa.Column("escalation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(_when("first_response_at"))
        batch_op.add_column(_when("lease_expires_at"))
        batch_op.add_column(_when("snoozed_until"))
        batch_op.create_foreign_key(
            batch_op.f("fk_work_items_pinned_to_secretaries"),
            "secretaries",
            ["pinned_to"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_index("ix_work_items_claim")
        batch_op.create_index(
            "ix_work_items_claim",
            ["status", "pool", "priority_rank", "due_at", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_work_items_lease", ["status", "lease_expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_lease")
        batch_op.drop_index("ix_work_items_claim")
        batch_op.create_index(
            "ix_work_items_claim", ["status", "pool", "priority_rank", "created_at"], unique=False
        )
        batch_op.drop_constraint(
            batch_op.f("fk_work_items_pinned_to_secretaries"), type_="foreignkey"
        )
        for column in (
            "snoozed_until",
            "lease_expires_at",
            "first_response_at",
            "escalation",
            "due_at",
            "backup_at",
            "pinned_to",
            "required_skill",
        ):
            batch_op.drop_column(column)
