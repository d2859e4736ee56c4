"""Overview cards: the hourly roll-up upsert, 'today' in the account's timezone, and the
cheap counters (active batches, waiting jobs, calls in progress)."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job import service as job_service
from dialer.job.repository import JobRepository
from dialer.job.states import JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import CallStat
from dialer.reporting.service import record_attempt
from tests.factories import api_account, api_batch


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s + "+00:00")


async def test_record_attempt_upserts_one_row_per_hour_and_outcome(
    admin: httpx.AsyncClient, database: Database
) -> None:
    await api_account(admin, account_id="rep")
    async with database.write() as s:
        for minute, secs in ((5, 60), (40, 120)):
            await record_attempt(
                s, account_id="rep", at=utc(f"2026-03-02T14:{minute:02d}:00"),
                outcome="completed", billed_seconds=secs, cost_units=secs,
            )  # fmt: skip
        await record_attempt(
            s, account_id="rep", at=utc("2026-03-02T14:59:59"), outcome="no_answer",
            billed_seconds=0, cost_units=0,
        )  # fmt: skip
    async with database.read() as s:
        rows = (await s.execute(select(CallStat).order_by(CallStat.outcome))).scalars().all()
        assert [(r.outcome, r.calls, r.billed_seconds) for r in rows] == [
            ("completed", 2, 180),
            ("no_answer", 1, 0),
        ]
        assert {r.hour for r in rows} == {utc("2026-03-02T14:00:00")}


async def test_overview_counts_today_in_the_account_timezone(
    admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
) -> None:
    # 15:00 UTC on Monday 2 March 2026 is 12:00 in Santiago (UTC-3): "today" began at 03:00 UTC.
    acc = await api_account(admin, account_id="rep", plan_type="credit_based")
    async with database.write() as s:
        calls = [
            ("2026-03-02T02:30:00", "completed", 60, 100),  # 23:30 on Sunday: yesterday
            ("2026-03-02T03:10:00", "completed", 120, 200),
            ("2026-03-02T12:00:00", "no_answer", 0, 0),
            ("2026-03-02T14:59:00", "busy", 0, 0),
        ]
        for at, outcome, secs, cost in calls:
            await record_attempt(
                s, account_id="rep", at=utc(at), outcome=outcome,
                billed_seconds=secs, cost_units=cost,
            )  # fmt: skip
    b1 = await api_batch(admin, "rep", jobs=3)
    b2 = await api_batch(admin, "rep", jobs=2)
    await admin.post(f"/api/v1/batches/{b2['batch_id']}/pause")
    jobs = (await admin.get(f"/api/v1/batches/{b1['batch_id']}/jobs")).json()["items"]
    async with database.write() as s:
        job = await JobRepository.from_session(s).get(jobs[0]["job_id"])
        assert job is not None
        await job_service.transition(s, job, JobStatus.DIALING)

    r = await admin.get("/api/v1/dashboard/overview", params={"account_id": "rep"})
    assert r.status_code == 200
    o = r.json()
    assert o["date"] == "2026-03-02"
    assert o["timezone"] == "America/Santiago"
    assert o["calls_today"] == 3
    assert o["answered_calls_today"] == 1
    assert o["success_rate_percentage"] == 33.33
    assert o["outcomes_today"] == {"completed": 1, "no_answer": 1, "busy": 1}
    assert o["minutes_used_today"] == 2
    assert o["credits_used_today"] == 2
    assert o["jobs_today"] == 5
    assert o["active_batches"] == 1
    assert o["pending_jobs"] == 4  # the dialing one is in progress, not waiting
    assert o["calls_in_progress"] == 1

    async with httpx.AsyncClient(
        transport=admin._transport,
        base_url=str(admin.base_url),
        headers={"X-API-Key": acc["api_key"]},
    ) as own:
        mine = (await own.get("/api/v1/dashboard/overview")).json()
    assert mine == o

    # Tomorrow (local), yesterday's calls no longer count.
    frozen_clock.set(utc("2026-03-03T03:30:00"))
    o = (await admin.get("/api/v1/dashboard/overview", params={"account_id": "rep"})).json()
    assert (o["date"], o["calls_today"], o["jobs_today"]) == ("2026-03-03", 0, 0)
    assert o["success_rate_percentage"] == 0


async def test_overview_unknown_account_is_404(admin: httpx.AsyncClient) -> None:
    r = await admin.get("/api/v1/dashboard/overview", params={"account_id": "ghost"})
    assert r.status_code == 404
