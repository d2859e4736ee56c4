"""The API process is killed and restarted while the carrier delivers its webhooks over
HTTP (SIM_WEBHOOK_URL): deliveries that fail are retried, ones that were applied but not
acknowledged are deduplicated, and every call is settled exactly once."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.kit.clock import FileClock
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    MIXED_OUTCOMES,
    NO_DELAY_RETRIES,
    attempts_of,
    batch_row,
    call_settings,
    make_account,
    make_batch,
)
from tests.fixtures.servers import ApiProcess
from tests.fixtures.waiting import eventually
from tests.fixtures.workers import WorkerProcesses, set_clock
from tests.reliability.invariants import assert_run_is_sound

pytestmark = pytest.mark.slow


async def test_api_restarted_while_webhooks_are_delivered(
    database: Database, db_url: str, workers: WorkerProcesses, tmp_path: Path
) -> None:
    t0 = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
    set_clock(workers.clock_file, t0, rate=1)
    api = ApiProcess(db_url, tmp_path, workers.clock_file)
    api.start()
    try:
        await api.ready()
        acc = await make_account(database, cap=8)
        batch = await make_batch(
            database, acc, jobs=80, now=t0,
            settings=call_settings(
                max_concurrent_calls=8, retry_settings=NO_DELAY_RETRIES,
                collections=ENDS_WITH_LAST_CALL,
            ),
        )  # fmt: skip
        workers.start(
            2, SIM_SPEEDUP=300, SIM_OUTCOMES=MIXED_OUTCOMES, WORKER_CONCURRENCY=4,
            SIM_WEBHOOK_URL=f"{api.url}/api/v1/webhooks/simulated",
        )  # fmt: skip

        async def settled() -> int:  # attempts whose carrier report the API applied
            return sum(a.status == AttemptStatus.ENDED for a in await attempts_of(database, batch))

        async def finished() -> bool:
            return (await batch_row(database, batch)).pending_jobs == 0

        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
            # Killed once the API has applied a few more reports since it (re)started ...
            seen = await settled()

            async def applied_more(target: int = seen + 3) -> bool:
                return await settled() >= target or await finished()

            await eventually(applied_more, within=60, what="reports applied by the API")
            failures = workers.logs().count("simulated.webhook_failed")
            api.kill(sig)

            # ... and restarted once the carrier has delivered into the outage (and failed).
            async def delivered_into_outage(before: int = failures) -> bool:
                return workers.logs().count("simulated.webhook_failed") > before or (
                    await finished()
                )

            await eventually(delivered_into_outage, within=60, what="a failed delivery")
            api.start()
            await api.ready()

        clock = FileClock(workers.clock_file)
        for _ in range(60):
            if await finished():
                break
            # The carrier retries a failed delivery once its 30 s delivery lease is over:
            # the clock moves past it, and every worker runs its loop at the new time.
            set_clock(workers.clock_file, clock.now() + timedelta(seconds=31), rate=1)
            await workers.lived_through(database, 0.5)
        assert (await batch_row(database, batch)).pending_jobs == 0, workers.logs()[-2000:]
        assert workers.stop() == [0, 0]
    finally:
        api.kill(signal.SIGTERM)

    assert "simulated.webhook_failed" in workers.logs()  # the outages did hit deliveries
    totals = await assert_run_is_sound(database, acc)
    assert totals["calls"] >= 80
    assert totals["charged"] > 0
