"""recovery_stats.promised_amount / recovered_amount: 64-bit (an hour of a large campaign
promised more than 2^31 pesos: 22,000 promises of 150,000 CLP, and every settlement of that
hour failed with "integer out of range")

Revision ID: houseb_01
Revises: dashc_02
Create Date: 2026-12-01 18:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "houseb_01"
down_revision: str | Sequence[str] | None = "dashc_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("promised_amount", "recovered_amount")


def upgrade() -> None:
    with op.batch_alter_table("recovery_stats", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.alter_column(name, existing_type=sa.Integer(), type_=sa.BigInteger())


def downgrade() -> None:
    # An amount past 32 bits cannot go back: it is held at the limit, not refused.
    with op.batch_alter_table("recovery_stats", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.alter_column(
                name, existing_type=sa.BigInteger(), type_=sa.Integer(),
                postgresql_using=f"least(greatest({name}, -2147483648), 2147483647)::integer",
            )  # fmt: skip
