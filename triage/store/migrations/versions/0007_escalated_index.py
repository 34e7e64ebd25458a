"""a partial index on items escalated to supervisors, in serving order

A supervisor's claim takes items at the second breach from every pool, best first:
without it each such claim scanned work_items (15 ms at 100,000 items).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 19:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WHERE = "status = 'queued' AND escalation >= 3"


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_items_escalated",
            ["priority_rank", "due_at", "created_at", "id"],
            unique=False,
            postgresql_where=sa.text(_WHERE),
            sqlite_where=sa.text(_WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_escalated")
