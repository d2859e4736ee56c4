"""ix_jobs_batch_search on (batch_id, id, search_text): an import appends its jobs' keys
at the end of the batch's range (ids increase within an import) instead of all over it

Revision ID: ingest2b_01
Revises: houseb_01
Create Date: 2026-12-01 20:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ingest2b_01"
down_revision: str | Sequence[str] | None = "houseb_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_batch_search")
        batch_op.create_index("ix_jobs_batch_search", ["batch_id", "id", "search_text"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_batch_search")
        batch_op.create_index("ix_jobs_batch_search", ["batch_id", "search_text", "id"])
