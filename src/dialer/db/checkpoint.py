"""SQLite WAL checkpoints off the commit path.

In WAL mode every commit appends pages to the ``-wal`` file, and by default the commit
that takes the log past 1,000 pages also copies it back into the database file (the
checkpoint) before it returns: 0.12 s of a 100,000-row import's 0.15 s commit, or a
worker's one-row commit made to wait for the pages of somebody else's import.

Write connections therefore only checkpoint by themselves past ``AUTOCHECKPOINT_PAGES``
(a safety net for a process running alone, such as ``dialer import``), and the API and
worker processes run ``run_checkpoints``: a PASSIVE checkpoint every second, on a
connection of its own, which never blocks readers or writers (it copies what no reader
still needs and leaves the rest for the next pass). PostgreSQL needs none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from dialer import logging as dlog
from dialer.db.engine import AUTOCHECKPOINT_PAGES
from dialer.db.session import Database

__all__ = ["AUTOCHECKPOINT_PAGES", "checkpoint", "run_checkpoints"]

INTERVAL_S = 1.0

log = dlog.get_logger("dialer.db")


async def checkpoint(db: Database) -> tuple[int, int, int] | None:
    """One PASSIVE checkpoint: (busy, log pages, pages checkpointed); None off SQLite."""
    if db.dialect != "sqlite":
        return None
    async with db.engine.connect() as conn:
        # The driver connection directly: SQLAlchemy would open a transaction first
        # (BEGIN IMMEDIATE on the write engine), and a checkpoint cannot run inside one.
        raw: Any = await conn.get_raw_connection()
        cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = await cursor.fetchone()
        await cursor.close()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


async def run_checkpoints(
    db: Database, stop: asyncio.Event, interval_s: float = INTERVAL_S
) -> None:
    """Checkpoint every ``interval_s`` until ``stop`` is set (returns at once off SQLite)."""
    if db.dialect != "sqlite":
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        try:
            await checkpoint(db)
        except Exception:  # the next pass tries again; commits still checkpoint past the net
            log.warning("db.checkpoint_failed", exc_info=True)
