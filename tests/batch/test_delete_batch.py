"""DELETE /api/v1/batches/{id}: a batch that placed no call goes with its jobs; one that
did is a 409 (cancel keeps the history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.worker.claim import claim_due_jobs
from tests.factories import make_account

TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Santiago")).astimezone(UTC)
SETTINGS = {"compliance_profile": "none", "allowed_call_hours": {"start": "00:00", "end": "24:00"}}


async def _batch(admin: httpx.AsyncClient, acc: str, phones: list[str]) -> tuple[str, list[str]]:
    r = await admin.post(
        "/api/v1/batches",
        json={"account_id": acc, "name": "x", "call_settings": SETTINGS,
              "jobs": [{"phones": [p]} for p in phones]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    batch_id = r.json()["batch_id"]
    jobs = (await admin.get(f"/api/v1/batches/{batch_id}/jobs")).json()["items"]
    return batch_id, [j["job_id"] for j in jobs]


async def test_a_batch_without_calls_is_deleted_with_its_jobs(
    database: Database, frozen_clock: FrozenClock, admin: httpx.AsyncClient
) -> None:
    frozen_clock.set(TUESDAY_10)
    acc = await make_account(database, cap=100)
    batch_id, job_ids = await _batch(admin, acc, ["+56987654321", "+56971924865"])
    r = await admin.delete(f"/api/v1/batches/{batch_id}")
    assert r.status_code == 204, r.text
    assert (await admin.get(f"/api/v1/batches/{batch_id}")).status_code == 404
    for job_id in job_ids:
        assert (await admin.get(f"/api/v1/jobs/{job_id}")).status_code == 404
    assert (await admin.delete(f"/api/v1/batches/{batch_id}")).status_code == 404
    # Its contacts no longer count as in an active batch: nothing dials them either.
    async with database.write() as s:
        claimed = await claim_due_jobs(
            s, worker_id="w", now=TUESDAY_10, limit=10, lease=timedelta(minutes=5)
        )
    assert claimed == []


async def test_a_batch_that_placed_a_call_is_a_409(
    database: Database, frozen_clock: FrozenClock, admin: httpx.AsyncClient
) -> None:
    frozen_clock.set(TUESDAY_10)
    acc = await make_account(database, cap=100)
    batch_id, _ = await _batch(admin, acc, ["+56987654321"])
    async with database.write() as s:
        claimed = await claim_due_jobs(
            s, worker_id="w", now=TUESDAY_10, limit=10, lease=timedelta(minutes=5)
        )
    assert len(claimed) == 1
    r = await admin.delete(f"/api/v1/batches/{batch_id}")
    assert r.status_code == 409
    assert "cancel" in r.json()["detail"]
    assert (await admin.get(f"/api/v1/batches/{batch_id}")).status_code == 200
