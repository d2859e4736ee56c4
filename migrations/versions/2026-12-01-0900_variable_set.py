"""batches, scripts: variable_set (standard | legacy agent variables)

Revision ID: legacy_01
Revises: collections_01
Create Date: 2026-12-01 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "legacy_01"
down_revision: str | Sequence[str] | None = "collections_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variable_set", sa.String(length=16), nullable=True))
    with op.batch_alter_table("scripts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variable_set", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scripts", schema=None) as batch_op:
        batch_op.drop_column("variable_set")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("variable_set")
