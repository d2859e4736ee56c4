"""Provider webhooks duplicated, delayed, reordered and lost, delivered over HTTP to the
API while real workers dispatch. Lost ones are recovered by the reconciler asking the
provider (``get_call``) once the call timeout passes; when they finally arrive, late,
they change nothing."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.kit import clock as clock_mod
from dialer.kit.clock import FileClock
from dialer.models import CallAttempt, SimulatedCall
from dialer.telephony.simulated import SimulatedProvider, sign
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    MIXED_OUTCOMES,
    NO_DELAY_RETRIES,
    batch_row,
    call_settings,
    make_account,
    make_batch,
)
from tests.fixtures.servers import free_port
from tests.fixtures.workers import WorkerProcesses, set_clock
from tests.reliability.invariants import assert_run_is_sound

pytestmark = pytest.mark.slow

WEBHOOK = "/api/v1/webhooks/simulated"
Delivery = tuple[bytes, dict[str, str]]


@pytest.fixture
def shared_clock(workers: WorkerProcesses) -> Iterator[Path]:
    """This process reads the same clock file as the workers (signatures, retries)."""
    set_clock(workers.clock_file, datetime.fromisoformat("2026-03-02T15:00:00+00:00"), rate=1)
    previous = clock_mod.set_clock(FileClock(workers.clock_file))
    yield workers.clock_file
    clock_mod.set_clock(previous)


def started_event(sim: SimulatedProvider, row: SimulatedCall, at: datetime) -> Delivery:
    """A non-final 'call.started' report of the same call, signed like the final one."""
    body, _ = sim.build_webhook(row, at)
    data = {**json.loads(body), "event": "call.started", "outcome": None}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return raw, {
        "content-type": "application/json",
        "X-Dialer-Signature": sign(sim.secret, raw, at),
    }


async def test_duplicated_delayed_reordered_and_lost_webhooks(
    database: Database,
    settings: Settings,
    workers: WorkerProcesses,
    shared_clock: Path,
    admin: httpx.AsyncClient,
) -> None:
    t0 = clock_mod.now()
    acc = await make_account(database, cap=10)
    batch = await make_batch(
        database, acc, jobs=60, now=t0,
        settings=call_settings(
            max_concurrent_calls=10, retry_settings=NO_DELAY_RETRIES,
            collections=ENDS_WITH_LAST_CALL,
        ),
    )  # fmt: skip
    # The carrier's own deliveries go nowhere: this test is the network. The clock jumps
    # past the call timeout, not past the dialing lease: no worker is stalled here.
    dead = f"http://127.0.0.1:{free_port()}{WEBHOOK}"
    workers.start(
        2, SIM_SPEEDUP=1000, SIM_OUTCOMES=MIXED_OUTCOMES, SIM_WEBHOOK_URL=dead, CALL_TIMEOUT="PT60S", LEASE="PT300S",
        WORKER_CONCURRENCY=6,
    )  # fmt: skip
    sim = SimulatedProvider(database, settings)
    rng = random.Random(42)
    handled: set[str] = set()
    lost: dict[str, SimulatedCall] = {}
    held: list[Delivery] = []
    sent = duplicates = stale = delayed = idle = clock_jumps = 0

    async def deliver(items: list[Delivery]) -> None:
        # Concurrently: duplicates of one call race each other into the API.
        responses = await asyncio.gather(
            *(admin.post(WEBHOOK, content=body, headers=h) for body, h in items)
        )
        for r in responses:
            assert r.status_code == 200, r.text

    for _ in range(400):
        if (await batch_row(database, batch)).pending_jobs == 0:
            break
        now = clock_mod.now()
        async with database.read() as s:
            rows = list(
                (
                    await s.execute(select(SimulatedCall).where(SimulatedCall.complete_at <= now))
                ).scalars()
            )
            s.expunge_all()
        new = [r for r in rows if r.id not in handled]
        batch_now, held = held, []
        for row in new:
            handled.add(row.id)
            final = sim.build_webhook(row, now)
            if rng.random() < 0.25:
                lost[row.id] = row  # never delivered (until the very end)
                continue
            copies = [final] * rng.choice([1, 1, 2, 3])
            duplicates += len(copies) - 1
            if rng.random() < 0.3:
                copies.append(started_event(sim, row, now))  # "started" after "ended"
                stale += 1
            if rng.random() < 0.2:
                held += copies  # delayed to a later round, behind newer calls
                delayed += 1
            else:
                batch_now += copies
        rng.shuffle(batch_now)
        if batch_now:
            await deliver(batch_now)
            sent += len(batch_now)
        if new or batch_now or held:
            idle = 0
            continue
        # Nothing new on the line: the next round comes once every worker has run its
        # loop again (claimed and placed what it would).
        await workers.lived_through(database, 0.1)
        idle += 1
        if idle >= 3:
            # Only lost calls are left on the line: let the call timeout pass so the
            # reconciler asks the provider about them.
            set_clock(shared_clock, clock_mod.now() + timedelta(seconds=61), rate=1)
            clock_jumps += 1
            idle = 0
    assert (await batch_row(database, batch)).pending_jobs == 0, workers.logs()[-2000:]
    assert workers.stop() == [0, 0]

    # The lost webhooks arrive at last, twice each: nothing changes any more. They are the
    # carrier's retries, signed when sent (each retry carries a fresh timestamp): the
    # first copies were signed minutes of clock jumps ago, past the 5-minute tolerance.
    before = await assert_run_is_sound(database, acc)
    late = [sim.build_webhook(row, clock_mod.now()) for row in lost.values()] * 2
    rng.shuffle(late)
    if late:
        await deliver(late)
    assert await assert_run_is_sound(database, acc) == before

    async with database.read() as s:
        reconciled = list(
            (
                await s.execute(
                    select(CallAttempt, SimulatedCall)
                    .join(SimulatedCall, SimulatedCall.attempt_id == CallAttempt.id)
                    .where(SimulatedCall.id.in_(list(lost)))
                )
            ).all()
        )
        s.expunge_all()
    # Every lost call was settled with what the provider says happened, not a guess.
    assert len(reconciled) == len(lost) > 0
    for attempt, call in reconciled:
        assert attempt.status == AttemptStatus.ENDED
        assert (attempt.outcome, attempt.duration_s) == (call.outcome, call.duration_s)
    assert duplicates > 0
    assert stale > 0
    assert delayed > 0
    assert clock_jumps > 0
    assert before["calls"] >= 60
