"""call_attempts.recording_url: the provider's recording of the call

Revision ID: collections_03
Revises: collections_02
Create Date: 2026-12-01 09:35:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "collections_03"
down_revision: str | Sequence[str] | None = "collections_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("recording_url")
