"""The worker loop in-process: simulated carrier, webhook path, billing, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt, ContactLog, Event, Job, LedgerEntry
from dialer.worker.runner import Worker
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    account_row,
    attempts_of,
    batch_row,
    call_settings,
    job_statuses,
    ledger_sum,
    make_account,
    make_batch,
)
from tests.fixtures.waiting import eventually


def fast(settings: Settings, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "SIM_SPEEDUP": 0,
        "POLL_INTERVAL": timedelta(milliseconds=20),
        "WORKER_CONCURRENCY": 10,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


async def run_until(worker: Worker, done: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(done, within=90)  # seconds when the machine is free
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_batch_runs_to_the_end_and_bills_every_answered_call_once(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    acc = await make_account(database, cap=10)
    retry = {"max_attempts": 3, "retry_delay_hours": 0,
             "per_outcome": {k: {"delay_hours": 0} for k in ("no_answer", "busy", "voicemail", "failed")}}  # fmt: skip
    batch = await make_batch(
        database, acc, jobs=40, now=now, phones=2,
        settings=call_settings(
            retry_settings=retry, max_concurrent_calls=6, collections=ENDS_WITH_LAST_CALL
        ),
    )  # fmt: skip
    start_balance = await ledger_sum(database, acc)
    # Outcomes are drawn per (random) attempt id: a mix with many unanswered calls makes
    # "some contacts stay unreached after 3 attempts" certain (0.6^3 per job, 40 jobs).
    worker = Worker(
        database,
        fast(settings, SIM_OUTCOMES={"completed": 0.4, "no_answer": 0.4, "busy": 0.2}),
        clock=frozen_clock,
    )

    async def finished() -> bool:
        return (await batch_row(database, batch)).pending_jobs == 0

    await run_until(worker, finished)

    b = await batch_row(database, batch)
    assert b.status == "completed"
    assert b.completed_jobs + b.failed_jobs == 40
    assert b.completed_jobs > 0
    assert b.failed_jobs > 0  # some contacts stay unreached
    attempts = await attempts_of(database, batch)
    ended = [a for a in attempts if a.status == AttemptStatus.ENDED]
    assert len(ended) == len(attempts) == b.attempts_made
    answered = [a for a in ended if a.outcome == "completed"]
    assert len(answered) == b.completed_jobs == b.answered_calls
    # Answered calls carry what the agent got out of them.
    assert all(a.business_result and a.transcript and a.summary for a in answered)
    # Every answered call charged exactly once, by the minute; holds all given back.
    charges = sum(a.cost_units for a in ended)
    assert charges == sum(-(-a.duration_s // 60) * 60 for a in answered) == b.cost_units
    assert await ledger_sum(database, acc) == start_balance - charges
    assert (await account_row(database, acc)).balance == start_balance - charges
    async with database.read() as s:
        n_charge = (
            await s.execute(select(func.count()).where(LedgerEntry.kind == "charge"))
        ).scalar_one()
        contacts = (await s.execute(select(func.count()).select_from(ContactLog))).scalar_one()
        events = (
            (await s.execute(select(Event.type).where(Event.batch_id == batch))).scalars().all()
        )
        jobs = (await s.execute(select(Job).where(Job.batch_id == batch))).scalars().all()
        # Phone fallback: a job that failed its first phone moved to the second before
        # waiting; no job exceeds max_attempts.
        assert all(j.attempts <= 3 for j in jobs)
        firsts = {}
        for a in sorted(attempts, key=lambda a: a.number):
            firsts.setdefault(a.job_id, []).append(a.phone_index)
        for seq in firsts.values():
            assert seq[:2] in ([0], [0, 1])
    assert n_charge == len(answered)
    assert contacts == len(answered)
    assert "batch.progress" in events
    assert "job.status" in events
    assert await job_statuses(database, batch) == {
        "completed": b.completed_jobs,
        "failed": b.failed_jobs,
    }


async def test_invalid_number_tries_next_phone_then_fails(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    acc = await make_account(database)
    batch = await make_batch(database, acc, jobs=1, now=now)
    async with database.write() as s:
        job = (await s.execute(select(Job).where(Job.batch_id == batch))).scalar_one()
        job.phones = ["+56900000000", "+56911110000"]  # both end in 0000: invalid
    worker = Worker(database, fast(settings), clock=frozen_clock)

    async def finished() -> bool:
        return (await batch_row(database, batch)).pending_jobs == 0

    await run_until(worker, finished)

    attempts = sorted(await attempts_of(database, batch), key=lambda a: a.number)
    assert [(a.phone_index, a.outcome) for a in attempts] == [
        (0, "invalid_number"),
        (1, "invalid_number"),
    ]
    assert await job_statuses(database, batch) == {"failed": 1}
    assert (await batch_row(database, batch)).cost_units == 0
    async with database.read() as s:
        assert (
            await s.execute(
                select(func.count()).select_from(CallAttempt).where(CallAttempt.cost_units > 0)
            )
        ).scalar_one() == 0
    b = await batch_row(database, batch)
    assert (b.failed_jobs, b.completed_jobs, b.pending_jobs) == (1, 0, 0)
