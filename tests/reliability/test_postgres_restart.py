"""PostgreSQL restarted (twice) in the middle of a run: the workers lose their
connections, reconnect and finish, and the run is as sound as an undisturbed one.

PostgreSQL only, and on its OWN throw-away cluster (scripts/pg.sh on a free port), so
the server other tests share is never restarted."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from dialer.db import engine as engine_module
from dialer.db.session import Database
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    MIXED_OUTCOMES,
    NO_DELAY_RETRIES,
    batch_row,
    call_settings,
    make_account,
    make_batch,
)
from tests.fixtures.database import configured_pg_url, migrate
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually
from tests.fixtures.workers import ROOT, WorkerProcesses, set_clock
from tests.reliability.invariants import assert_run_is_sound

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres_only,
    pytest.mark.skipif(not configured_pg_url(), reason="needs PostgreSQL (TEST_DATABASE_URL)"),
]

PG = str(ROOT / "scripts" / "pg.sh")
select_one = text("SELECT 1")


def pg(*args: str) -> str:
    out = subprocess.run([PG, *args], check=True, capture_output=True, text=True, timeout=120)
    return out.stdout.strip()


@pytest.fixture
async def own_cluster() -> AsyncIterator[tuple[str, str]]:
    """(port, URL) of a private PostgreSQL cluster, migrated; removed afterwards."""
    port = str(free_port())
    url = (await asyncio.to_thread(pg, "start", port)).splitlines()[-1]
    try:
        await asyncio.to_thread(migrate, url)
        yield port, url
    finally:
        await asyncio.to_thread(pg, "stop", port)


async def test_workers_survive_postgres_restarts(
    own_cluster: tuple[str, str], tmp_path: Path
) -> None:
    port, url = own_cluster
    db = Database(url)
    workers = WorkerProcesses(url, tmp_path)
    try:
        t0 = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
        set_clock(workers.clock_file, t0, rate=1)
        acc = await make_account(db, cap=8)
        batch = await make_batch(
            db, acc, jobs=120, now=t0,
            settings=call_settings(
                max_concurrent_calls=8, retry_settings=NO_DELAY_RETRIES,
                collections=ENDS_WITH_LAST_CALL,
            ),
        )  # fmt: skip
        workers.start(
            3, SIM_SPEEDUP=300, SIM_OUTCOMES=MIXED_OUTCOMES, WORKER_CONCURRENCY=4, LEASE="PT3S"
        )
        progress = 0
        for _ in range(2):

            async def moved_on(seen: int = progress) -> bool:
                return (await batch_row(db, batch)).attempts_made > seen + 10

            try:
                await eventually(moved_on, within=20, every=0.1)
            except AssertionError:
                raise AssertionError(workers.logs()[-3000:]) from None
            row = await batch_row(db, batch)
            assert row.pending_jobs > 0  # mid-run: calls still to make
            progress = row.attempts_made
            await asyncio.to_thread(pg, "restart", port)  # fast shutdown: connections die
            await db.engine.dispose()  # this process's pooled connections are dead too
            assert all(p.poll() is None for p in workers.procs), workers.logs()[-2000:]

        async def done() -> bool:
            return (await batch_row(db, batch)).pending_jobs == 0

        try:
            await eventually(done, within=40, every=0.2)
        except AssertionError:
            raise AssertionError(workers.logs()[-3000:]) from None
        assert workers.stop() == [0, 0, 0]  # nobody crashed: they reconnected
        totals = await assert_run_is_sound(db, acc)
        assert totals["calls"] >= 120
        assert totals["charged"] > 0
    finally:
        workers.stop(timeout=10)
        await db.dispose()


class _PoolClockLater:
    """The pool's monotonic clock, moved ``by`` seconds ahead (instead of waiting)."""

    def __init__(self, by: float) -> None:
        self.by = by

    def monotonic(self) -> float:
        return time.monotonic() + self.by


async def test_pooled_connections_idle_across_a_restart_are_replaced_before_use(
    own_cluster: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool checks a connection that sat idle (the server may be gone) and skips the
    check for one used a moment ago; either way a request never gets a dead connection."""
    port, url = own_cluster
    db = Database(url)
    try:
        async with db.read() as first, db.read() as second:  # two connections in the pool
            await first.execute(select_one)
            await second.execute(select_one)
        await asyncio.to_thread(pg, "restart", port)
        # Idle past the ping threshold: the pool's clock moves on, nobody waits for it.
        # (Without it the dead connections, used a moment ago, would be handed out.)
        later = _PoolClockLater(engine_module.PING_IDLE_S + 0.1)
        monkeypatch.setattr(engine_module, "time", later)
        for _ in range(3):  # every pooled connection, and the new ones, work
            async with db.read() as a, db.read() as b:
                assert (await a.execute(select_one)).scalar_one() == 1
                assert (await b.execute(select_one)).scalar_one() == 1
        async with db.write() as session:
            assert (await session.execute(select_one)).scalar_one() == 1
    finally:
        await db.dispose()
