"""Contract of ``/legacy``: the replaced system's API (``mariandamblena/speechAi``,
``app/api.py`` at HEAD e33bdbd), route by route, through HTTP with API keys.

Its routes at HEAD (method, path; parameters; what it answered), all served here under
``/legacy``. Where it declared a route twice, FastAPI served the first one:

 1. GET    /                                   {message, version, status}
 2. GET    /health                             {status, timestamp, database} | 503
 3. POST   /api/v1/accounts                    CreateAccountRequest -> {success, account}
 4. GET    /api/v1/accounts/{account_id}       AccountModel dict (_id, balance fields ...)
 5. GET    /api/v1/accounts/{account_id}/balance          check_balance dict
 6. POST   /api/v1/accounts/{account_id}/topup            {minutes|credits} -> {success, message}
 7. GET    /api/v1/accounts/{account_id}/stats            get_account_stats dict
 8. GET    /api/v1/accounts/{account_id}/last-call-settings  {success, call_settings, from_batch, created_at}
 9. POST   /api/v1/batches                     CreateBatchRequest -> {success, batch}
10. GET    /api/v1/batches                     ?account_id&is_active&limit&skip -> [batch]
11. GET    /api/v1/batches/{batch_id}          batch dict
12. GET    /api/v1/batches/{batch_id}/summary  get_batch_summary (hourly_stats)
13. GET    /api/v1/batches/{batch_id}/status   polling dict (declared twice; first served)
14. POST   /api/v1/batches/{batch_id}/upload   CSV -> {success, message, jobs_added}
15. POST   /api/v1/batches/{batch_id}/cancel   ?reason -> {success, message, reason}
16. PATCH  /api/v1/batches/{batch_id}          UpdateBatchRequest -> {success, message, batch_id, updated_fields}
17. DELETE /api/v1/batches/{batch_id}          ?delete_jobs -> {success, message}
18. POST   /api/v1/batches/excel/preview       file + ?account_id -> {success, filename, preview}
19. POST   /api/v1/batches/excel/create        form (call_settings_json ...) -> {success, message, batch_id, batch_name, processing_type, stats}
20. GET    /api/v1/jobs                        ?account_id&batch_id&status&limit&skip -> [job]
21. GET    /api/v1/jobs/{job_id}               job dict
22. PUT    /api/v1/jobs/{job_id}/retry         {success, message}
23. PUT    /api/v1/jobs/{job_id}/cancel        {success, message}
24. GET    /api/v1/dashboard/stats             ?account_id -> {account, balance, jobs, timestamp} | {system}
25. GET    /api/v1/dashboard/overview          ?account_id -> {success, timestamp, account, metrics, detailed_stats} (declared twice; first served)
26. GET    /api/v1/calls/history               ?account_id&batch_id&start_date&end_date&limit&skip -> {calls, total, limit, skip, has_more}
27. POST   /api/v1/batches/chile/{use_case}    form file, account_id, company_name ... -> {success, message, batch_id, use_case, country, stats}
28. POST   /api/v1/batches/argentina/{use_case}  same, country AR
29. GET    /api/v1/use-cases                   {success, use_cases, description, countries}
30. GET    /api/v1/accounts                    ?status&plan_type&limit&skip -> [account]
31. GET    /api/v1/batches/{batch_id}/jobs     ?status&limit&skip -> [job]
32. GET    /api/v1/accounts/{account_id}/batches        ?is_active&limit&skip -> [batch]
33. GET    /api/v1/accounts/{account_id}/transactions   ?transaction_type&limit&skip -> [transaction]
34. GET    /api/v1/accounts/{account_id}/summary        {account, balance, stats, financial_summary}

Also served: ``PATCH /api/v1/accounts/{account_id}`` (its comments send clients there for
suspend/activate). Routes 14 and 17 wrap dialer's native upload and delete.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from dialer.job.states import AttemptStatus, JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Batch
from tests.batch.test_batches import move_job
from tests.factories import as_key, attempt_row
from tests.hostile.routes import all_routes

L = "/legacy/api/v1"
CSV = (
    "RUT,Nombre,Telefono,Monto,Fecha Vencimiento,Empresa\n"
    "12345678-5,Ana Pérez,+56987654321,150000,20/03/2026,Retail Sur\n"
    "11111111-1,Luis Soto,+56971924865,99000,25/03/2026,Retail Sur\n"
)
JOBS = [
    {"contact_name": "Ana Pérez", "dni": "12345678-5", "phones": ["+56987654321"],
     "payload": {"monto": 150000, "fecha_limite": "2026-03-20", "empresa": "Retail Sur"},
     "row_number": 2},
    {"contact_name": "Luis Soto", "dni": "11111111-1", "phones": ["+56971924865"],
     "payload": {"monto": 99000, "fecha_limite": "2026-03-25", "empresa": "Retail Sur"},
     "row_number": 3},
]  # fmt: skip
WORKER_SETTINGS = {
    "allowed_hours": {"start": "09:00", "end": "20:00"},
    "days_of_week": [1, 2, 3, 4, 5, 6],
    "timezone": "America/Santiago",
    "max_attempts": 4,
    "retry_delay_hours": 6,
    "ring_timeout": 25,
    "max_call_duration": 300,
}

# Keys of the original's documents (domain/models.py to_dict), as its clients read them.
ACCOUNT_KEYS = {
    "_id", "account_id", "account_name", "plan_type", "status", "minutes_purchased",
    "minutes_used", "minutes_reserved", "credit_balance", "credit_used", "credit_reserved",
    "cost_per_minute", "cost_per_call_setup", "cost_failed_call", "max_concurrent_calls",
    "daily_call_limit", "calls_today", "country", "timezone", "contact_name", "contact_email",
    "contact_phone", "features", "settings", "created_at", "updated_at", "expires_at",
    "last_topup_at",
}  # fmt: skip
BATCH_KEYS = {
    "_id", "account_id", "batch_id", "name", "description", "total_jobs", "pending_jobs",
    "completed_jobs", "failed_jobs", "suspended_jobs", "total_cost", "total_minutes",
    "estimated_cost", "is_active", "priority", "call_settings", "created_at", "started_at",
    "completed_at", "updated_at",
}  # fmt: skip
JOB_KEYS = {
    "_id", "job_id", "account_id", "batch_id", "status", "mode", "attempts", "max_attempts",
    "deduplication_key", "contact", "to_number", "payload", "estimated_cost", "created_at",
    "started_at", "completed_at", "failed_at", "updated_at", "call_id", "call_result",
    "last_error", "fecha_pago_cliente", "monto_pago_cliente", "call_duration_seconds",
}  # fmt: skip
STATUS_KEYS = {
    "batch_id", "is_active", "total_jobs", "pending_jobs", "completed_jobs", "failed_jobs",
    "suspended_jobs", "total_cost", "total_minutes", "progress_percentage", "started_at",
    "completed_at",
}  # fmt: skip


class World:
    """An account made through /legacy, its key, and a batch of two jobs from a file."""

    def __init__(self, admin: httpx.AsyncClient, database: Database) -> None:
        self.admin = admin
        self.database = database
        self.account_id = ""
        self.key = ""
        self.client: httpx.AsyncClient
        self.batch_id = ""
        self.jobs: list[str] = []


async def _upload(client: httpx.AsyncClient, path: str, data: dict[str, str], **kw: Any) -> Any:
    files = {"file": ("cartera.csv", io.BytesIO(CSV.encode()), "text/csv")}
    return await client.post(path, data=data, files=files, **kw)


@pytest.fixture
async def world(
    admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
) -> AsyncIterator[World]:
    w = World(admin, database)
    r = await admin.post(f"{L}/accounts", json={
        "account_name": "Cobranzas Sur", "contact_name": "Ana", "contact_email": "ana@sur.cl",
        "plan_type": "minutes_based", "initial_minutes": 100, "country": "CL",
    })  # fmt: skip
    assert r.status_code == 200, r.text
    w.account_id = r.json()["account"]["account_id"]
    w.key = r.json()["api_key"]
    async with as_key(admin, w.key) as client:
        w.client = client
        # The jobs go in through the native JSON create (spreadsheets are tested below:
        # each upload is parsed in a child process, which costs a second).
        r = await client.post("/api/v1/batches", json={
            "account_id": w.account_id, "name": "Octubre", "call_settings": WORKER_SETTINGS,
            "variable_set": "legacy", "jobs": JOBS,
        })  # fmt: skip
        assert r.status_code == 201, r.text
        w.batch_id = r.json()["batch_id"]
        page = (await admin.get(f"/api/v1/batches/{w.batch_id}/jobs")).json()["items"]
        w.jobs = [j["job_id"] for j in page]
        yield w


async def _finish_call(w: World, job_id: str, clock: FrozenClock) -> None:
    """A job answered, billed 90 s, with the agent's summary and collected variables."""
    await move_job(w.database, job_id, JobStatus.DIALING)
    now = clock.now()
    async with w.database.write() as s:
        s.add(attempt_row(
            id=f"att-{job_id[-8:]}", job_id=job_id, batch_id=w.batch_id,
            account_id=w.account_id, phone="+56987654321", provider="retell",
            provider_call_id="call_abc", status=AttemptStatus.ENDED, outcome="completed",
            business_result="promise_to_pay", started_at=now - timedelta(seconds=100),
            answered_at=now - timedelta(seconds=90), ended_at=now, duration_s=90,
            billed_seconds=120, summary="Promete pagar el 15/03",
            transcript="Agent: Hola\nUser: Pago el 15",
            extracted={"promise_date": "2026-03-15", "collected_dynamic_variables": {
                "fecha_pago_cliente": "2026-03-15", "monto_pago_cliente": "50000"}},
        ))  # fmt: skip
    await move_job(w.database, job_id, JobStatus.COMPLETED, attempts=1, last_outcome="completed",
                   business_result="promise_to_pay")  # fmt: skip


# -- 1, 2 --------------------------------------------------------------------------------


async def test_root_and_health(client: httpx.AsyncClient) -> None:
    root = (await client.get("/legacy/")).json()
    assert set(root) == {"message", "version", "status"}
    assert root["status"] == "active"
    health = await client.get("/legacy/health")
    assert health.status_code == 200
    assert set(health.json()) == {"status", "timestamp", "database"}
    assert (health.json()["status"], health.json()["database"]) == ("healthy", "connected")


async def test_every_other_route_needs_a_key(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", f"{L}/accounts"), ("GET", f"{L}/jobs"),
                         ("POST", f"{L}/batches"), ("GET", f"{L}/use-cases")]:  # fmt: skip
        r = await client.request(method, path)
        assert r.status_code == 401
        body = r.json()
        assert (body["code"], body["status_code"]) == ("Unauthorized", 401)
        assert body["message"] == body["detail"]


# -- 3-8, 30, 33, 34: accounts --------------------------------------------------------------


async def test_create_account_and_read_it(world: World) -> None:
    a = (await world.client.get(f"{L}/accounts/{world.account_id}")).json()
    assert ACCOUNT_KEYS <= set(a)
    assert a["_id"] == a["account_id"] == world.account_id
    assert (a["plan_type"], a["status"], a["country"]) == ("minutes_based", "active", "CL")
    assert (a["minutes_purchased"], a["minutes_used"], a["minutes_reserved"]) == (100.0, 0.0, 0.0)
    assert (a["credit_balance"], a["contact_email"]) == (0.0, "ana@sur.cl")
    assert a["timezone"] == "America/Santiago"
    assert a["max_concurrent_calls"] == 5  # the original's default
    credit = await world.admin.post(f"{L}/accounts", json={
        "account_name": "Créditos", "contact_name": "B", "contact_email": "b@b.cl",
        "initial_credits": 250, "initial_minutes": 9,
    })  # fmt: skip
    c = credit.json()["account"]
    assert (c["plan_type"], c["credit_balance"], c["minutes_purchased"]) == (
        "credit_based", 250.0, 0.0)  # fmt: skip
    assert c["cost_per_minute"] == 1.0


async def test_create_account_refusals(admin: httpx.AsyncClient) -> None:
    bad = await admin.post(f"{L}/accounts", json={"account_name": "X", "plan_type": "gold"})
    assert bad.status_code == 422
    assert "plan_type" in bad.json()["message"]
    assert bad.json()["code"] == "InvalidInput"
    async with as_key(admin, "not-a-key") as nobody:
        assert (await nobody.post(f"{L}/accounts", json={"account_name": "X"})).status_code == 401


async def test_balance_topup_stats(world: World) -> None:
    b = (await world.client.get(f"{L}/accounts/{world.account_id}/balance")).json()
    assert b == {
        "has_balance": True, "remaining": 100.0, "used": 0.0, "purchased": 100.0,
        "reserved": 0.0, "unit": "minutes", "plan_type": "minutes_based", "can_make_calls": True,
    }  # fmt: skip
    r = await world.admin.post(f"{L}/accounts/{world.account_id}/topup", json={"minutes": 20})
    assert r.json() == {"success": True, "message": "Account topped up successfully"}
    empty = await world.admin.post(f"{L}/accounts/{world.account_id}/topup", json={})
    assert empty.status_code == 422
    assert empty.json()["message"] == "Must provide either minutes or credits"
    # Topping up is the operator's: an account key is refused.
    denied = await world.client.post(f"{L}/accounts/{world.account_id}/topup", json={"minutes": 1})
    assert denied.status_code == 403
    s = (await world.client.get(f"{L}/accounts/{world.account_id}/stats")).json()
    assert {"account_id", "account_name", "status", "plan_type", "created_at", "calls_today",
            "daily_limit", "max_concurrent", "minutes_purchased", "minutes_used",
            "minutes_remaining", "minutes_reserved"} <= set(s)  # fmt: skip
    assert (s["minutes_purchased"], s["minutes_remaining"], s["calls_today"]) == (120.0, 120.0, 0)


async def test_last_call_settings(world: World, admin: httpx.AsyncClient) -> None:
    r = (await world.client.get(f"{L}/accounts/{world.account_id}/last-call-settings")).json()
    assert (r["success"], r["from_batch"]) == (True, world.batch_id)
    assert r["call_settings"]["allowed_call_hours"] == {"start": "09:00", "end": "20:00"}
    assert r["created_at"].startswith("2026-03-02T15:00")
    other = await admin.post(f"{L}/accounts", json={"account_name": "Nueva"})
    oid = other.json()["account"]["account_id"]
    none = (await admin.get(f"{L}/accounts/{oid}/last-call-settings")).json()
    assert none == {
        "success": False, "message": "No previous call_settings found for this account",
        "call_settings": None,
    }  # fmt: skip


async def test_list_accounts_is_a_bare_array(world: World, admin: httpx.AsyncClient) -> None:
    await admin.post(f"{L}/accounts", json={"account_name": "Otra", "plan_type": "credit_based"})
    everyone = (await admin.get(f"{L}/accounts")).json()
    assert isinstance(everyone, list)
    assert len(everyone) == 2
    assert all(ACCOUNT_KEYS <= set(a) for a in everyone)
    credit = (await admin.get(f"{L}/accounts", params={"plan_type": "credit_based"})).json()
    assert [a["account_name"] for a in credit] == ["Otra"]
    mine = (await world.client.get(f"{L}/accounts")).json()
    assert [a["account_id"] for a in mine] == [world.account_id]
    bad = await admin.get(f"{L}/accounts", params={"status": "gone"})
    assert bad.status_code == 422
    assert bad.json()["message"] == "Invalid status: gone"


async def test_transactions_and_summary(world: World, frozen_clock: FrozenClock) -> None:
    await _finish_call(world, world.jobs[0], frozen_clock)
    txs = (await world.client.get(f"{L}/accounts/{world.account_id}/transactions")).json()
    assert isinstance(txs, list)
    assert {"_id", "transaction_id", "account_id", "type", "amount", "cost", "description",
            "reference_id", "created_at"} <= set(txs[0])  # fmt: skip
    topups = (await world.client.get(f"{L}/accounts/{world.account_id}/transactions",
                                     params={"transaction_type": "topup_minutes"})).json()  # fmt: skip
    assert [(t["type"], t["amount"]) for t in topups] == [("topup_minutes", 100.0)]
    bad = await world.client.get(f"{L}/accounts/{world.account_id}/transactions",
                                 params={"transaction_type": "magic"})  # fmt: skip
    assert bad.status_code == 422
    s = (await world.client.get(f"{L}/accounts/{world.account_id}/summary")).json()
    assert set(s) == {"account", "balance", "stats", "financial_summary"}
    assert ACCOUNT_KEYS <= set(s["account"])
    assert s["stats"] == {"total_batches": 1, "active_batches": 1, "completed_batches": 0}
    assert set(s["financial_summary"]) == {
        "total_spent", "total_recharges", "total_usage", "transaction_count"}  # fmt: skip
    assert s["financial_summary"]["total_recharges"] == 100.0


async def test_patch_account_status(world: World) -> None:
    r = await world.admin.patch(f"{L}/accounts/{world.account_id}",
                                json={"status": "suspended", "contact_phone": "+56222222222"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["success"], r.json()["account"]["status"]) == (True, "suspended")
    assert r.json()["account"]["contact_phone"] == "+56222222222"
    b = (await world.client.get(f"{L}/accounts/{world.account_id}/balance")).json()
    assert b["can_make_calls"] is False
    back = await world.admin.patch(f"{L}/accounts/{world.account_id}", json={"status": "active"})
    assert back.json()["account"]["status"] == "active"


# -- 9-13, 15, 16, 31, 32: batches ----------------------------------------------------------


async def test_create_batch_with_worker_settings(world: World) -> None:
    r = await world.client.post(f"{L}/batches", json={
        "account_id": world.account_id, "name": "Noviembre", "call_settings": WORKER_SETTINGS})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    b = body["batch"]
    assert BATCH_KEYS <= set(b)
    assert (b["_id"], b["name"], b["description"], b["priority"]) == (b["batch_id"], "Noviembre",
                                                                      "", 1)  # fmt: skip
    assert (b["total_jobs"], b["suspended_jobs"], b["is_active"]) == (0, 0, True)
    cs = b["call_settings"]
    assert cs["allowed_weekdays"] == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert (cs["ring_timeout_s"], cs["max_call_duration_s"]) == (25, 300)
    assert cs["retry_settings"]["max_attempts"] == 4
    bad = await world.client.post(f"{L}/batches", json={
        "account_id": world.account_id, "name": "X", "call_settings": {"days_of_week": [9]}})  # fmt: skip
    assert bad.status_code == 422
    assert "days_of_week" in bad.json()["message"]


async def test_list_get_summary_status(world: World, frozen_clock: FrozenClock) -> None:
    await _finish_call(world, world.jobs[0], frozen_clock)
    listed = (
        await world.client.get(f"{L}/batches", params={"account_id": world.account_id})
    ).json()
    assert isinstance(listed, list)
    assert [b["batch_id"] for b in listed] == [world.batch_id]
    b = listed[0]
    assert BATCH_KEYS <= set(b)
    assert (b["total_jobs"], b["pending_jobs"], b["completed_jobs"]) == (2, 1, 1)
    # A 3-minute call per job at the account's price (minutes plan: 3 minutes each).
    assert b["estimated_cost"] == 6.0
    assert (await world.client.get(f"{L}/batches/{world.batch_id}")).json() == b
    running = (await world.client.get(f"{L}/batches", params={"status": "RUNNING"})).json()
    assert [x["batch_id"] for x in running] == [world.batch_id]
    assert (await world.client.get(f"{L}/batches", params={"status": "PAUSED"})).json() == []
    bad = await world.client.get(f"{L}/batches", params={"status": "SLEEPING"})
    assert bad.status_code == 422
    assert "PENDING, RUNNING, PAUSED, COMPLETED, CANCELLED" in bad.json()["message"]

    s = (await world.client.get(f"{L}/batches/{world.batch_id}/summary")).json()
    assert {"batch_id", "name", "account_id", "status", "total_jobs", "pending_jobs",
            "completed_jobs", "failed_jobs", "suspended_jobs", "completion_rate", "total_cost",
            "total_minutes", "priority", "created_at", "started_at", "completed_at",
            "hourly_stats"} <= set(s)  # fmt: skip
    assert (s["status"], s["completion_rate"], s["priority"]) == ("active", 50.0, 0)
    assert s["hourly_stats"] == [{"hour": 15, "date": "2026-03-02", "total_calls": 1,
                                  "successful_calls": 1, "success_rate": 100.0}]  # fmt: skip

    st = (await world.client.get(f"{L}/batches/{world.batch_id}/status")).json()
    assert STATUS_KEYS <= set(st)
    assert (st["completed_jobs"], st["pending_jobs"], st["progress_percentage"]) == (1, 1, 50.0)
    assert (st["total_minutes"], st["total_cost"]) == (0.0, 0.0)  # counters: nothing settled


async def test_patch_pause_resume_and_cancel(world: World) -> None:
    url = f"{L}/batches/{world.batch_id}"
    r = (await world.client.patch(url, json={"is_active": False})).json()
    assert r == {"success": True, "message": "Batch paused", "batch_id": world.batch_id,
                 "updated_fields": ["is_active", "updated_at"]}  # fmt: skip
    assert (await world.client.get(url)).json()["is_active"] is False
    paused = (await world.client.get(f"{L}/batches", params={"status": "PAUSED"})).json()
    assert len(paused) == 1
    r = (await world.client.patch(url, json={"is_active": True, "name": "Octubre B"})).json()
    assert (r["message"], r["updated_fields"]) == ("Batch resumed",
                                                   ["is_active", "name", "updated_at"])  # fmt: skip
    nothing = await world.client.patch(url, json={})
    assert nothing.status_code == 422
    assert nothing.json()["message"] == "No fields to update"
    c = (await world.client.post(f"{url}/cancel", params={"reason": "cliente pagó"})).json()
    assert c == {"success": True, "message": "Batch cancelled successfully",
                 "reason": "cliente pagó"}  # fmt: skip
    b = (await world.client.get(url)).json()
    assert (b["is_active"], b["pending_jobs"], b["status"]) == (False, 0, "cancelled")
    gone = (await world.client.get(f"{L}/batches", params={"status": "CANCELLED"})).json()
    assert len(gone) == 1


async def test_batch_and_account_job_lists(world: World, frozen_clock: FrozenClock) -> None:
    await _finish_call(world, world.jobs[0], frozen_clock)
    jobs = (await world.client.get(f"{L}/batches/{world.batch_id}/jobs")).json()
    assert isinstance(jobs, list)
    assert len(jobs) == 2
    done = (await world.client.get(f"{L}/batches/{world.batch_id}/jobs",
                                   params={"status": "completed"})).json()  # fmt: skip
    assert [j["job_id"] for j in done] == [world.jobs[0]]
    bad = await world.client.get(f"{L}/batches/{world.batch_id}/jobs", params={"status": "x"})
    assert bad.status_code == 422
    assert bad.json()["message"] == "Invalid status: x"
    mine = (await world.client.get(f"{L}/accounts/{world.account_id}/batches")).json()
    assert [b["batch_id"] for b in mine] == [world.batch_id]
    inactive = (await world.client.get(f"{L}/accounts/{world.account_id}/batches",
                                       params={"is_active": "false"})).json()  # fmt: skip
    assert inactive == []
    missing = await world.admin.get(f"{L}/accounts/acc-none/batches")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NotFound"


# -- 18, 19, 27-29: spreadsheets -------------------------------------------------------------


async def test_excel_preview(world: World) -> None:
    fresh = await world.admin.post(f"{L}/accounts", json={"account_name": "Nueva"})
    new_id = fresh.json()["account"]["account_id"]
    r = await _upload(world.admin, f"{L}/batches/excel/preview", {}, params={"account_id": new_id})
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["success"], p["filename"], p["total_rows"]) == (True, "cartera.csv", 2)
    assert p["detectedFormat"] == "debt_collection"
    assert len(p["sampleRows"]) == 2
    assert p["sampleRows"][0]["contact_name"] == "Ana Pérez"
    assert {"total_rows", "valid_debtors", "duplicates_found", "sample_debtors"} <= set(
        p["preview"]
    )
    assert (p["preview"]["valid_debtors"], p["preview"]["duplicates_found"]) == (2, 0)
    # The same rows for the account that already has them in an active batch.
    again = await _upload(world.client, f"{L}/batches/excel/preview", {},
                          params={"account_id": world.account_id})  # fmt: skip
    assert (again.json()["preview"]["duplicates_found"], again.json()["total_rows"]) == (2, 2)
    plain = "Nombre,Telefono\nAna,+56987654321\n"
    r = await world.client.post(f"{L}/batches/excel/preview", params={"account_id": world.account_id},
                                files={"file": ("lista.csv", plain.encode(), "text/csv")})  # fmt: skip
    assert r.json()["detectedFormat"] == "marketing"


async def test_excel_create_answer_and_refusals(world: World) -> None:
    r = await _upload(world.client, f"{L}/batches/excel/create",
                      {"account_id": world.account_id, "allow_duplicates": "true"})  # fmt: skip
    body = r.json()
    assert {"success", "message", "batch_id", "batch_name", "processing_type", "stats",
            "jobs_created", "contacts_processed", "duplicates_skipped"} <= set(body)  # fmt: skip
    assert (body["jobs_created"], body["contacts_processed"], body["duplicates_skipped"]) == (
        2, 2, 0)  # fmt: skip
    assert body["batch_name"].startswith("Basic Batch 2026-03-02")
    jobs = (await world.client.get(f"{L}/batches/{body['batch_id']}/jobs")).json()
    ana = next(j for j in jobs if j["contact"]["name"] == "Ana Pérez")
    assert (ana["contact"]["dni"], ana["contact"]["phones"]) == ("12345678-5", ["+56987654321"])
    assert (ana["payload"]["debt_amount"], ana["payload"]["company_name"]) == (150000, "Retail Sur")
    assert ana["payload"]["due_date"] == "2026-03-20"
    dup = await _upload(world.client, f"{L}/batches/excel/create",
                        {"account_id": world.account_id})  # fmt: skip
    assert dup.status_code == 422  # every row already in an active batch: nothing to create
    bad = await _upload(world.client, f"{L}/batches/excel/create",
                        {"account_id": world.account_id, "call_settings_json": "{nope"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["message"].startswith("call_settings_json debe ser un JSON válido")
    pt = await _upload(world.client, f"{L}/batches/excel/create",
                       {"account_id": world.account_id, "processing_type": "magic"})  # fmt: skip
    assert pt.json()["message"] == "processing_type debe ser 'basic' o 'acquisition'"


async def test_country_use_cases(world: World) -> None:
    r = await _upload(world.client, f"{L}/batches/chile/debt_collection", {
        "account_id": world.account_id, "company_name": "Retail Sur", "allow_duplicates": "true",
        "retell_agent_id": "agent_cobranza"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["success"], body["use_case"], body["country"]) == (True, "debt_collection", "CL")
    assert body["stats"]["jobs_created"] == 2
    assert body["message"] == "Batch chileno de debt_collection creado exitosamente"
    batch = (await world.client.get(f"{L}/batches/{body['batch_id']}")).json()
    assert batch["description"] == "Batch chileno para debt_collection"
    native = (await world.client.get(f"/api/v1/batches/{body['batch_id']}")).json()
    assert (native["variable_set"], native["processing_type"]) == ("legacy", "basic")
    async with world.database.read() as session:
        stored = await session.get(Batch, body["batch_id"])
        assert stored is not None
        assert stored.provider_options == {"agent_id": "agent_cobranza"}
    bad = await _upload(world.client, f"{L}/batches/argentina/lottery",
                        {"account_id": world.account_id, "company_name": "X",
                         "retell_agent_id": "agent_cobranza"})  # fmt: skip
    assert bad.status_code == 422
    assert "lottery" in bad.json()["message"]
    cases = (await world.client.get(f"{L}/use-cases")).json()
    assert cases["use_cases"] == ["debt_collection", "marketing"]
    assert set(cases) == {"success", "use_cases", "description", "countries"}


# -- 20-23: jobs ------------------------------------------------------------------------


async def test_job_shape_with_call_result(world: World, frozen_clock: FrozenClock) -> None:
    await _finish_call(world, world.jobs[0], frozen_clock)
    j = (await world.client.get(f"{L}/jobs/{world.jobs[0]}")).json()
    assert JOB_KEYS <= set(j)
    assert (j["_id"], j["status"], j["attempts"], j["max_attempts"]) == (world.jobs[0],
                                                                        "completed", 1, 4)  # fmt: skip
    assert j["contact"] == {"name": "Ana Pérez", "dni": "12345678-5",
                            "phones": ["+56987654321"], "next_phone_index": 0}  # fmt: skip
    assert (j["payload"]["debt_amount"], j["payload"]["company_name"]) == (150000, "Retail Sur")
    assert j["payload"]["due_date"] == "2026-03-20"
    cr = j["call_result"]
    assert (cr["success"], cr["status"]) == (True, "completed")
    assert cr["summary"]["call_analysis"]["call_summary"] == "Promete pagar el 15/03"
    assert cr["summary"]["collected_dynamic_variables"]["monto_pago_cliente"] == "50000"
    assert cr["summary"]["duration_ms"] == 90_000
    assert (j["call_duration_seconds"], j["call_id"]) == (90, "call_abc")
    assert (j["fecha_pago_cliente"], j["monto_pago_cliente"]) == ("2026-03-15", "50000")
    listed = (await world.client.get(f"{L}/jobs", params={"batch_id": world.batch_id})).json()
    assert isinstance(listed, list)
    one = next(x for x in listed if x["job_id"] == world.jobs[0])
    assert one["call_result"] == cr
    assert (await world.client.get(f"{L}/jobs/job-nope")).status_code == 404


async def test_job_filters_retry_cancel(world: World) -> None:
    pending = (await world.client.get(f"{L}/jobs", params={"status": "pending"})).json()
    assert len(pending) == 2
    assert (await world.client.get(f"{L}/jobs", params={"status": "suspended"})).json() == []
    await move_job(world.database, world.jobs[0], JobStatus.DIALING, JobStatus.FAILED)
    failed = (await world.client.get(f"{L}/jobs", params={"status": "failed"})).json()
    assert [j["job_id"] for j in failed] == [world.jobs[0]]
    r = await world.client.put(f"{L}/jobs/{world.jobs[0]}/retry")
    assert r.json() == {"success": True, "message": "Job marked for retry"}
    again = await world.client.put(f"{L}/jobs/{world.jobs[0]}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "JobNotRetryable"
    c = await world.client.put(f"{L}/jobs/{world.jobs[1]}/cancel")
    assert c.json() == {"success": True, "message": "Job cancelled"}
    cancelled = (await world.client.get(f"{L}/jobs", params={"status": "cancelled"})).json()
    assert [j["job_id"] for j in cancelled] == [world.jobs[1]]


# -- 24-26: dashboard and calls -------------------------------------------------------------


async def test_dashboard_stats(world: World) -> None:
    mine = (await world.client.get(f"{L}/dashboard/stats",
                                   params={"account_id": world.account_id})).json()  # fmt: skip
    assert set(mine) == {"account", "balance", "jobs", "timestamp"}
    assert mine["jobs"]["total_jobs"] == 2
    assert {"pending", "in_progress", "completed", "failed", "suspended", "total_cost",
            "total_minutes", "success_rate", "stats_by_status"} <= set(mine["jobs"])  # fmt: skip
    system = (await world.admin.get(f"{L}/dashboard/stats")).json()
    assert system["system"]["total_accounts"] == 1
    assert system["system"]["active_accounts"] == 1


async def test_dashboard_overview_filtered_by_account(
    world: World, frozen_clock: FrozenClock
) -> None:
    # The original answered 500 here (it read fields its AccountModel did not have).
    await _finish_call(world, world.jobs[0], frozen_clock)
    o = (await world.client.get(f"{L}/dashboard/overview",
                                params={"account_id": world.account_id})).json()  # fmt: skip
    assert {"success", "timestamp", "account", "metrics", "detailed_stats"} <= set(o)
    assert o["account"] == {"account_id": world.account_id, "name": "Cobranzas Sur",
                            "status": "active", "balance": 100.0,
                            "billing_type": "minutes_based"}  # fmt: skip
    assert o["metrics"] == {"jobs_today": 2, "success_rate_percentage": 0.0,
                            "active_batches": 1, "pending_jobs": 1}  # fmt: skip
    assert o["detailed_stats"]["jobs"]["completed"] == 1
    assert set(o["detailed_stats"]["batches"]) == {
        "active_count", "total_jobs", "total_cost", "total_minutes"}  # fmt: skip
    everyone = (await world.admin.get(f"{L}/dashboard/overview")).json()
    assert everyone["account"] is None


async def test_calls_history(world: World, frozen_clock: FrozenClock) -> None:
    await _finish_call(world, world.jobs[0], frozen_clock)
    h = (await world.client.get(f"{L}/calls/history",
                                params={"batch_id": world.batch_id})).json()  # fmt: skip
    assert set(h) >= {"calls", "total", "limit", "skip", "has_more"}
    assert (h["total"], h["limit"], h["skip"], h["has_more"]) == (1, 100, 0, False)
    c = h["calls"][0]
    assert {"job_id", "account_id", "batch_id", "status", "contact_name", "phone_number",
            "created_at", "finished_at", "call_duration_seconds", "call_result", "call_status",
            "call_cost", "transcript", "recording_url", "collected_variables"} <= set(c)  # fmt: skip
    assert (c["contact_name"], c["call_duration_seconds"]) == ("Ana Pérez", 90)
    assert c["collected_variables"]["fecha_pago_cliente"] == "2026-03-15"
    # The original ignored its date filters; here they hold.
    later = (frozen_clock.now() + timedelta(minutes=1)).isoformat()
    empty = (await world.client.get(f"{L}/calls/history", params={"start_date": later})).json()
    assert empty["total"] == 0
    bad = await world.client.get(f"{L}/calls/history", params={"end_date": "ayer"})
    assert bad.status_code == 422


# -- tenancy ----------------------------------------------------------------------------


async def test_another_account_sees_nothing(world: World) -> None:
    other = await world.admin.post(f"{L}/accounts", json={"account_name": "Ajena"})
    async with as_key(world.admin, other.json()["api_key"]) as them:
        for path in (f"{L}/accounts/{world.account_id}", f"{L}/batches/{world.batch_id}",
                     f"{L}/jobs/{world.jobs[0]}", f"{L}/batches/{world.batch_id}/status"):  # fmt: skip
            r = await them.get(path)
            assert r.status_code == 404, path
        assert (await them.get(f"{L}/jobs")).json() == []
        assert (await them.get(f"{L}/batches")).json() == []


# -- 14, 17: upload into a batch, delete ---------------------------------------------------


async def test_upload_into_batch(world: World) -> None:
    r = await world.client.post(f"{L}/batches", json={"account_id": world.account_id,
                                                      "name": "Vacío"})  # fmt: skip
    bid = r.json()["batch"]["batch_id"]
    # The original's CSV headers (nombre, rut, telefonos, monto_deuda, fecha_limite, empresa).
    csv = ("nombre,rut,telefonos,monto_deuda,fecha_limite,empresa\n"
           "Marta Rojas,9876543-3,+56932301241,45000,2026-04-01,Retail Sur\n")  # fmt: skip
    up = await world.client.post(f"{L}/batches/{bid}/upload",
                                 files={"file": ("jobs.csv", csv.encode(), "text/csv")})  # fmt: skip
    assert up.status_code == 200, up.text
    assert up.json()["success"] is True
    assert (up.json()["jobs_added"], up.json()["message"]) == (1, f"Added 1 jobs to batch {bid}")
    (job,) = (await world.client.get(f"{L}/batches/{bid}/jobs")).json()
    assert job["contact"]["name"] == "Marta Rojas"
    assert job["payload"]["debt_amount"] == 45000
    again = await world.client.post(f"{L}/batches/{bid}/upload",
                                    files={"file": ("jobs.csv", csv.encode(), "text/csv")})  # fmt: skip
    assert again.status_code == 422  # the batch already has this debtor
    await world.client.post(f"{L}/batches/{bid}/cancel")
    closed = await world.client.post(f"{L}/batches/{bid}/upload",
                                     files={"file": ("jobs.csv", csv.encode(), "text/csv")})  # fmt: skip
    assert closed.status_code == 409


async def test_delete_batch(world: World, frozen_clock: FrozenClock) -> None:
    r = await world.client.post(f"{L}/batches", json={"account_id": world.account_id,
                                                      "name": "Borrar"})  # fmt: skip
    bid = r.json()["batch"]["batch_id"]
    d = await world.client.delete(f"{L}/batches/{bid}", params={"delete_jobs": "true"})
    assert d.json() == {"success": True, "message": "Batch deleted"}
    assert (await world.client.get(f"{L}/batches/{bid}")).status_code == 404
    await _finish_call(world, world.jobs[0], frozen_clock)
    kept = await world.client.delete(f"{L}/batches/{world.batch_id}")
    assert kept.status_code == 409
    assert "cancel it instead" in kept.json()["message"]
    assert (await world.client.delete(f"{L}/batches/batch-nope")).status_code == 404


def test_every_original_route_is_served(app: Any) -> None:
    """The routes listed in this module's docstring (read from the original's api.py)
    are exactly what /legacy serves, plus the PATCH its comments point to."""
    listed = set()
    for line in (__doc__ or "").splitlines():
        m = re.match(r"^\s*\d+\.\s+(GET|POST|PUT|PATCH|DELETE)\s+(\S+)", line)
        if m:
            listed.add((m.group(1), "/legacy" + (m.group(2) if m.group(2) != "/" else "/")))
    assert len(listed) == 34
    served = {(m, p) for m, p in all_routes(app) if p.startswith("/legacy")}
    assert served == listed | {("PATCH", "/legacy/api/v1/accounts/{account_id}")}
