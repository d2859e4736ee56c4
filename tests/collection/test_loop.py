"""The collections loop end to end: the simulated provider reports each business result
(SIM_SCRIPT), a worker settles it, and what follows is checked in the rows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt, Job, Payment
from dialer.worker.runner import Worker
from tests.account.helpers import create_account
from tests.collection.helpers import batch_of, debtor, rut
from tests.fixtures.workers import eventually

SCL = ZoneInfo("America/Santiago")
# Wednesday 2 December 2026, 11:00 in Santiago.
WED_11 = datetime(2026, 12, 2, 11, 0, tzinfo=SCL)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SCL).astimezone(UTC)  # type: ignore[misc]


def phone(n: int) -> str:
    return f"+5699{n:07d}"


def worker_for(database: Database, settings: Settings, clock: FrozenClock, **script: Any) -> Worker:
    s = settings.model_copy(
        update={
            "SIM_SPEEDUP": 0,
            "POLL_INTERVAL": timedelta(milliseconds=20),
            "WORKER_CONCURRENCY": 10,
            "SIM_SCRIPT": {phone(int(k.removeprefix("n"))): v for k, v in script.items()},
        }
    )
    return Worker(database, s, clock=clock)


async def run_until(worker: Worker, done: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(done, within=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def account_with_balance(admin: httpx.AsyncClient) -> str:
    acc = (await create_account(admin))["account_id"]
    r = await admin.post(f"/api/v1/accounts/{acc}/topup", json={"minutes": 1000})
    assert r.status_code in (200, 201), r.text
    return acc


async def rows(database: Database, model: Any, *where: Any) -> list[Any]:
    async with database.read() as s:
        out = list((await s.execute(select(model).where(*where))).scalars().all())
        s.expunge_all()
        return out


ANSWER = {"outcome": "completed", "business_result": "refused"}
NO_ANSWER = {"outcome": "no_answer"}


async def test_a_payment_import_stops_the_debtors_calls_in_two_batches(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    hourly = {"retry_settings": {"max_attempts": 3, "retry_delay_hours": 1,
                                 "per_outcome": {"no_answer": {"delay_hours": 1}}}}  # fmt: skip
    first = await batch_of(admin, acc, [debtor(1, 90_000), debtor(2)], **hourly)
    second = await batch_of(admin, acc, [debtor(1, 90_000), debtor(3)], **hourly)
    worker = worker_for(database, settings, frozen_clock, n1=[NO_ANSWER], n2=[NO_ANSWER],
                        n3=[NO_ANSWER])  # fmt: skip

    async def all_dialed_once() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 4

    await run_until(worker, all_dialed_once)  # every job waits for its retry in an hour

    r = await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[{"rut": rut(1), "amount": "$90.000", "date": "02/12/2026", "reference": "T-77"}],
    )
    assert r.status_code == 200, r.text
    assert r.json()["jobs_cancelled"] == 2

    frozen_clock.set(WED_11 + timedelta(hours=2))  # the retries are due

    async def others_dialed_again() -> bool:
        ended = await rows(database, CallAttempt, CallAttempt.status == "ended")
        return len(ended) == 6

    await run_until(worker, others_dialed_again)
    attempts = await rows(database, CallAttempt)
    by_phone: dict[str, int] = {}
    for a in attempts:
        by_phone[a.phone] = by_phone.get(a.phone, 0) + 1
    # The paid debtor was dialed once per batch before the payment, never after.
    assert by_phone == {phone(1): 2, phone(2): 2, phone(3): 2}
    paid = await rows(database, Job, Job.dni == rut(1))
    assert {(j.batch_id, j.status, j.result.get("cancelled_reason")) for j in paid} == {
        (first["batch_id"], "cancelled", "paid"),
        (second["batch_id"], "cancelled", "paid"),
    }
    [payment] = await rows(database, Payment)
    assert sorted(payment.matched_jobs) == sorted(j.id for j in paid)
