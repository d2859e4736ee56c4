"""SQLite WAL checkpoints run in the background, not in the commit that fills the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from dialer.db.checkpoint import AUTOCHECKPOINT_PAGES, checkpoint, run_checkpoints
from dialer.db.session import Database
from tests.fixtures.waiting import eventually

ROWS = 10_000  # ~2,500 pages of 4 KiB: past SQLite's default threshold (1,000), below ours


def _db_file(db: Database) -> Path:
    return Path(db.url.split("///", 1)[1])


async def _fill(db: Database) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS filler (x TEXT)"))
        await session.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) "
                "INSERT INTO filler (x) SELECT hex(randomblob(500)) FROM n"
            ),
            {"n": ROWS},
        )


async def test_a_large_commit_leaves_the_log_to_the_background_checkpoint(database, dialect):
    if dialect != "sqlite":
        pytest.skip("PostgreSQL has no WAL file of ours to checkpoint")
    before = _db_file(database).stat().st_size
    await _fill(database)
    # The commit returned without copying its pages into the database file...
    assert _db_file(database).stat().st_size - before < 1_000 * 4096
    busy, logged, done = await checkpoint(database) or (1, 0, 0)
    # ... the background pass does it, all of it.
    assert busy == 0
    assert logged > 1_000
    assert done == logged
    assert _db_file(database).stat().st_size - before > 2_000 * 4096
    async with database.read() as session:
        count = (await session.execute(text("SELECT count(*) FROM filler"))).scalar_one()
    assert count == ROWS


async def test_write_connections_checkpoint_by_themselves_only_past_the_safety_net(
    database, dialect
):
    if dialect != "sqlite":
        pytest.skip("SQLite only")
    async with database.write() as session:
        conn = await session.connection()
        value = (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one()
    assert value == AUTOCHECKPOINT_PAGES


async def test_the_loop_checkpoints_until_stopped(database, dialect):
    stop = asyncio.Event()
    task = asyncio.create_task(run_checkpoints(database, stop, interval_s=0.05))
    if dialect == "sqlite":
        before = _db_file(database).stat().st_size
        await _fill(database)

        def copied_back() -> bool:  # the loop copies the log back within a few passes
            return _db_file(database).stat().st_size - before > 2_000 * 4096

        await eventually(copied_back, within=5, what="the log copied into the database file")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert task.done()
