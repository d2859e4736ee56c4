"""Workers killed with SIGKILL again and again while they dispatch, across the closing
of the calling window: nothing is lost, nothing is dialed or billed twice, no call starts
after the window closes, and the caps hold."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime

import pytest

from dialer.db.session import Database
from tests.fixtures.workers import WorkerProcesses, eventually, set_clock
from tests.reliability.invariants import assert_run_is_sound
from tests.worker.factories import (
    ENDS_WITH_LAST_CALL,
    batch_row,
    call_settings,
    job_statuses,
    make_account,
    make_batch,
)

pytestmark = pytest.mark.slow

NO_DELAY_RETRIES = {
    "max_attempts": 2,
    "retry_delay_hours": 0,
    "per_outcome": {k: {"delay_hours": 0} for k in ("no_answer", "busy", "voicemail", "failed")},
}
MIX = json.dumps(
    {"completed": 0.6, "no_answer": 0.2, "busy": 0.1, "voicemail": 0.05, "failed": 0.05}
)
# Monday 2026-03-02 19:59:55 in Santiago (UTC-3): the 09:00-20:00 window closes in 5 s.
BEFORE_CLOSE = datetime.fromisoformat("2026-03-02T22:59:55+00:00")
TUESDAY_OPEN = datetime.fromisoformat("2026-03-03T12:00:00+00:00")


async def test_sigkilled_workers_lose_nothing_and_double_nothing(
    database: Database, workers: WorkerProcesses
) -> None:
    set_clock(workers.clock_file, BEFORE_CLOSE, rate=1)
    acc = await make_account(database, cap=8)
    settings = call_settings(
        allowed_call_hours={"start": "09:00", "end": "20:00"},
        max_concurrent_calls=5,
        retry_settings=NO_DELAY_RETRIES,
        collections=ENDS_WITH_LAST_CALL,
    )
    batches = [
        await make_batch(database, acc, jobs=60, now=BEFORE_CLOSE, settings=settings)
        for _ in range(2)
    ]
    # Calls last ~0.1-1 s; a dead worker's claims come back after a 2 s lease.
    env = {"SIM_SPEEDUP": 300, "SIM_OUTCOMES": MIX, "WORKER_CONCURRENCY": 4, "LEASE": "PT2S"}
    workers.start(3, **env)
    rng = random.Random(20260302)

    async def kill_some(rounds: int) -> int:
        killed = 0
        for _ in range(rounds):
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            live = [p for p in workers.procs if p.poll() is None]
            workers.kill9(rng.choice(live))
            killed += 1
            workers.start(1, **env)
        return killed

    kills = await kill_some(10)  # through 20:00 local: the window closes meanwhile
    evening = [await batch_row(database, b) for b in batches]
    assert any(b.pending_jobs for b in evening), "everything finished before the window closed"

    set_clock(workers.clock_file, TUESDAY_OPEN, rate=1)
    kills += await kill_some(5)

    async def done() -> bool:
        rows = [await batch_row(database, b) for b in batches]
        return all(r.pending_jobs == 0 for r in rows)

    try:
        await eventually(done, within=45, every=0.2)
    except AssertionError:
        raise AssertionError(
            ([await job_statuses(database, b) for b in batches], workers.logs()[-3000:])
        ) from None
    assert all(code == 0 for code in workers.stop() if code != -9)

    totals = await assert_run_is_sound(database, acc)
    assert kills == 15
    assert totals["jobs"] == 120
    assert totals["calls"] >= 120  # every contact was dialed at least once
    assert totals["charged"] > 0
