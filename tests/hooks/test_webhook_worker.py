"""Outbound webhooks delivered by a real worker process: nothing is lost when the worker
is SIGKILLed in the middle of a POST, and every event keeps its one id."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dialer.account.auth import Principal
from dialer.config import Settings
from dialer.db.session import Database
from dialer.hooks import service
from dialer.hooks.delivery import Deliverer
from dialer.hooks.outbox import enqueue
from dialer.hooks.schemas import SubscriptionCreate
from dialer.models import WebhookDelivery
from tests.factories import make_account
from tests.fixtures.workers import WorkerProcesses, set_clock
from tests.hooks.receiver import HANG, Receiver

pytestmark = pytest.mark.slow

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def statuses(db: Database) -> list[str]:
    async with db.read() as s:
        return list((await s.execute(select(WebhookDelivery.status))).scalars().all())


async def test_no_event_lost_or_renamed_across_a_worker_sigkill(
    database: Database, settings: Settings, workers: WorkerProcesses, receiver: Receiver
) -> None:
    set_clock(workers.clock_file, T0)
    acc = await make_account(database)
    async with database.write() as s:
        await service.create_subscription(
            s, Principal(is_admin=True), acc,
            SubscriptionCreate(url=receiver.url, events=["call.completed"]), settings,
        )  # fmt: skip
        ids = [
            await enqueue(s, account_id=acc, type="call.completed", at=T0, data={"n": i})
            for i in range(20)
        ]
    receiver.script.append(HANG)  # the first POST never gets an answer
    env = {"WEBHOOKS_ALLOW_PRIVATE": "true", "WEBHOOK_TIMEOUT": "PT30S"}
    [first] = workers.start(1, **env)
    assert await asyncio.to_thread(receiver.got_request.wait, 60)
    workers.kill9(first)  # mid-POST: the deliveries it leased stay leased
    assert len(receiver.received) == 1

    assert await statuses(database) == ["pending"] * 20  # leased by the dead worker
    # Another worker (the same deliverer, in this process) takes over once the lease
    # has expired.
    survivor = Deliverer(database, settings)
    try:
        assert await survivor.run_once(T0 + timedelta(seconds=59)) == 0  # still leased
        assert await survivor.run_once(T0 + timedelta(seconds=61)) == 20
    finally:
        await survivor.aclose()
    assert await statuses(database) == ["delivered"] * 20
    assert workers.stop() == [-9]
    by_id: dict[str, set[bytes]] = {}
    for r in receiver.received:
        by_id.setdefault(json.loads(r.body)["id"], set()).add(r.body)
        assert r.headers["dialer-event-id"] == json.loads(r.body)["id"]
    assert sorted(by_id) == sorted(ids)  # every event arrived
    assert all(len(bodies) == 1 for bodies in by_id.values())  # one id, one body
    # Only the POST cut short by the kill was repeated (same id: receivers dedupe on it).
    assert len(receiver.received) == 21
    hung = json.loads(receiver.received[0].body)["id"]
    assert [json.loads(r.body)["id"] for r in receiver.received].count(hung) == 2
