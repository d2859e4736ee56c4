"""Several real worker processes on one database (SQLite file or PostgreSQL), driven by
a shared clock file: caps, windows across DST, crash recovery, pause/resume/cancel."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.models import CallAttempt, Job, LedgerEntry, SimulatedCall
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    NO_DELAY_RETRIES,
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
from tests.fixtures.workers import WorkerProcesses, set_clock

pytestmark = pytest.mark.slow

SANTIAGO = ZoneInfo("America/Santiago")
MOSTLY_ANSWERED = json.dumps(
    {"completed": 0.7, "no_answer": 0.15, "busy": 0.05, "voicemail": 0.05, "failed": 0.05}
)


async def in_flight_by_batch(db: Database, account_id: str) -> dict[str, int]:
    # One statement: a consistent snapshot of what is on the line right now.
    async with db.read() as s:
        rows = (
            await s.execute(
                select(Job.batch_id, func.count())
                .where(Job.account_id == account_id, Job.status.in_(["dialing", "in_progress"]))
                .group_by(Job.batch_id)
            )
        ).all()
    return {b: int(n) for b, n in rows}


async def test_four_workers_500_calls_never_exceed_batch_or_account_caps(
    database: Database, workers: WorkerProcesses
) -> None:
    start = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
    set_clock(workers.clock_file, start, rate=1)
    acc = await make_account(database, cap=8)
    settings = call_settings(
        max_concurrent_calls=5, retry_settings=NO_DELAY_RETRIES, collections=ENDS_WITH_LAST_CALL
    )
    # 500 calls (~650 attempts with the retries) keep the four workers racing for the
    # account's 8 lines for some 80 rounds of claims: every cap is hit over and over.
    batches = [
        await make_batch(database, acc, jobs=250, now=start, settings=settings) for _ in range(2)
    ]
    topped_up = await ledger_sum(database, acc)

    workers.start(4, SIM_SPEEDUP=20000, SIM_OUTCOMES=MOSTLY_ANSWERED, WORKER_CONCURRENCY=5)
    await workers.ready(database)
    peak_account, peak_batch = 0, {b: 0 for b in batches}

    async def sample_until_done() -> bool:
        # One cheap statement per sample: the sampler shares the CPU with the workers.
        nonlocal peak_account
        now = await in_flight_by_batch(database, acc)
        peak_account = max(peak_account, sum(now.values()))
        for b, n in now.items():
            peak_batch[b] = max(peak_batch[b], n)
        if now:
            return False  # calls on the line: not done
        rows = [await batch_row(database, b) for b in batches]
        return all(r.pending_jobs == 0 for r in rows)

    try:
        await eventually(sample_until_done, within=240, every=0.02)
    except AssertionError:
        rows = [await batch_row(database, b) for b in batches]
        raise AssertionError(
            [(r.pending_jobs, r.completed_jobs, r.failed_jobs, r.attempts_made) for r in rows]
        ) from None
    assert workers.stop() == [0, 0, 0, 0]

    assert peak_account <= 8, peak_account
    assert max(peak_batch.values()) <= 5, peak_batch
    assert peak_account == 8  # the account cap was actually reached and held
    for b in batches:
        statuses = await job_statuses(database, b)
        assert set(statuses) <= {"completed", "failed"}
        assert sum(statuses.values()) == 250
        attempts = await attempts_of(database, b)
        by_job: dict[str, list[CallAttempt]] = {}
        for a in attempts:
            by_job.setdefault(a.job_id, []).append(a)
        for seq in by_job.values():
            seq.sort(key=lambda a: a.number)
            # Attempt numbers 1..n, never two dials of the same attempt, never overlapping.
            assert [a.number for a in seq] == list(range(1, len(seq) + 1))
            assert all(a.status == AttemptStatus.ENDED for a in seq)
            for prev, nxt in itertools.pairwise(seq):
                assert prev.ended_at <= nxt.started_at
    async with database.read() as s:
        calls = (await s.execute(select(func.count()).select_from(SimulatedCall))).scalar_one()
        attempts_total = (
            await s.execute(select(func.count()).select_from(CallAttempt))
        ).scalar_one()
        charges = (
            await s.execute(select(func.coalesce(func.sum(CallAttempt.cost_units), 0)))
        ).scalar_one()
        dup_charges = (
            await s.execute(
                select(LedgerEntry.attempt_id)
                .where(LedgerEntry.kind == "charge")
                .group_by(LedgerEntry.attempt_id)
                .having(func.count() > 1)
            )
        ).all()
    assert calls == attempts_total  # the carrier saw exactly one call per attempt
    assert dup_charges == []
    assert await ledger_sum(database, acc) == topped_up - charges
    assert (await account_row(database, acc)).balance == topped_up - charges


@pytest.mark.parametrize(
    ("saturday_evening", "sunday_opening", "probe"),
    [
        # 2026-04-05 00:00 Santiago falls back to -04: 09:00 on Sunday is 13:00 UTC, and
        # 12:30 UTC (09:30 at the old offset) is still 08:30 local: closed.
        ("2026-04-04T22:50:00+00:00", "2026-04-05T13:00:00+00:00", "2026-04-05T12:30:00+00:00"),
        # 2026-09-06 00:00 springs forward to -03: 09:00 on Sunday is 12:00 UTC.
        ("2026-09-05T23:50:00+00:00", "2026-09-06T12:00:00+00:00", "2026-09-06T11:30:00+00:00"),
    ],
    ids=["april-fall-back", "september-spring-forward"],
)
async def test_window_in_santiago_holds_across_dst_and_resumes_at_the_opening(
    database: Database,
    workers: WorkerProcesses,
    saturday_evening: str,
    sunday_opening: str,
    probe: str,
) -> None:
    evening = datetime.fromisoformat(saturday_evening)
    opening = datetime.fromisoformat(sunday_opening)
    set_clock(workers.clock_file, evening)
    acc = await make_account(database, cap=10)
    settings = call_settings(
        allowed_call_hours={"start": "09:00", "end": "20:00"},
        retry_settings={"max_attempts": 3, "retry_delay_hours": 0.25,
                        "per_outcome": {"no_answer": {"delay_hours": 0.25}}},
    )  # fmt: skip
    batch = await make_batch(database, acc, jobs=30, now=evening, settings=settings)
    workers.start(2, SIM_OUTCOMES=json.dumps({"no_answer": 1}))
    await workers.ready(database)

    async def all_dialed_once() -> bool:
        attempts = await attempts_of(database, batch)
        return len(attempts) == 30 and all(a.status == AttemptStatus.ENDED for a in attempts)

    # 19:50 local: everyone is dialed once; the retries (15 min later) fall after 20:00.
    await eventually(all_dialed_once, within=30)

    set_clock(workers.clock_file, evening + timedelta(minutes=20))  # 20:10 local: closed

    # The batch itself may still be open on other Chilean clocks (Easter Island is two
    # hours behind), so each job waits for its debtor's own opening (mobiles: the batch's
    # zone) without spending an attempt.
    async def waiting_for_sunday() -> bool:
        async with database.read() as s:
            rows = (
                await s.execute(
                    select(Job.next_attempt_at, Job.wait_reason).where(Job.batch_id == batch)
                )
            ).all()
        return len(rows) == 30 and all(
            at == opening and reason == "compliance_local_window" for at, reason in rows
        )

    await eventually(waiting_for_sunday, within=10)
    # 08:30 local on Sunday, flowing: every worker polls through a second of it.
    set_clock(workers.clock_file, datetime.fromisoformat(probe), rate=1)
    await workers.lived_through(database, 1.0)
    assert len(await attempts_of(database, batch)) == 30
    async with database.read() as s:
        attempts_now = (
            (await s.execute(select(Job.attempts).where(Job.batch_id == batch))).scalars().all()
        )
    assert set(attempts_now) == {1}  # waiting spent no attempt

    set_clock(workers.clock_file, opening)

    async def second_round() -> bool:
        attempts = await attempts_of(database, batch)
        return len(attempts) == 60 and all(a.status == AttemptStatus.ENDED for a in attempts)

    await eventually(second_round, within=30)
    for a in await attempts_of(database, batch):
        local = a.started_at.astimezone(SANTIAGO)
        assert 9 <= local.hour < 20, local
        assert a.started_at in (evening, opening)
    assert (await batch_row(database, batch)).waiting_reason is None  # open again


async def test_killed_worker_mid_call_is_recovered_and_charged_once(
    database: Database, workers: WorkerProcesses
) -> None:
    t0 = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
    set_clock(workers.clock_file, t0)
    acc = await make_account(database, cap=10)
    batch = await make_batch(
        database, acc, jobs=5, now=t0, settings=call_settings(collections=ENDS_WITH_LAST_CALL)
    )
    topped_up = await ledger_sum(database, acc)
    outcomes = json.dumps({"completed": 1})
    # Worker A claims, then hangs before the carrier answers: killed while dialing.
    (a,) = workers.start(1, SIM_LATENCY_S=120, SIM_OUTCOMES=outcomes, LEASE="PT30S")
    await workers.ready(database)

    async def all_dialing() -> bool:
        return await job_statuses(database, batch) == {"dialing": 5}

    await eventually(all_dialing, within=20)
    workers.kill9(a)
    workers.start(1, SIM_OUTCOMES=outcomes, LEASE="PT30S")
    # The clock flows from the claim: the new worker polls through a second of it.
    set_clock(workers.clock_file, t0, rate=1)
    await workers.lived_through(database, 1.0)
    # The lease has not expired: nobody touches the jobs, nobody calls.
    assert await job_statuses(database, batch) == {"dialing": 5}

    set_clock(workers.clock_file, t0 + timedelta(seconds=31))

    async def done() -> bool:
        return await job_statuses(database, batch) == {"completed": 5}

    await eventually(done, within=30)
    attempts = await attempts_of(database, batch)
    by_job: dict[str, list[str]] = {}
    for att in attempts:
        by_job.setdefault(att.job_id, []).append(str(att.status))
    assert all(sorted(v) == ["abandoned", "ended"] for v in by_job.values())
    async with database.read() as s:
        jobs = (await s.execute(select(Job).where(Job.batch_id == batch))).scalars().all()
        assert all(j.attempts == 1 for j in jobs)  # the lost attempt was not counted
        calls = (await s.execute(select(func.count()).select_from(SimulatedCall))).scalar_one()
        kinds = (
            await s.execute(
                select(LedgerEntry.kind, func.count())
                .where(LedgerEntry.account_id == acc)
                .group_by(LedgerEntry.kind)
            )
        ).all()
    assert calls == 5  # one real call per contact
    assert {str(k): n for k, n in kinds} == {
        "topup": 1,
        "reservation": 10,
        "release": 10,
        "charge": 5,
    }
    charged = sum(att.cost_units for att in attempts)
    assert charged == sum(
        -(-att.duration_s // 60) * 60 for att in attempts if att.outcome == "completed"
    )
    assert await ledger_sum(database, acc) == topped_up - charged
    assert (await account_row(database, acc)).balance == topped_up - charged


async def test_pause_resume_and_cancel_stop_new_calls_at_once(
    database: Database, workers: WorkerProcesses, admin: httpx.AsyncClient
) -> None:
    start = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
    set_clock(workers.clock_file, start, rate=1)
    acc = await make_account(database, cap=8)
    settings = call_settings(max_concurrent_calls=5, retry_settings=NO_DELAY_RETRIES)
    batch = await make_batch(database, acc, jobs=400, now=start, settings=settings)
    workers.start(2, SIM_SPEEDUP=3000, SIM_OUTCOMES=MOSTLY_ANSWERED, WORKER_CONCURRENCY=5)
    await workers.ready(database)

    async def attempt_ids() -> set[str]:
        return {a.id for a in await attempts_of(database, batch)}

    async def some_calls() -> bool:
        return len(await attempt_ids()) >= 20

    await eventually(some_calls, within=30)
    r = await admin.post(f"/api/v1/batches/{batch}/pause")
    assert r.status_code == 200, r.text
    after_pause = await attempt_ids()

    async def drained() -> bool:
        return await in_flight_by_batch(database, acc) == {}

    await eventually(drained, within=20)
    await workers.lived_through(database, 0.5)  # every worker polled on after it
    assert await attempt_ids() == after_pause  # nothing new started once pause returned

    r = await admin.post(f"/api/v1/batches/{batch}/resume")
    assert r.status_code == 200, r.text

    async def resumed() -> bool:
        return len(await attempt_ids()) >= len(after_pause) + 20

    await eventually(resumed, within=30)
    r = await admin.post(f"/api/v1/batches/{batch}/cancel", params={"reason": "campaign over"})
    assert r.status_code == 200, r.text
    after_cancel = await attempt_ids()
    await eventually(drained, within=20)
    await workers.lived_through(database, 0.5)  # every worker polled on after it
    assert await attempt_ids() == after_cancel
    # Calls on the line when cancel returned finished and were billed; nothing is left
    # waiting, and the batch stays cancelled.
    b = await batch_row(database, batch)
    assert b.status == "cancelled"
    statuses = await job_statuses(database, batch)
    assert set(statuses) <= {"completed", "failed", "cancelled"}
    assert statuses["cancelled"] > 0
    assert b.pending_jobs == 0
    attempts = await attempts_of(database, batch)
    assert all(a.status == AttemptStatus.ENDED for a in attempts)
    charged = sum(a.cost_units for a in attempts)
    assert b.cost_units == charged
