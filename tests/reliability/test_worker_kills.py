"""Workers killed with SIGKILL again and again while they dispatch, across the closing
of the calling window: nothing is lost, nothing is dialed or billed twice, no call starts
after the window closes, and the caps hold."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from dialer.db.session import Database
from dialer.kit.clock import FileClock
from dialer.models import Batch
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    MIXED_OUTCOMES,
    NO_DELAY_RETRIES,
    batch_row,
    call_settings,
    job_statuses,
    make_account,
    make_batch,
)
from tests.fixtures.waiting import eventually
from tests.fixtures.workers import WorkerProcesses, set_clock
from tests.reliability.invariants import assert_run_is_sound

pytestmark = pytest.mark.slow

# Monday 2026-03-02 in Santiago (UTC-3): the 09:00-20:00 window closes at 23:00 UTC.
CLOSE = datetime.fromisoformat("2026-03-02T23:00:00+00:00")
BEFORE_CLOSE = CLOSE - timedelta(seconds=8)
TUESDAY_OPEN = datetime.fromisoformat("2026-03-03T12:00:00+00:00")


async def test_sigkilled_workers_lose_nothing_and_double_nothing(
    database: Database, workers: WorkerProcesses
) -> None:
    set_clock(workers.clock_file, BEFORE_CLOSE, rate=1)
    clock = FileClock(workers.clock_file)
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
    env = {
        "SIM_SPEEDUP": 300,
        "SIM_OUTCOMES": MIXED_OUTCOMES,
        "WORKER_CONCURRENCY": 4,
        "LEASE": "PT2S",
    }
    workers.start(3, **env)
    rng = random.Random(20260302)
    kills = 0

    def kill_one() -> None:
        nonlocal kills
        workers.kill9(rng.choice(workers.live()))
        workers.start(1, **env)
        kills += 1

    async def rows() -> list[Batch]:
        return [await batch_row(database, b) for b in batches]

    async def kill_while_dialing(rounds: int, *, until: datetime | None = None) -> None:
        """Kill a worker each time the batches made a few more attempts (mid-work)."""
        for _ in range(rounds):
            seen, step = sum(r.attempts_made for r in await rows()), rng.randint(2, 8)

            async def dialed_on(target: int = seen + step) -> bool:
                if until is not None and clock.now() >= until:
                    return True  # the window closed first: nothing more is dialed
                return sum(r.attempts_made for r in await rows()) >= target

            await eventually(dialed_on, within=30, what=f"{step} more attempts")
            kill_one()

    await kill_while_dialing(5, until=CLOSE)
    # Through 20:00 local: a kill each half second of the clock, on both sides of the close.
    for offset in (-1.0, -0.5, 0.0, 0.5, 1.0):
        instant = CLOSE + timedelta(seconds=offset)

        async def running_then(at: datetime = instant) -> bool:
            return await workers.beaten_at(database, at)

        await eventually(running_then, within=30, what=f"a worker running at {instant:%T}")
        kill_one()
    assert any(r.pending_jobs for r in await rows()), "everything finished before the close"

    async def evening_settled() -> bool:  # calls ended, dead workers' claims taken back
        return all(r.in_progress_jobs == 0 for r in await rows())

    await eventually(evening_settled, within=30, what="no job in progress after the close")
    set_clock(workers.clock_file, TUESDAY_OPEN, rate=1)
    await kill_while_dialing(5)

    async def done() -> bool:
        return all(r.pending_jobs == 0 for r in await rows())

    try:
        await eventually(done, within=45, every=0.2, what="every job final")
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
