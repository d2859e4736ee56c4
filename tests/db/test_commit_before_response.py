"""The API commits a write before it answers (``db/session.py``): a client that got a 2xx
sees its write on the very next request, and a commit that fails answers an error, never
a 2xx. Over real HTTP (a uvicorn server in this process), on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from dialer.db.session import Database
from tests.conftest import ADMIN_KEY
from tests.factories import api_account, api_batch
from tests.fixtures.servers import serve


@pytest.fixture
async def live(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The test's app served by uvicorn on a local port; an admin client speaking to it."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    # What is measured is what the client sees, not how fast: a loaded machine may take
    # more than httpx's default 5 s to answer twelve concurrent writes on SQLite.
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c,
    ):
        yield c


ROUNDS = 12


async def test_a_created_batch_is_there_on_the_next_request(live: httpx.AsyncClient) -> None:
    await api_account(live, account_id="ryw", initial_minutes=100)

    async def create_then_get(i: int) -> int:
        batch = await api_batch(live, "ryw", jobs=2, name=f"b{i}")
        return (await live.get(f"/api/v1/batches/{batch['batch_id']}")).status_code

    assert await asyncio.gather(*(create_then_get(i) for i in range(ROUNDS))) == [200] * ROUNDS


async def test_a_pause_and_a_topup_are_seen_by_the_next_request(live: httpx.AsyncClient) -> None:
    await api_account(live, account_id="ryw", initial_minutes=1)
    batches = [(await api_batch(live, "ryw", jobs=1))["batch_id"] for _ in range(ROUNDS)]

    async def pause_then_get(batch_id: str) -> str:
        r = await live.post(f"/api/v1/batches/{batch_id}/pause")
        assert r.status_code == 200, r.text
        return str((await live.get(f"/api/v1/batches/{batch_id}")).json()["status"])

    async def topup_then_get(i: int) -> bool:
        r = await live.post(
            "/api/v1/accounts/ryw/topup", json={"minutes": 1, "idempotency_key": f"t{i}"}
        )
        assert r.status_code == 200, r.text
        after = r.json()["balance"]["balance_units"]
        # Topups run concurrently: the balance read next is at least what this one left.
        return bool(
            (await live.get("/api/v1/accounts/ryw/balance")).json()["balance_units"] >= after
        )

    paused, seen = await asyncio.gather(
        asyncio.gather(*(pause_then_get(b) for b in batches)),
        asyncio.gather(*(topup_then_get(i) for i in range(ROUNDS))),
    )
    assert paused == ["paused"] * ROUNDS
    assert seen == [True] * ROUNDS


class FailingCommits:
    """While on, every COMMIT of the database's write connections fails, as a lost
    connection or a 'database is locked' would, after the endpoint has returned."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine.sync_engine
        self.failed = 0
        event.listen(self.engine, "commit", self._fail)

    def _fail(self, conn: Any) -> None:
        self.failed += 1
        raise OperationalError("COMMIT", {}, Exception("the connection was lost"))

    def off(self) -> None:
        if event.contains(self.engine, "commit", self._fail):
            event.remove(self.engine, "commit", self._fail)


async def test_a_commit_that_fails_answers_an_error_and_writes_nothing(
    live: httpx.AsyncClient, database: Database
) -> None:
    await api_account(live, account_id="ryw", initial_minutes=5)
    commits = FailingCommits(database)
    try:
        r = await live.post("/api/v1/accounts/ryw/topup", json={"minutes": 7})
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "CommitFailed"
        body = {"account_name": "X", "country": "CL", "account_id": "lost"}
        assert (await live.post("/api/v1/accounts", json=body)).status_code == 503
        assert commits.failed == 2
    finally:
        commits.off()
    assert (await live.get("/api/v1/accounts/ryw/balance")).json()["minutes"] == 5
    assert (await live.get("/api/v1/accounts/lost")).status_code == 404
    # The same requests succeed once commits do.
    assert (await live.post("/api/v1/accounts/ryw/topup", json={"minutes": 7})).status_code == 200
    assert (await live.get("/api/v1/accounts/ryw/balance")).json()["minutes"] == 12
