"""jobs.search_text: the folded contact search key (name, RUT, phones), indexed per batch

Revision ID: dashc_02
Revises: complb_01
Create Date: 2026-12-01 15:45:00+00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dialer.kit import search

revision: str = "dashc_02"
down_revision: str | Sequence[str] | None = "complb_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 5000


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.String(length=512), nullable=True))
    # Existing jobs get their key, folded in Python as new rows are (kit/search.py).
    conn = op.get_bind()
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String),
        sa.column("contact_name", sa.String),
        sa.column("dni", sa.String),
        sa.column("phones", sa.Text),
        sa.column("search_text", sa.String),
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.contact_name, jobs.c.dni, sa.cast(jobs.c.phones, sa.Text))
            .where(jobs.c.id > last)
            .order_by(jobs.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        conn.execute(
            jobs.update().where(jobs.c.id == sa.bindparam("job_id")),
            [
                {
                    "job_id": r[0],
                    "search_text": search.search_text(
                        r[1], r[2], search.phone_digits(json.loads(r[3] or "[]") or [])
                    ),
                }
                for r in rows
            ],
        )
        last = rows[-1][0]
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_batch_search", ["batch_id", "search_text", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_batch_search")
        batch_op.drop_column("search_text")
