"""Ten days of Chilean collection calls by three worker processes on a moved clock.

The workers read "now" from ``DIALER_CLOCK_FILE``; the test walks that clock through
2026-04-01 .. 2026-04-10 (Good Friday and Holy Saturday are holidays, a Sunday, and
Chile leaves daylight saving time on Sunday 5 April), letting the workers drain all due
work at each step. Afterwards the call records must show that:

* no call started on a Sunday, on a holiday, or outside 08:00-20:00 Santiago time;
* no debtor had two answered calls within 7 days, though they appear in two batches;
* unanswered attempts were retried within the week;
* numbers listed as do-not-call while the batches ran were never dialed afterwards.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import httpx
import pytest
from sqlalchemy import func, select

from dialer.batch.settings import resolve_settings
from dialer.batch.windows import is_open, schedule_for
from dialer.db.session import Database
from dialer.job.states import WAITING, JobStatus
from dialer.kit import clock as clock_mod
from dialer.kit.clock import FileClock
from dialer.models import CallAttempt, Job, SimulatedCall, WorkerHeartbeat
from tests.factories import (
    account_attempts,
    cl_cobranza_settings,
    contact_log,
    jobs_of,
    make_account,
    make_debtor_batch,
)
from tests.fixtures.waiting import eventually
from tests.fixtures.workers import WorkerProcesses, set_clock

pytestmark = pytest.mark.slow

SANTIAGO = ZoneInfo("America/Santiago")
WORKERS = 3  # several processes racing for the same debtors' claims
START = date(2026, 4, 1)
DAYS = 10
CL_HOLIDAYS = holidays.country_holidays("CL", years=2026)


def _steps() -> list[datetime]:
    """Instants the clock visits: around the window edges every day (Sundays and
    holidays included, so a wrong window would show), plus fixed UTC instants that fall
    inside the window under one UTC offset and outside under the other."""
    out: set[datetime] = set()
    for d in range(DAYS):
        day = START + timedelta(days=d)
        for hh, mm in [(8, 0), (12, 30), (19, 40), (20, 30)]:
            out.add(datetime.combine(day, time(hh, mm), SANTIAGO).astimezone(UTC))
        # 07:30 local after the change, 08:30 before it; 19:30 after, 20:30 before.
        for hh in (11, 23):
            out.add(datetime.combine(day, time(hh, 30), UTC))
    return sorted(out)


@pytest.fixture
def shared_clock(workers: WorkerProcesses) -> Iterator[Path]:
    """The workers' clock file, also installed as this process's clock."""
    set_clock(workers.clock_file, datetime.combine(START, time(0, 0), SANTIAGO))
    previous = clock_mod.set_clock(FileClock(workers.clock_file))
    yield workers.clock_file
    clock_mod.set_clock(previous)


WORKER_SETTINGS = {
    "POLL_INTERVAL": "PT0.03S",
    "LEASE": "P1D",
    "CALL_TIMEOUT": "P2D",
    # Real call durations (seconds of simulated time): a call is still on the line when
    # the next job of the same debtor comes due.
    "SIM_SPEEDUP": "1",
    "SIM_SEED": "21320",
    "SIM_OUTCOMES": json.dumps(
        {"completed": 0.35, "no_answer": 0.35, "busy": 0.2, "voicemail": 0.1}
    ),
}


async def _heartbeats(db: Database) -> int:
    async with db.read() as s:
        return int(
            (await s.execute(select(func.count()).select_from(WorkerHeartbeat))).scalar_one()
        )


async def _settled(db: Database, now: datetime, open_batches: list[str]) -> bool:
    """Nothing left to do at ``now``: no claim in flight, no ended call undelivered and,
    in open windows, no due waiting job."""
    async with db.read() as s:
        dialing = (
            await s.execute(
                select(func.count()).select_from(Job).where(Job.status == JobStatus.DIALING)
            )
        ).scalar_one()
        undelivered = (
            await s.execute(
                select(func.count())
                .select_from(SimulatedCall)
                .where(SimulatedCall.delivered == 0, SimulatedCall.complete_at <= now)
            )
        ).scalar_one()
        due = 0
        if open_batches:
            due = (
                await s.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.batch_id.in_(open_batches),
                        Job.status.in_(list(WAITING)),
                        Job.next_attempt_at <= now,
                    )
                )
            ).scalar_one()
    return dialing == 0 and undelivered == 0 and due == 0


def _check_alive(procs: list[subprocess.Popen[bytes]]) -> None:
    assert all(p.poll() is None for p in procs), "a worker process died"


def _debtors(prefix: int, n: int) -> list[tuple[str, list[str]]]:
    return [
        (
            f"{prefix + i}-K",
            [f"+5698{prefix % 100:02d}{i:04d}1", f"+5697{prefix % 100:02d}{i:04d}2"],
        )
        for i in range(n)
    ]


async def test_ten_days_of_cl_cobranza_with_three_workers(
    database: Database,
    workers: WorkerProcesses,
    shared_clock: Path,
    admin: httpx.AsyncClient,
) -> None:
    t0 = datetime.combine(START, time(0, 0), SANTIAGO).astimezone(UTC)
    # Started first: their interpreter start-up overlaps the data set-up below.
    procs = workers.start(WORKERS, **WORKER_SETTINGS)
    acc = await make_account(database, cap=100)
    shared = _debtors(20_000_000, 10)
    settings = cl_cobranza_settings(retry_settings={"max_attempts": 8, "retry_delay_hours": 3})
    # The same ten debtors are in both campaigns, plus four of each campaign's own.
    march = await make_debtor_batch(
        database, acc, shared + _debtors(21_000_000, 4), now=t0, settings=settings
    )
    april = await make_debtor_batch(
        database, acc, _debtors(22_000_000, 4) + shared, now=t0, settings=settings
    )
    batches = [march, april]
    schedule = schedule_for(
        resolve_settings(settings, account_timezone="America/Santiago"),
        default_timezone="America/Santiago",
        country="CL",
    )

    async def started() -> bool:
        _check_alive(procs)
        return await _heartbeats(database) >= WORKERS

    await eventually(started, within=60)

    listed: dict[str, datetime] = {}
    for step in _steps():
        set_clock(shared_clock, step)
        open_now = batches if is_open(schedule, step) else []

        async def settled(step: datetime = step, open_now: list[str] = open_now) -> bool:
            _check_alive(procs)
            return await _settled(database, step, open_now)

        try:
            await eventually(settled, within=20, every=0.03)
        except AssertionError:
            raise AssertionError(
                f"workers did not settle at {step.astimezone(SANTIAGO)}\n{workers.logs()[-3000:]}"
            ) from None

        if len(batches) == 2 and step >= datetime(2026, 4, 6, 0, 0, tzinfo=SANTIAGO):
            # A campaign uploaded right after the DST change: its first calls are on the
            # Monday, where 11:30 UTC is 07:30 local now (it was 08:30 the week before).
            late = await make_debtor_batch(
                database, acc, _debtors(23_000_000, 6) + shared[:3], now=step, settings=settings
            )
            batches.append(late)
        if not listed and step >= datetime(2026, 4, 2, 12, 0, tzinfo=SANTIAGO):
            # Mid-run, the operator lists numbers of jobs that are still waiting: one
            # phone of one debtor, and both phones of another.
            # Outcomes are drawn per attempt id, so which campaign still has work varies;
            # the weekly limit keeps one of each shared debtor's two jobs waiting.
            waiting = [
                j for b in (april, march) for j in await jobs_of(database, b) if j.status in WAITING
            ]
            assert len(waiting) >= 2, "the scenario needs waiting jobs on day 2"
            numbers = [waiting[0].phones[0], *waiting[1].phones]
            r = await admin.post(f"/api/v1/accounts/{acc}/do-not-call", json={"phones": numbers})
            assert r.status_code == 201, r.text
            listed = {n: step for n in numbers}

    calls = [a for a in await account_attempts(database, acc) if a.provider_call_id]
    assert len(calls) > 40
    assert len({a.worker_id for a in calls}) == WORKERS, "every worker process placed calls"

    # 1. Windows: Monday-Saturday, 08:00-20:00 Santiago, never on a holiday (DST included).
    for a in calls:
        assert a.started_at is not None
        local = a.started_at.astimezone(SANTIAGO)
        assert local.weekday() != 6, f"call on a Sunday: {local}"
        assert local.date() not in CL_HOLIDAYS, f"call on a holiday: {local}"
        assert time(8, 0) <= local.time() < time(20, 0), f"call outside 08-20: {local}"
    days_called = {a.started_at.astimezone(SANTIAGO).date() for a in calls if a.started_at}
    assert date(2026, 4, 6) in days_called  # the first Monday after the DST change
    assert min(a.started_at for a in calls if a.batch_id == batches[2]) >= datetime(  # type: ignore[type-var]
        2026, 4, 6, 8, 0, tzinfo=SANTIAGO
    )

    # 2. One answered call per debtor per rolling week, across both batches.
    jobs = {j.id: j for b in batches for j in await jobs_of(database, b)}
    answered: dict[str, list[datetime]] = defaultdict(list)
    for a in calls:
        if a.outcome == "completed":
            answered[jobs[a.job_id].dni or ""].append(a.started_at)  # type: ignore[arg-type]
    for dni, times in answered.items():
        times.sort()
        for earlier, later in itertools.pairwise(times):
            assert later - earlier >= timedelta(days=7), f"{dni} answered twice in a week"
    logged = defaultdict(list)
    for c in await contact_log(database, acc):
        logged[c.debtor_key].append(c.contacted_at)
    assert {k: len(v) for k, v in logged.items()} == {k: len(v) for k, v in answered.items()}
    # Some shared debtor was reached by both campaigns, a week apart: the hold ends.
    assert any(len(t) == 2 for t in answered.values())

    # 3. Unanswered attempts are retried within the week (same job, less than 7 days on).
    by_job: dict[str, list[CallAttempt]] = defaultdict(list)
    for a in calls:
        by_job[a.job_id].append(a)
    assert any(
        first.outcome != "completed" and second.started_at - first.started_at < timedelta(days=1)  # type: ignore[operator]
        for tries in by_job.values()
        for first, second in itertools.pairwise(tries)
    )

    # 4. Numbers listed mid-run are never dialed afterwards.
    assert listed
    for a in calls:
        if a.phone in listed:
            # Calls of the listing step itself were placed before the operator acted.
            assert a.started_at <= listed[a.phone], f"{a.phone} dialed after being listed"  # type: ignore[operator]
