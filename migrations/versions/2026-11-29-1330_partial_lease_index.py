"""jobs: the lease index holds leased jobs only

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 13:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEASED = sa.text("lease_expires_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_lease")
        batch_op.create_index(
            "ix_jobs_lease",
            ["status", "lease_expires_at"],
            unique=False,
            sqlite_where=LEASED,
            postgresql_where=LEASED,
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_lease")
        batch_op.create_index("ix_jobs_lease", ["status", "lease_expires_at"], unique=False)
