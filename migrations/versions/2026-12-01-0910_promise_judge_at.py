"""promises: judge_at, the instant a promise not yet kept is judged broken

Revision ID: collections_02
Revises: legacy_01
Create Date: 2026-12-01 09:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dialer.db.types

revision: str = "collections_02"
down_revision: str | Sequence[str] | None = "legacy_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("judge_at", dialer.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("ix_promises_due")
        batch_op.create_index("ix_promises_due", ["status", "judge_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_due")
        batch_op.create_index("ix_promises_due", ["status", "due_on"], unique=False)
        batch_op.drop_column("judge_at")
