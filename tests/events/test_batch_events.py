"""The live progress stream: GET /api/v1/batches/{id}/events."""

from __future__ import annotations

import asyncio

import httpx

from dialer.db.session import Database
from dialer.job.service import transition
from dialer.job.states import JobStatus
from dialer.models import Job
from tests.events.sse import Sse, read_events
from tests.factories import add_account, add_batch
from tests.fixtures.servers import serve


async def _finish_job(db: Database, job_id: str, outcome: str = "completed") -> None:
    """Walk one job through a call, one unit of work per step as the worker does."""
    for status in (JobStatus.DIALING, JobStatus.IN_PROGRESS, JobStatus.COMPLETED):
        async with db.write() as session:
            job = await session.get(Job, job_id)
            assert job is not None
            await transition(session, job, status, last_outcome=outcome)


async def _collect(response: httpx.Response, on_first: asyncio.Event) -> list[Sse]:
    got = []
    async for ev in read_events(response):
        got.append(ev)
        on_first.set()
    return got


async def test_stream_sends_snapshot_then_progress_in_order_and_closes_when_done(app, database):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, jobs = await add_batch(session, account, jobs=3)

    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30) as c,
        c.stream("GET", f"/api/v1/batches/{batch.id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        subscribed = asyncio.Event()
        reader = asyncio.create_task(_collect(response, subscribed))
        await asyncio.wait_for(subscribed.wait(), 10)
        for job in jobs:
            await _finish_job(database, job.id)
        # The server ends the stream by itself once the batch completes.
        events = await asyncio.wait_for(reader, 20)

    first, last = events[0], events[-1]
    assert first.event == "status"
    assert first.data["total_jobs"] == 3
    assert first.data["pending_jobs"] == 3
    assert first.data["progress_percentage"] == 0.0

    progress = [e for e in events if e.event == "job.status"]
    ids = [int(e.id) for e in events if e.event not in ("status", "end")]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # Every step of every job, in the order it happened.
    assert [(e.data["job_id"], e.data["data"]["status"]) for e in progress] == [
        (j.id, s) for j in jobs for s in ("dialing", "in_progress", "completed")
    ]
    assert any(e.event == "batch.completed" for e in events)

    # Counters only ever move forward while the batch runs.
    percentages = [e.data["progress_percentage"] for e in events if e.event == "status"]
    assert percentages == sorted(percentages)

    assert last.event == "end"
    assert last.data["status"] == "completed"
    assert last.data["completed_jobs"] == 3
    assert last.data["progress_percentage"] == 100.0


async def test_last_event_id_resumes_after_that_event(app, database):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, jobs = await add_batch(session, account, jobs=2)
    await _finish_job(database, jobs[0].id)
    await _finish_job(database, jobs[1].id)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key}
    ) as c:
        # The batch is over: the stream replays from the cursor and ends.
        full = await c.get(f"/api/v1/batches/{batch.id}/events", headers={"Last-Event-ID": "0"})
        events = [e async for e in read_events(full)]
        progress = [e for e in events if e.event == "job.status"]
        assert len(progress) == 6
        resume_from = progress[2].id  # the first job's completion

        resumed = await c.get(
            f"/api/v1/batches/{batch.id}/events", headers={"Last-Event-ID": resume_from}
        )
        again = [e async for e in read_events(resumed)]

    assert [e.id for e in again if e.event == "job.status"] == [e.id for e in progress[3:]]
    assert again[-1].event == "end"


async def test_finished_batch_without_cursor_sends_snapshot_and_end(app, database):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, jobs = await add_batch(session, account, jobs=1)
    await _finish_job(database, jobs[0].id)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key}
    ) as c:
        response = await c.get(f"/api/v1/batches/{batch.id}/events")
    events = [e async for e in read_events(response)]
    assert [e.event for e in events] == ["status", "end"]
    assert events[-1].data["status"] == "completed"


async def test_stream_needs_a_header_key_and_hides_other_accounts(app, database, client):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, _ = await add_batch(session, account, jobs=1)
        _, other_key = await add_account(session)

    anonymous = await client.get(f"/api/v1/batches/{batch.id}/events")
    assert anonymous.status_code == 401
    # A key in the query string would leak into access logs: it is not accepted.
    in_query = await client.get(f"/api/v1/batches/{batch.id}/events", params={"key": key})
    assert in_query.status_code == 401

    other = await client.get(f"/api/v1/batches/{batch.id}/events", headers={"X-API-Key": other_key})
    assert other.status_code == 404
    assert other.json()["error"] == "NotFound"

    missing = await client.get("/api/v1/batches/batch-nope/events", headers={"X-API-Key": key})
    assert missing.status_code == 404


async def test_bad_last_event_id_is_a_clear_422(app, database, client):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, _ = await add_batch(session, account, jobs=1)
    response = await client.get(
        f"/api/v1/batches/{batch.id}/events",
        headers={"X-API-Key": key, "Last-Event-ID": "abc"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "Last-Event-ID"
