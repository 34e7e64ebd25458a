"""triage results

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:57:49.405171
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import triage.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classification_corrections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("secretary_id", sa.String(length=64), nullable=False),
        sa.Column("at", triage.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("old_category", sa.String(length=32), nullable=True),
        sa.Column("new_category", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["work_items.id"],
            name=op.f("fk_classification_corrections_item_id_work_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classification_corrections")),
    )
    with op.batch_alter_table("classification_corrections", schema=None) as batch_op:
        batch_op.create_index("ix_classification_corrections_at", ["at"], unique=False)

    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("triage", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("spam", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("spam")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("confidence")
        batch_op.drop_column("triage")

    with op.batch_alter_table("classification_corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_classification_corrections_at")

    op.drop_table("classification_corrections")
