"""The compliance rules end to end: real worker processes on the shared database, driven
through Chile's 2026 calendar by the clock file.

One Santiago ``cl_cobranza`` batch holds debtors in all four Chilean zones (Santiago by
mobile, Magallanes by a 61 landline, Aysén by its comuna, Easter Island by its number
range), one in Chillán (Ñuble) and one under a legal stop; a second batch of the same
account, claimed first (higher priority), repeats some debtors and caps attempts per
contact (3 a day, 5 a week), counting the first batch's attempts too. Every call ends
unanswered and is retried 30 minutes later, so the dispatcher keeps trying all day. Three
worker processes claim concurrently. The clock visits, on days either side of both DST
changes (April 5 and September 6), a Chillán holiday (August 20) and two days of one
week, each zone's opening, noon, ten minutes before each zone's close and each close.
At each instant it waits until every due job was either dialed or told to wait.

What must hold over every call placed (the carrier's own record, request included):
  * it started between 08:00 and 20:00, Monday to Saturday, on a non-holiday, on its
    debtor's own clock and regional calendar;
  * the maximum duration sent to the provider ends it by 20:00 local;
  * the capped batch never started a call when the debtor already had 3 attempts that
    local day or 5 that ISO week, both batches counted;
  * the debtor under a legal stop got none, in either batch;
and the rules are not just closing everything: each zone is called on each day, Santiago
is called on Chillán's holiday, and the window clamp shortened some calls.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job.states import IN_FLIGHT, JobStatus
from dialer.models import CallAttempt, Job, LegalStop, SimulatedCall, WorkerHeartbeat
from tests.factories import cl_cobranza_settings, make_account, make_debtor_batch
from tests.fixtures.waiting import eventually
from tests.fixtures.workers import WorkerProcesses, set_clock

pytestmark = pytest.mark.slow

SANTIAGO = "America/Santiago"
ZONES = [SANTIAGO, "America/Punta_Arenas", "America/Coyhaique", "Pacific/Easter"]
DAYS = [
    date(2026, 4, 2),  # Thursday before the April change (mainland UTC-3, Easter UTC-5)
    date(2026, 4, 6),  # Monday after it (UTC-4 / UTC-6; Magallanes and Aysén stay UTC-3)
    date(2026, 8, 20),  # Thursday, Chillán's holiday (Ñuble only), winter time
    date(2026, 9, 7),  # Monday and Tuesday of the week after the September change
    date(2026, 9, 8),  # (mainland UTC-3, Easter UTC-5): the weekly cap is reached
]
WORKERS = 3  # several processes racing for the same debtors' claims
BATCH_MAX_S = 900
STOPPED = "7654321-6"
# (dni, phones, columns, zone the debtor must be called in, region)
DEBTORS = [
    ("11111111-1", ["+56911111111"], {}, SANTIAGO, None),
    ("22222222-2", ["+56922222222", "+56612234567"], {}, "America/Punta_Arenas", "MA"),
    ("33333333-3", ["+56933333333"], {"comuna": "Coyhaique"}, "America/Coyhaique", "AI"),
    ("44444444-4", ["+56322100105"], {}, "Pacific/Easter", "VS"),
    ("55555555-5", ["+56955555555"], {"comuna": "Chillán"}, SANTIAGO, "NB"),
    (STOPPED, ["+56977777777"], {}, SANTIAGO, None),
]
SHARED = {"11111111-1", "33333333-3", STOPPED}  # also in the second batch


def _at(d: date, t: time, zone: str) -> datetime:
    return datetime.combine(d, t, ZoneInfo(zone)).astimezone(UTC)


def _instants(d: date) -> list[datetime]:
    points = {_at(d, time(12, 0), SANTIAGO)}
    for z in ZONES:
        points |= {_at(d, time(8, 0), z), _at(d, time(19, 50), z), _at(d, time(20, 0), z)}
    return sorted(points)


async def _settled(db: Database, batches: list[str], now: datetime) -> bool:
    """Every job of the batches was dialed or told to wait: nothing due, nothing on the line."""
    async with db.read() as s:
        rows = (
            await s.execute(
                select(Job.status, Job.next_attempt_at).where(Job.batch_id.in_(batches))
            )
        ).all()
    for status, due in rows:
        if status in IN_FLIGHT:
            return False
        if status in (JobStatus.PENDING, JobStatus.SCHEDULED) and due <= now:
            return False
    return True


async def test_chile_on_every_debtors_clock_across_both_dst_changes(
    database: Database, workers: WorkerProcesses
) -> None:
    start = _instants(DAYS[0])[0] - timedelta(minutes=1)
    set_clock(workers.clock_file, start)
    # Started first: their interpreter start-up overlaps the data set-up below.
    workers.start(WORKERS, SIM_OUTCOMES=json.dumps({"no_answer": 1}), WORKER_CONCURRENCY=10)
    acc = await make_account(database, cap=50)
    common = {
        "allowed_call_hours": {"start": "08:00", "end": "20:00"},
        "max_call_duration_s": BATCH_MAX_S,
        "retry_settings": {"max_attempts": 50, "retry_delay_hours": 0.5,
                           "per_outcome": {"no_answer": {"delay_hours": 0.5,
                                                         "next_phone_first": False}}},
    }  # fmt: skip
    settings = cl_cobranza_settings(**common)
    capped = cl_cobranza_settings(
        **common, max_calls_per_contact_per_day=3, max_calls_per_contact_per_week=5
    )
    main = await make_debtor_batch(
        database, acc, [(d, p) for d, p, *_ in DEBTORS], now=start, settings=settings,
        payloads=[cols for _, _, cols, *_ in DEBTORS],
    )  # fmt: skip
    shared = [x for x in DEBTORS if x[0] in SHARED]
    second = await make_debtor_batch(
        database, acc, [(d, p) for d, p, *_ in shared], now=start, settings=capped,
        payloads=[cols for _, _, cols, *_ in shared], priority=1,
    )  # fmt: skip
    async with database.write() as s:
        s.add(LegalStop(account_id=acc, debtor_id=STOPPED, reason="judicial", created_at=start))
    batches = [main, second]

    async def all_up() -> bool:  # each worker's heartbeat: it is polling
        async with database.read() as s:
            return len((await s.execute(select(WorkerHeartbeat.worker_id))).all()) >= WORKERS

    await eventually(all_up, within=120)

    for d in DAYS:
        for now in _instants(d):
            set_clock(workers.clock_file, now)

            async def settled(now: datetime = now) -> bool:
                return await _settled(database, batches, now)

            try:
                await eventually(settled, within=60)
            except AssertionError:
                async with database.read() as s:
                    rows = (
                        await s.execute(
                            select(Job.dni, Job.status, Job.next_attempt_at, Job.wait_reason).where(
                                Job.account_id == acc
                            )
                        )
                    ).all()
                raise AssertionError((now, rows, workers.logs()[-2000:])) from None

    async with database.read() as s:
        jobs = {
            j.id: j for j in (await s.execute(select(Job).where(Job.account_id == acc))).scalars()
        }
        calls = (
            await s.execute(
                select(CallAttempt, SimulatedCall)
                .join(SimulatedCall, SimulatedCall.attempt_id == CallAttempt.id)
                .where(CallAttempt.account_id == acc)
            )
        ).all()
        s.expunge_all()  # keep the loaded values after the read session ends
    expect = {dni: (zone, region) for dni, _, _, zone, region in DEBTORS}
    cl = holidays.country_holidays("CL", years=2026)
    per_day: Counter[tuple[str, date]] = Counter()
    per_week: Counter[tuple[str, tuple[int, int]]] = Counter()
    per_batch_day: Counter[tuple[str, str, date]] = Counter()
    clamped = 0
    assert len(calls) > 100

    # The clock is frozen at each instant, so calls claimed at one instant share started_at
    # and their claim order is not recorded. The capped batch's calls of an instant go
    # first: each must have found fewer than the cap before it, whatever the uncapped
    # batch then claimed at that same instant (which the cap does not forbid).
    def claim_order(c: Any) -> tuple[datetime, bool, str]:
        return (c[0].started_at, c[0].batch_id != second, c[0].id)

    for attempt, sim in sorted(calls, key=claim_order):
        job = jobs[attempt.job_id]
        zone, region = expect[job.dni]
        assert (job.timezone or SANTIAGO, job.region) == (zone, region), job.place_source
        tz = ZoneInfo(zone)
        local = attempt.started_at.astimezone(tz)
        assert time(8, 0) <= local.time() < time(20, 0), (job.dni, local)
        assert local.weekday() < 6, (job.dni, local)
        regional = holidays.country_holidays("CL", subdiv=region, years=2026) if region else cl
        assert local.date() not in cl, (job.dni, local)
        assert local.date() not in regional, (job.dni, local)
        max_s = sim.request["max_duration_s"]
        close = datetime.combine(local.date(), time(20, 0), tz)
        assert local + timedelta(seconds=max_s) <= close, (job.dni, local, max_s)
        clamped += max_s < BATCH_MAX_S
        day, week = (job.dni, local.date()), (job.dni, local.isocalendar()[:2])
        if job.batch_id == second:  # the capped batch counts both batches' attempts
            assert per_day[day] < 3, (job.dni, local)
            assert per_week[week] < 5, (job.dni, local)
        per_day[day] += 1
        per_week[week] += 1
        per_batch_day[job.batch_id, job.dni, local.date()] += 1
    assert clamped > 0
    # Every worker process placed calls: the rules held across concurrent claimers.
    assert len({attempt.worker_id for attempt, _ in calls}) == WORKERS
    # The cap held the second batch back while the first kept calling the same debtor.
    held = [
        d for d in DAYS
        if per_batch_day[second, "11111111-1", d] < per_batch_day[main, "11111111-1", d]
    ]  # fmt: skip
    assert held
    assert any(per_batch_day[second, "11111111-1", d] for d in DAYS)
    assert STOPPED not in {dni for dni, _ in per_day}
    stopped = [j for j in jobs.values() if j.dni == STOPPED]
    assert len(stopped) == 2
    assert {(j.status, j.last_outcome) for j in stopped} == {(JobStatus.CANCELLED, "legal_stop")}
    for d in DAYS:
        called = {dni for dni, day in per_day if day == d}
        expected = {"11111111-1", "22222222-2", "33333333-3", "44444444-4", "55555555-5"}
        if d == date(2026, 8, 20):
            expected.discard("55555555-5")  # Chillán's holiday: only Ñuble waits
        assert called == expected, d
