"""compliance: debtor place on jobs, debtor key on attempts, legal stops, No Llame date

Revision ID: compliance_01
Revises: dashboard_01
Create Date: 2026-12-01 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_01"
down_revision: str | Sequence[str] | None = "dashboard_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("region", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("place_source", sa.String(length=200), nullable=True))
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("debtor_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_call_attempts_debtor", ["account_id", "debtor_key", "started_at"], unique=False
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_llame_imported_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "legal_stops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("debtor_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_legal_stops_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_stops")),
        sa.UniqueConstraint(
            "account_id", "debtor_id", name=op.f("uq_legal_stops_account_id_debtor_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("legal_stops")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("no_llame_imported_at")
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_call_attempts_debtor")
        batch_op.drop_column("debtor_key")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("place_source")
        batch_op.drop_column("region")
        batch_op.drop_column("timezone")
