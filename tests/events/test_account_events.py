"""The account stream: GET /api/v1/accounts/{id}/events and the overview's stream.

Both follow the ``events`` outbox of one account, so a change committed by any process
(a worker settling a call, another API instance) reaches the stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from dialer.job.service import transition
from dialer.job.states import JobStatus
from dialer.models import Job
from tests.dashboard.helpers import login
from tests.events.sse import Sse, read_events
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    add_account,
    add_batch,
    add_user,
    call_settings,
    make_batch,
)
from tests.fixtures.servers import serve
from tests.fixtures.workers import WorkerProcesses, set_clock

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 12:00 in Santiago, a Tuesday


async def _until(events: AsyncIterator[Sse], wanted: Any, *, within: float = 60) -> list[Sse]:
    """Read events until one satisfies ``wanted``; return all read (that one last)."""
    got: list[Sse] = []

    async def read() -> None:
        async for ev in events:
            got.append(ev)
            if wanted(ev):
                return
        raise AssertionError(f"stream ended before the event: {got}")

    await asyncio.wait_for(read(), within)
    return got


async def _finish(db: Database, job_id: str) -> None:
    for status in (JobStatus.DIALING, JobStatus.IN_PROGRESS, JobStatus.COMPLETED):
        async with db.write() as session:
            job = await session.get(Job, job_id)
            assert job is not None
            await transition(session, job, status, last_outcome="completed")


@pytest.mark.slow
async def test_the_stream_gets_a_call_a_worker_process_settled_and_another_apis_change(
    app: Any,
    database: Database,
    workers: WorkerProcesses,
    second_api: httpx.AsyncClient,
) -> None:
    set_clock(workers.clock_file, T0)
    async with database.write() as s:
        account, key = await add_account(s, max_concurrent_calls=5)
        other, _ = await add_account(s)
        account_id, other_id = account.id, other.id
    # The answered call ends its job (no callback or promise follow-up waits): the stream
    # is waited on for that "completed".
    ends = call_settings(collections=ENDS_WITH_LAST_CALL)
    batch = await make_batch(database, account_id, jobs=1, now=T0, settings=ends)
    await make_batch(database, other_id, jobs=1, now=T0, settings=call_settings())
    auth = {"X-API-Key": key}

    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url, headers=auth, timeout=60) as c,
        c.stream("GET", f"/api/v1/accounts/{account_id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        [ready] = await _until(events, lambda e: True)
        assert ready.event == "ready"
        assert ready.data["account_id"] == account_id

        # A worker process dials and settles the call (simulated provider).
        workers.start(1, SIM_OUTCOMES=json.dumps({"completed": 1}))
        got = await _until(
            events,
            lambda e: e.event == "job.status" and e.data["data"].get("status") == "completed",
        )
        # Another API process changes the account: the stream of this one hears it.
        r = await second_api.patch(
            f"/api/v1/accounts/{account_id}",
            json={"account_name": "Cobranzas Norte"},
            headers={"X-API-Key": app.state.admin_key},
        )
        assert r.status_code == 200, r.text
        got += await _until(events, lambda e: e.event == "account.updated")

    assert {e.data["batch_id"] for e in got if e.event.startswith("job.")} == {batch}
    statuses = [e.data["data"]["status"] for e in got if e.event == "job.status"]
    assert statuses[-1] == "completed"
    ids = [int(e.id) for e in got if e.id]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    assert int(ids[0]) > int(ready.id)  # nothing from before the cursor
    # Only this account's events: the other account's call was settled meanwhile too.
    assert all(e.data.get("batch_id") in (batch, None) for e in got)


async def test_account_stream_auth_tenant_and_resume(app: Any, database: Database) -> None:
    async with database.write() as s:
        account, key = await add_account(s)
        batch, jobs = await add_batch(s, account, jobs=2)
        _other, other_key = await add_account(s)
        account_id = account.id
    path = f"/api/v1/accounts/{account_id}/events"
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as c:
        assert (await c.get(path)).status_code == 401
        assert (await c.get(path, params={"key": key})).status_code == 401  # never in the URL
        other = await c.get(path, headers={"X-API-Key": other_key})
        assert other.status_code == 404
        assert other.json()["error"] == "NotFound"
        missing = await c.get("/api/v1/accounts/acc-nope/events", headers={"X-API-Key": key})
        assert missing.status_code == 404

        await _finish(database, jobs[0].id)
        # Resuming from 0 replays the account's history, in order, then follows it live.
        async with c.stream("GET", path, headers={"X-API-Key": key, "Last-Event-ID": "0"}) as r:
            events = read_events(r)
            first = await _until(
                events,
                lambda e: (
                    e.event == "batch.completed"
                    or (e.event == "job.status" and e.data["data"].get("status") == "completed")
                ),
            )
            assert first[0].event == "ready"
            resume_at = first[-1].id
            await _finish(database, jobs[1].id)
            live = await _until(events, lambda e: e.event == "batch.completed")
        async with c.stream(
            "GET", path, headers={"X-API-Key": key, "Last-Event-ID": resume_at}
        ) as r:
            again = await _until(read_events(r), lambda e: e.event == "batch.completed")
    assert [e.id for e in again[1:]] == [e.id for e in live]
    assert {e.data["job_id"] for e in live if e.event == "job.status"} == {jobs[1].id}
    assert batch.id in {e.data["batch_id"] for e in live}


async def test_the_overview_is_redrawn_live_after_a_call_settles(
    app: Any, database: Database
) -> None:
    async with database.write() as s:
        account, _key = await add_account(s)
        _batch, jobs = await add_batch(s, account, jobs=3)
        viewer = (await add_user(s, account, "viewer")).username
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as c:
        assert (await login(c, viewer)).status_code == 303
        page = await c.get("/dashboard/")
        assert 'sse-connect="/dashboard/overview/stream"' in page.text
        assert 'hx-trigger="every' not in page.text  # no polling while the stream is up
        assert 'data-card="pending_jobs">3<' in page.text
        async with c.stream("GET", "/dashboard/overview/stream") as r:
            assert r.status_code == 200
            await _finish(database, jobs[0].id)
            got = await _until(
                _raw_events(r), lambda e: 'data-card="pending_jobs">2<' in e[1], within=30
            )
    name, html = got[-1]
    assert name == "overview"
    assert "<html" not in html  # the block alone, swapped into the page


async def _raw_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of an HTML-carrying stream (data is not JSON)."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
