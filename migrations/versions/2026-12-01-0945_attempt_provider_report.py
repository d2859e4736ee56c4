"""call_attempts: the provider's own report (cost, collected variables, further ids)

Revision ID: providers_01
Revises: collections_03
Create Date: 2026-12-01 09:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "providers_01"
down_revision: str | Sequence[str] | None = "collections_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_cost", JSON, nullable=True))
        batch_op.add_column(sa.Column("collected_variables", JSON, nullable=True))
        batch_op.add_column(sa.Column("provider_ids", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("provider_ids")
        batch_op.drop_column("collected_variables")
        batch_op.drop_column("provider_cost")
