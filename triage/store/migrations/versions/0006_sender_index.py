"""an index on an item's tenant and sender

The repeat-sender check of every call, SMS and mail, and the subject-and-sender thread
fallback of mail, look items up by tenant and sender: without it each scans work_items.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index("ix_work_items_sender", ["tenant_id", "sender"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_sender")
