"""ix_webhook_receipts_received_at: the retention task's prune of old receipts reads the
index instead of the whole table (a sequential scan per worker every retention round)

Revision ID: houseb_02
Revises: ingest2b_01
Create Date: 2026-12-01 20:45:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "houseb_02"
down_revision: str | Sequence[str] | None = "ingest2b_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_receipts_received_at", ["received_at"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_receipts_received_at")
