"""db/dialect.py, the one place that knows SQLite from PostgreSQL, does the same thing on
both (the suite runs this file on each)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from dialer.db.dialect import dialect_of, insert, transaction_lock
from dialer.db.session import Database
from dialer.models import Job, WorkerHeartbeat

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _beat(worker_id: str, at: datetime) -> dict[str, object]:
    return {"worker_id": worker_id, "hostname": "h", "pid": 1, "started_at": T0, "last_seen_at": at}


async def test_insert_ignores_or_updates_a_conflicting_row(database: Database, dialect: str):
    async with database.write() as s:
        assert dialect_of(s) == dialect
        await s.execute(insert(s, WorkerHeartbeat).values(_beat("w1", T0)))
        ignored = insert(s, WorkerHeartbeat).values(_beat("w1", T0.replace(hour=16)))
        await s.execute(ignored.on_conflict_do_nothing(index_elements=["worker_id"]))
    async with database.read() as s:
        seen = (await s.execute(select(WorkerHeartbeat.last_seen_at))).scalar_one()
    assert seen == T0
    later = T0.replace(hour=17)
    async with database.write() as s:
        stmt = insert(s, WorkerHeartbeat).values(_beat("w1", later))
        await s.execute(
            stmt.on_conflict_do_update(index_elements=["worker_id"], set_={"last_seen_at": later})
        )
    async with database.read() as s:
        rows = (await s.execute(select(WorkerHeartbeat.last_seen_at))).scalars().all()
    assert rows == [later]


def test_row_locks_are_written_once_and_rendered_only_where_they_exist():
    stmt = select(Job.id).where(Job.id == "j").with_for_update(skip_locked=True)
    assert "FOR UPDATE SKIP LOCKED" in str(stmt.compile(dialect=postgresql.dialect()))
    # SQLite has no row locks: its write transaction (BEGIN IMMEDIATE) excludes writers.
    assert "FOR UPDATE" not in str(stmt.compile(dialect=sqlite.dialect()))


async def test_a_named_transaction_lock_excludes_a_second_holder_until_commit(
    database: Database, dialect: str
):
    async with database.write() as first:
        assert await transaction_lock(first, "dialer.test:a")
        if dialect == "postgresql":
            async with database.write() as second:
                assert not await transaction_lock(second, "dialer.test:a", wait=False)
                assert await transaction_lock(second, "dialer.test:b", wait=False)
    async with database.write() as third:  # released by the commit
        assert await transaction_lock(third, "dialer.test:a", wait=False)
