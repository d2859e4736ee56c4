"""Job-level operations across batches: list with filters, retry a failed job, cancel a
waiting one; the calls history; an account's batches; cost and minutes in /status and
hourly figures in /summary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from dialer.db.session import Database
from dialer.job.states import AttemptStatus, JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Batch
from tests.batch.test_batches import first_job_id, move_job
from tests.factories import api_account, api_batch, as_key, attempt_row


@pytest.fixture
async def acc(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await api_account(admin, account_id="acc-ops", initial_minutes=60)


async def _attempt(
    database: Database, job_id: str, batch_id: str, *, ended_at: Any, outcome: str, secs: int
) -> None:
    async with database.write() as s:
        s.add(
            attempt_row(
                id=f"att-{job_id[-6:]}-{outcome}", job_id=job_id, batch_id=batch_id,
                account_id="acc-ops", phone="+56912340000", status=AttemptStatus.ENDED,
                outcome=outcome, started_at=ended_at - timedelta(seconds=secs + 20),
                ended_at=ended_at, duration_s=secs, billed_seconds=secs,
                summary="Promete pagar", extracted={"promise_date": "2026-03-10"},
            )
        )  # fmt: skip


class TestListJobs:
    async def test_filters_and_paging(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        b1 = (await api_batch(admin, "acc-ops", jobs=3))["batch_id"]
        b2 = (await api_batch(admin, "acc-ops", jobs=2))["batch_id"]
        job = await first_job_id(admin, b1)
        await move_job(database, job, JobStatus.DIALING, JobStatus.FAILED)

        page = (await admin.get("/api/v1/jobs", params={"account_id": "acc-ops"})).json()
        assert page["total"] == 5
        by_batch = (await admin.get("/api/v1/jobs", params={"batch_id": b2})).json()
        assert by_batch["total"] == 2
        assert {j["batch_id"] for j in by_batch["items"]} == {b2}
        failed = (await admin.get("/api/v1/jobs", params={"status": "failed"})).json()
        assert [j["job_id"] for j in failed["items"]] == [job]
        both = (await admin.get("/api/v1/jobs?status=failed&status=pending")).json()
        assert both["total"] == 5
        paged = (await admin.get("/api/v1/jobs", params={"limit": 2, "skip": 4})).json()
        assert (len(paged["items"]), paged["total"]) == (1, 5)
        future = (await admin.get("/api/v1/jobs", params={"created_from": "2999-01-01"})).json()
        assert future["total"] == 0
        bad = await admin.get("/api/v1/jobs", params={"status": "nonsense"})
        assert bad.status_code == 422
        assert "status" in bad.json()["detail"]

    async def test_account_key_sees_only_its_own(
        self, admin: httpx.AsyncClient, acc: dict[str, Any]
    ) -> None:
        other = await api_account(admin, account_id="acc-other", initial_minutes=5)
        await api_batch(admin, "acc-ops", jobs=2)
        theirs = (await api_batch(admin, "acc-other", jobs=1))["batch_id"]
        async with as_key(admin, acc["api_key"]) as mine:
            assert (await mine.get("/api/v1/jobs")).json()["total"] == 2
            assert (await mine.get("/api/v1/jobs?account_id=acc-other")).status_code == 404
            assert (await mine.get(f"/api/v1/jobs?batch_id={theirs}")).status_code == 404
        async with as_key(admin, other["api_key"]) as them:
            assert (await them.get("/api/v1/jobs")).json()["total"] == 1


class TestRetryAndCancel:
    async def test_retry_failed_job_reopens_completed_batch(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        bid = (await api_batch(admin, "acc-ops", jobs=1))["batch_id"]
        job = await first_job_id(admin, bid)
        await move_job(database, job, JobStatus.DIALING, JobStatus.FAILED, attempts=4)
        assert (await admin.get(f"/api/v1/batches/{bid}")).json()["status"] == "completed"

        r = await admin.put(f"/api/v1/jobs/{job}/retry")
        assert r.status_code == 200, r.text
        j = r.json()
        # Another round of the batch's 4 attempts, attempt numbers keep counting.
        assert (j["status"], j["attempts"], j["max_attempts"]) == ("pending", 4, 8)
        assert j["completed_at"] is None
        b = (await admin.get(f"/api/v1/batches/{bid}")).json()
        assert (b["status"], b["is_active"], b["completed_at"]) == ("active", True, None)
        assert (b["failed_jobs"], b["pending_jobs"]) == (0, 1)
        again = await admin.put(f"/api/v1/jobs/{job}/retry")
        assert again.status_code == 409
        assert "only failed jobs" in again.json()["detail"]

    async def test_cancel_waiting_job_only(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        bid = (await api_batch(admin, "acc-ops", jobs=2))["batch_id"]
        jobs = (await admin.get(f"/api/v1/batches/{bid}/jobs")).json()["items"]
        r = await admin.put(f"/api/v1/jobs/{jobs[0]['job_id']}/cancel")
        assert r.status_code == 200
        assert r.json()["status"] == "cancelled"
        b = (await admin.get(f"/api/v1/batches/{bid}/status")).json()
        assert (b["cancelled_jobs"], b["pending_jobs"], b["status"]) == (1, 1, "active")
        await move_job(database, jobs[1]["job_id"], JobStatus.DIALING)
        busy = await admin.put(f"/api/v1/jobs/{jobs[1]['job_id']}/cancel")
        assert busy.status_code == 409
        assert "dialing" in busy.json()["detail"]
        assert (await admin.put("/api/v1/jobs/job-nope/cancel")).status_code == 404

    async def test_retry_refused_in_cancelled_batch(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        bid = (await api_batch(admin, "acc-ops", jobs=2))["batch_id"]
        job = await first_job_id(admin, bid)
        await move_job(database, job, JobStatus.DIALING, JobStatus.FAILED)
        await admin.post(f"/api/v1/batches/{bid}/cancel")
        r = await admin.put(f"/api/v1/jobs/{job}/retry")
        assert r.status_code == 409
        assert "cancelled" in r.json()["detail"]


class TestHistoryStatusSummary:
    async def test_calls_history_status_cost_and_hourly_stats(
        self,
        admin: httpx.AsyncClient,
        acc: dict[str, Any],
        database: Database,
        frozen_clock: FrozenClock,
    ) -> None:
        bid = (await api_batch(admin, "acc-ops", jobs=2))["batch_id"]
        jobs = [
            j["job_id"] for j in (await admin.get(f"/api/v1/batches/{bid}/jobs")).json()["items"]
        ]
        now = frozen_clock.now()
        await _attempt(database, jobs[0], bid, ended_at=now - timedelta(hours=1, minutes=5),
                       outcome="completed", secs=90)  # fmt: skip
        await _attempt(database, jobs[1], bid, ended_at=now - timedelta(minutes=10),
                       outcome="no_answer", secs=0)  # fmt: skip
        async with database.write() as s:
            await s.execute(update(Batch).where(Batch.id == bid).values(
                billed_seconds=150, cost_units=150))  # fmt: skip

        h = (await admin.get("/api/v1/calls/history", params={"batch_id": bid})).json()
        assert h["total"] == 2
        newest = h["items"][0]
        assert (newest["job_id"], newest["outcome"], newest["contact_name"]) == (
            jobs[1],
            "no_answer",
            "Deudor 1",
        )
        oldest = h["items"][1]
        assert (oldest["duration_s"], oldest["summary"]) == (90, "Promete pagar")
        assert oldest["extracted"]["promise_date"] == "2026-03-10"
        since = (now - timedelta(minutes=30)).isoformat()
        recent = (await admin.get("/api/v1/calls/history", params={"start_date": since})).json()
        assert [c["job_id"] for c in recent["items"]] == [jobs[1]]

        s = (await admin.get(f"/api/v1/batches/{bid}/status")).json()
        assert (s["total_minutes"], s["total_cost"], s["cost_unit"]) == (2.5, 2.5, "minutes")

        summary = (await admin.get(f"/api/v1/batches/{bid}/summary")).json()
        hours = summary["hourly_stats"]
        assert [h["calls"] for h in hours] == [1, 1]
        assert hours[0]["hour"] == "2026-03-02T14:00:00+00:00"
        assert (hours[1]["hour"], hours[1]["answered_calls"]) == ("2026-03-02T13:00:00+00:00", 1)
        assert hours[1]["success_rate_percentage"] == 100.0

    async def test_account_batches(self, admin: httpx.AsyncClient, acc: dict[str, Any]) -> None:
        await api_account(admin, account_id="acc-other", initial_minutes=5)
        b1 = (await api_batch(admin, "acc-ops", jobs=1))["batch_id"]
        await api_batch(admin, "acc-other", jobs=1)
        await admin.post(f"/api/v1/batches/{b1}/pause")
        page = (await admin.get("/api/v1/accounts/acc-ops/batches")).json()
        assert [b["batch_id"] for b in page["items"]] == [b1]
        assert (await admin.get("/api/v1/accounts/acc-ops/batches?is_active=true")).json()[
            "total"
        ] == 0
        assert (await admin.get("/api/v1/accounts/acc-nope/batches")).status_code == 404
        async with as_key(admin, acc["api_key"]) as mine:
            assert (await mine.get("/api/v1/accounts/acc-other/batches")).status_code == 404
