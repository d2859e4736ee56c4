"""Batches API: creation with call_settings, validation, pause/resume/patch, cancel,
summary, status and job listing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dialer.account.auth import Principal
from dialer.db.session import Database
from dialer.job import service as job_service
from dialer.job.repository import JobRepository
from dialer.job.states import JobStatus
from dialer.models import Event
from tests.factories import DEFAULT_SETTINGS, api_account, api_batch, attempt_row

ADMIN = Principal(is_admin=True)


async def move_job(database: Database, job_id: str, *steps: JobStatus, **changes: Any) -> None:
    """Drive a job through states the way the dispatcher does."""
    for dst in steps:
        async with database.write() as session:
            job = await JobRepository.from_session(session).get(job_id)
            assert job is not None
            await job_service.transition(session, job, dst, **changes)


async def first_job_id(admin: httpx.AsyncClient, batch_id: str) -> str:
    r = await admin.get(f"/api/v1/batches/{batch_id}/jobs", params={"limit": 1})
    return str(r.json()["items"][0]["job_id"])


@pytest.fixture
async def account(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await api_account(admin, account_id="acc-batch", initial_minutes=60)


class TestCreateBatch:
    async def test_with_settings_and_jobs(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=5, description="mora 30", priority=3)
        assert b["batch_id"].startswith("batch-")
        assert b["status"] == "active"
        assert b["is_active"] is True
        assert b["jobs_created"] == 5
        assert (b["total_jobs"], b["pending_jobs"], b["completed_jobs"]) == (5, 5, 0)
        assert b["call_settings"]["retry_settings"]["max_attempts"] == 4
        assert b["call_settings"]["allowed_call_hours"] == {"start": "09:00", "end": "20:00"}
        r = await admin.get(f"/api/v1/batches/{b['batch_id']}/jobs", params={"limit": 2})
        page = r.json()
        assert page["total"] == 5
        assert [j["row_number"] for j in page["items"]] == [2, 3]
        assert {j["max_attempts"] for j in page["items"]} == {4}
        assert page["items"][0]["phones"] == ["+56912340000"]

    async def test_defaults_when_no_settings(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        r = await admin.post("/api/v1/batches", json={"account_id": "acc-batch", "name": "x"})
        assert r.status_code == 201
        cs = r.json()["call_settings"]
        assert cs["retry_settings"]["max_attempts"] == 3
        assert cs["timezone"] is None  # resolved to the account's at dial time

    @pytest.mark.parametrize(
        ("call_settings", "field"),
        [
            ({"allowed_call_hours": {"start": "25:00", "end": "20:00"}}, "start"),
            ({"allowed_call_hours": {"start": "21:00", "end": "20:00"}}, "allowed_call_hours"),
            ({"retry_settings": {"max_attempts": 0}}, "retry_settings.max_attempts"),
            ({"timezone": "America/Narnia"}, "call_settings.timezone"),
            ({"max_concurrent_calls": 0}, "call_settings.max_concurrent_calls"),
        ],
    )
    async def test_bad_call_settings_are_422_naming_the_field(
        self,
        admin: httpx.AsyncClient,
        account: dict[str, Any],
        call_settings: dict[str, Any],
        field: str,
    ) -> None:
        r = await admin.post(
            "/api/v1/batches",
            json={"account_id": "acc-batch", "name": "x", "call_settings": call_settings},
        )
        assert r.status_code == 422, r.text
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(field in f for f in fields), fields
        assert any(f.startswith("call_settings") for f in fields)

    async def test_compliance_conflict_cites_the_rule(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        r = await admin.post(
            "/api/v1/batches",
            json={
                "account_id": "acc-batch",
                "name": "x",
                "call_settings": {
                    "compliance_profile": "cl_cobranza",
                    "allowed_weekdays": ["mon", "sun"],
                },
            },
        )
        assert r.status_code == 422
        assert "21.320" in r.json()["detail"]

    async def test_a_provider_option_no_call_uses_is_422_naming_it(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        """A misspelt option (``agnet_id``) would be stored and never read: the calls would
        silently use the account's agent. It is refused on create and on update."""
        r = await admin.post(
            "/api/v1/batches",
            json={"account_id": "acc-batch", "name": "x", "provider_options": {"agnet_id": "a"}},
        )
        assert r.status_code == 422, r.text
        assert "provider_options" in [e["field"] for e in r.json()["errors"]]
        assert "agnet_id" in r.json()["detail"]
        batch = await api_batch(admin, "acc-batch", name="ok")
        r = await admin.patch(
            f"/api/v1/batches/{batch['batch_id']}",
            json={"provider_options": {"agent_id": "a", "voice": "b"}},
        )
        assert r.status_code == 422, r.text
        assert "voice" in r.json()["detail"]
        r = await admin.patch(
            f"/api/v1/batches/{batch['batch_id']}", json={"provider_options": {"agent_id": "a"}}
        )
        assert r.status_code == 200, r.text

    async def test_job_without_phone_is_422(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        r = await admin.post(
            "/api/v1/batches",
            json={"account_id": "acc-batch", "name": "x", "jobs": [{"phones": []}]},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "jobs.0.phones"

    async def test_unknown_account_is_404(self, admin: httpx.AsyncClient) -> None:
        r = await admin.post("/api/v1/batches", json={"account_id": "ghost", "name": "x"})
        assert r.status_code == 404
        assert r.json()["field"] == "account_id"

    async def test_unknown_script_is_404(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        r = await admin.post(
            "/api/v1/batches", json={"account_id": "acc-batch", "name": "x", "script_id": "s1"}
        )
        assert r.status_code == 404
        assert r.json()["field"] == "script_id"


class TestListBatches:
    async def test_filters(self, admin: httpx.AsyncClient, account: dict[str, Any]) -> None:
        a = await api_batch(admin, "acc-batch", name="a")
        b = await api_batch(admin, "acc-batch", name="b")
        await admin.post(f"/api/v1/batches/{a['batch_id']}/pause")
        r = await admin.get("/api/v1/batches", params={"account_id": "acc-batch"})
        assert r.json()["total"] == 2
        r = await admin.get("/api/v1/batches", params={"is_active": True})
        assert [x["batch_id"] for x in r.json()["items"]] == [b["batch_id"]]
        r = await admin.get("/api/v1/batches", params={"status": "paused"})
        assert [x["batch_id"] for x in r.json()["items"]] == [a["batch_id"]]
        r = await admin.get("/api/v1/batches", params={"limit": 1, "skip": 1})
        assert len(r.json()["items"]) == 1
        assert (await admin.get("/api/v1/batches", params={"status": "x"})).status_code == 422


class TestPauseResumePatch:
    async def test_pause_resume_publish_events(
        self, admin: httpx.AsyncClient, account: dict[str, Any], database: Database
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=2)
        bid = b["batch_id"]
        r = await admin.post(f"/api/v1/batches/{bid}/pause")
        assert (r.json()["status"], r.json()["is_active"]) == ("paused", False)
        assert r.json()["paused_at"] is not None
        # Pausing twice is harmless.
        assert (await admin.post(f"/api/v1/batches/{bid}/pause")).json()["status"] == "paused"
        r = await admin.post(f"/api/v1/batches/{bid}/resume")
        assert (r.json()["status"], r.json()["is_active"]) == ("active", True)
        async with database.read() as s:
            types = (
                (
                    await s.execute(
                        select(Event.type).where(Event.batch_id == bid).order_by(Event.id)
                    )
                )
                .scalars()
                .all()
            )
        assert types == ["batch.created", "batch.paused", "batch.resumed"]

    async def test_patch_fields_and_settings(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=2)
        bid = b["batch_id"]
        new_settings = DEFAULT_SETTINGS | {"retry_settings": {"max_attempts": 6}}
        r = await admin.patch(
            f"/api/v1/batches/{bid}",
            json={
                "name": "Nuevo",
                "priority": 9,
                "call_settings": new_settings,
                "is_active": False,
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["name"], body["priority"], body["status"]) == ("Nuevo", 9, "paused")
        assert body["call_settings"]["retry_settings"]["max_attempts"] == 6
        jobs = (await admin.get(f"/api/v1/batches/{bid}/jobs")).json()["items"]
        assert {j["max_attempts"] for j in jobs} == {6}
        r = await admin.patch(f"/api/v1/batches/{bid}", json={"is_active": True})
        assert r.json()["status"] == "active"

    async def test_patch_bad_settings_is_422(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        b = await api_batch(admin, "acc-batch")
        r = await admin.patch(
            f"/api/v1/batches/{b['batch_id']}",
            json={"call_settings": {"allowed_call_hours": {"start": "9", "end": "20:00"}}},
        )
        assert r.status_code == 422

    async def test_patch_pause_resume_on_cancelled_is_409(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        b = await api_batch(admin, "acc-batch")
        bid = b["batch_id"]
        await admin.post(f"/api/v1/batches/{bid}/cancel")
        assert (await admin.patch(f"/api/v1/batches/{bid}", json={"name": "x"})).status_code == 409
        assert (await admin.post(f"/api/v1/batches/{bid}/resume")).status_code == 409
        assert (await admin.post(f"/api/v1/batches/{bid}/pause")).status_code == 409


class TestCancel:
    async def test_cancel_semantics(
        self, admin: httpx.AsyncClient, account: dict[str, Any], database: Database
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=4)
        bid = b["batch_id"]
        jobs = (await admin.get(f"/api/v1/batches/{bid}/jobs")).json()["items"]
        # One call in flight, one already done, one scheduled for retry.
        await move_job(database, jobs[0]["job_id"], JobStatus.DIALING, JobStatus.IN_PROGRESS)
        await move_job(database, jobs[1]["job_id"], JobStatus.DIALING, JobStatus.COMPLETED)
        await move_job(database, jobs[2]["job_id"], JobStatus.DIALING, JobStatus.SCHEDULED)

        r = await admin.post(f"/api/v1/batches/{bid}/cancel", params={"reason": "pagó todo"})
        assert r.status_code == 200
        c = r.json()
        assert c["status"] == "cancelled"
        assert c["is_active"] is False
        assert c["completed_at"] is not None
        assert c["cancelled_reason"] == "pagó todo"
        assert c["cancelled_jobs"] == 2  # the pending one and the scheduled one
        assert c["completed_jobs"] == 1
        assert c["pending_jobs"] == 1  # the call in flight
        assert c["in_progress_jobs"] == 1
        cancelled = await admin.get(f"/api/v1/batches/{bid}/jobs", params={"status": "cancelled"})
        assert {j["job_id"] for j in cancelled.json()["items"]} == {
            jobs[2]["job_id"],
            jobs[3]["job_id"],
        }

        # Cancelling twice is harmless and answers the same.
        again = await admin.post(f"/api/v1/batches/{bid}/cancel", params={"reason": "otra"})
        assert again.status_code == 200
        assert again.json()["cancelled_reason"] == "pagó todo"
        assert again.json()["completed_at"] == c["completed_at"]
        assert again.json()["cancelled_jobs"] == 2

        # The call in flight finishes and counts; the batch stays cancelled.
        await move_job(database, jobs[0]["job_id"], JobStatus.COMPLETED)
        s = (await admin.get(f"/api/v1/batches/{bid}/status")).json()
        assert s["status"] == "cancelled"
        assert (s["completed_jobs"], s["pending_jobs"], s["cancelled_jobs"]) == (2, 0, 2)
        assert s["progress_percentage"] == 100.0

    async def test_cancel_completed_batch_is_409(
        self, admin: httpx.AsyncClient, account: dict[str, Any], database: Database
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=1)
        bid = b["batch_id"]
        job_id = await first_job_id(admin, bid)
        await move_job(database, job_id, JobStatus.DIALING, JobStatus.COMPLETED)
        s = (await admin.get(f"/api/v1/batches/{bid}/status")).json()
        assert s["status"] == "completed"
        r = await admin.post(f"/api/v1/batches/{bid}/cancel")
        assert r.status_code == 409
        assert r.json()["status"] == "completed"

    async def test_unknown_batch_is_404(self, admin: httpx.AsyncClient) -> None:
        assert (await admin.post("/api/v1/batches/batch-nope/cancel")).status_code == 404


class TestStatusSummaryJobs:
    async def test_status_is_tiny_and_iso(
        self, admin: httpx.AsyncClient, account: dict[str, Any], database: Database
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=4)
        bid = b["batch_id"]
        job_id = await first_job_id(admin, bid)
        await move_job(database, job_id, JobStatus.DIALING, JobStatus.FAILED)
        s = (await admin.get(f"/api/v1/batches/{bid}/status")).json()
        assert set(s) == {
            "batch_id", "is_active", "status", "total_jobs", "completed_jobs", "pending_jobs",
            "failed_jobs", "cancelled_jobs", "in_progress_jobs", "progress_percentage",
            "waiting_reason", "waiting_until", "created_at", "started_at", "completed_at",
            "total_minutes", "total_cost", "cost_unit",
        }  # fmt: skip
        assert (s["total_minutes"], s["total_cost"], s["cost_unit"]) == (0.0, 0.0, "minutes")
        assert (s["total_jobs"], s["failed_jobs"], s["pending_jobs"]) == (4, 1, 3)
        assert s["progress_percentage"] == 25.0
        assert "T" in s["created_at"]
        assert s["created_at"].endswith("+00:00")

    async def test_summary_breakdowns(
        self, admin: httpx.AsyncClient, account: dict[str, Any], database: Database
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=2)
        bid = b["batch_id"]
        job_id = await first_job_id(admin, bid)
        async with database.write() as session:
            job = await JobRepository.from_session(session).get(job_id)
            assert job is not None
            session.add(
                attempt_row(
                    id="att-1", job_id=job_id, batch_id=bid, account_id="acc-batch",
                    phone=job.phones[0], outcome="no_answer", status="ended",
                )
            )  # fmt: skip
            session.add(
                attempt_row(
                    id="att-2", job_id=job_id, batch_id=bid, account_id="acc-batch", number=2,
                    phone=job.phones[0], outcome="completed",
                    status="ended", billed_seconds=120, cost_units=120,
                    summary="Promete pagar el viernes",
                )
            )  # fmt: skip
            await session.flush()
            await job_service.transition(session, job, JobStatus.DIALING)
            await job_service.transition(
                session, job, JobStatus.COMPLETED, business_result="promise_to_pay",
                last_outcome="completed", attempts=2,
            )  # fmt: skip
        s = (await admin.get(f"/api/v1/batches/{bid}/summary")).json()
        assert s["outcomes"] == {"no_answer": 1, "completed": 1}
        assert s["business_results"] == {"promise_to_pay": 1}
        assert s["jobs_by_status"]["completed"] == 1
        assert s["jobs_by_status"]["waiting"] == 1
        assert s["cost_unit"] == "minutes"

        detail = (await admin.get(f"/api/v1/jobs/{job_id}")).json()
        assert detail["status"] == "completed"
        assert detail["business_result"] == "promise_to_pay"
        assert [a["outcome"] for a in detail["attempt_history"]] == ["no_answer", "completed"]
        assert detail["attempt_history"][1]["summary"] == "Promete pagar el viernes"

    async def test_jobs_paging_and_bad_status(
        self, admin: httpx.AsyncClient, account: dict[str, Any]
    ) -> None:
        b = await api_batch(admin, "acc-batch", jobs=7)
        bid = b["batch_id"]
        r = await admin.get(f"/api/v1/batches/{bid}/jobs", params={"limit": 3, "skip": 6})
        assert r.json()["total"] == 7
        assert [j["row_number"] for j in r.json()["items"]] == [8]
        r = await admin.get(f"/api/v1/batches/{bid}/jobs", params={"status": "pending"})
        assert r.json()["total"] == 7
        r = await admin.get(f"/api/v1/batches/{bid}/jobs", params={"status": "weird"})
        assert r.status_code == 422
        assert (await admin.get("/api/v1/jobs/job_missing")).status_code == 404


class TestHostileJobs:
    @pytest.mark.parametrize(
        ("job", "field"),
        [
            ({"phones": ["+56911112222"], "contact_name": "x" * 201}, "jobs.0.contact_name"),
            ({"phones": ["+56911112222"], "row_number": 2**40}, "jobs.0.row_number"),
            ({"phones": ["+5691111222233334444555566667777888"]}, "jobs.0.phones.0"),
        ],
    )
    async def test_values_that_do_not_fit_are_422(
        self, admin: httpx.AsyncClient, account: dict[str, Any], job: dict[str, Any], field: str
    ) -> None:
        r = await admin.post(
            "/api/v1/batches", json={"account_id": "acc-batch", "name": "x", "jobs": [job]}
        )
        assert r.status_code == 422
        assert field in r.json()["detail"]
