"""What the worker promises about stopping, races and its side tasks (in-process, the
simulated carrier, the real database)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dialer.billing.service import BalanceMoved
from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt
from dialer.worker import runner
from dialer.worker.runner import POLL_JITTER, SideTaskDied, Worker
from tests.factories import call_settings, make_account, make_batch


class LogRecorder:
    """Stands in for the worker's logger: (level, event) of every call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *args: Any, **kw: Any) -> None:
            self.events.append((level, event))

        return record


def fast(settings: Settings, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "SIM_SPEEDUP": 1,  # calls last their simulated length: they stay on the line
        "POLL_INTERVAL": timedelta(milliseconds=20),
        "WORKER_CONCURRENCY": 4,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


async def test_shutdown_waits_for_the_save_of_a_placed_call_before_returning(
    database: Database, settings: Settings, frozen_clock: FrozenClock, monkeypatch: Any
) -> None:
    """A call the provider accepted is recorded even when its task is cancelled at
    shutdown: ``run`` returns only after the (shielded) save has committed."""
    acc = await make_account(database, cap=1)
    await make_batch(database, acc, jobs=1, now=frozen_clock.now(), settings=call_settings())
    worker = Worker(database, fast(settings), clock=frozen_clock)
    monkeypatch.setattr(runner, "SHUTDOWN_TIMEOUT", 0.01)  # call tasks are cancelled at once
    saving, release = asyncio.Event(), asyncio.Event()
    original = worker._mark_many

    async def slow_save(placed: list[tuple[str, str]]) -> Any:
        saving.set()
        await release.wait()  # the database answers after the call task was cancelled
        return await original(placed)

    worker._marks._fn = slow_save
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(saving.wait(), 10)
    stop.set()
    # The save is let through only once shutdown has cancelled the call task.
    call_tasks = set(worker._tasks)
    await asyncio.wait_for(asyncio.gather(*call_tasks, return_exceptions=True), 10)
    assert all(t.cancelled() for t in call_tasks)
    assert [t for t in worker._saves if not t.done()]  # the save outlived its call task
    release.set()
    await asyncio.wait_for(task, 10)
    # ``run`` returned (the process would now close the database): the call is recorded.
    async with database.read() as s:
        status, call_id = (
            await s.execute(select(CallAttempt.status, CallAttempt.provider_call_id))
        ).one()
    assert status == AttemptStatus.IN_PROGRESS
    assert call_id


async def test_a_balance_that_moved_during_a_claim_is_claimed_again_not_logged_as_failure(
    database: Database, settings: Settings, frozen_clock: FrozenClock, monkeypatch: Any
) -> None:
    acc = await make_account(database, cap=5)
    await make_batch(database, acc, jobs=3, now=frozen_clock.now(), settings=call_settings())
    worker = Worker(database, fast(settings), clock=frozen_clock)
    real_claim = runner.claim_due_jobs
    raced = 0

    async def claim_once_raced(session: Any, **kw: Any) -> Any:
        nonlocal raced
        if not raced:
            raced += 1
            raise BalanceMoved(acc)  # a concurrent charge between read and reservation
        return await real_claim(session, **kw)

    monkeypatch.setattr(runner, "claim_due_jobs", claim_once_raced)
    logs = LogRecorder()
    monkeypatch.setattr(runner, "log", logs)
    stop = asyncio.Event()
    again = await worker._claim_round(stop)
    claimed_next = await worker._claim_round(stop)
    assert again  # the loop goes round again at once instead of sleeping a poll
    assert claimed_next == 0  # fewer than a full claim: nothing more is due
    assert len(worker._tasks) == 3  # all three jobs claimed
    assert ("info", "worker.claim_raced") in logs.events
    assert not [e for e in logs.events if e[1] == "worker.claim_failed"]
    stop.set()
    await worker._shutdown([])


async def test_a_side_task_that_dies_stops_the_worker(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    """A dispatcher without its carrier (or rescuer, heartbeat...) must not go on half
    alive: the worker stops by itself and says which task died."""
    worker = Worker(database, fast(settings), clock=frozen_clock)

    async def broken_carrier(stop: asyncio.Event, sim: Any) -> None:
        raise RuntimeError("carrier bug")

    worker._carrier = broken_carrier  # type: ignore[method-assign]
    stop = asyncio.Event()  # never set by the test
    with pytest.raises(SideTaskDied, match="carrier"):
        await asyncio.wait_for(worker.run(stop), 20)
    assert stop.is_set()


async def test_a_failed_round_of_a_side_task_is_logged_and_the_task_goes_on(
    database: Database, settings: Settings, frozen_clock: FrozenClock, monkeypatch: Any
) -> None:
    worker = Worker(database, fast(settings), clock=frozen_clock)
    rounds = 0
    second_round = asyncio.Event()

    async def flaky() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("database is locked")
        second_round.set()

    logs = LogRecorder()
    monkeypatch.setattr(runner, "log", logs)
    stop = asyncio.Event()
    task = asyncio.create_task(worker._every(stop, 0.01, flaky))
    await asyncio.wait_for(second_round.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert logs.events == [("exception", "worker.side_task_failed")]


def test_waits_are_jittered_around_the_poll_interval(settings: Settings) -> None:
    worker = Worker(None, settings)  # type: ignore[arg-type]
    worker._rng = random.Random(15)
    waits = [worker.jittered(1.0) for _ in range(500)]
    assert all(1 - POLL_JITTER <= w <= 1 + POLL_JITTER for w in waits)
    # Spread over the whole band: workers started together drift apart.
    assert min(waits) < 1 - POLL_JITTER * 0.9
    assert max(waits) > 1 + POLL_JITTER * 0.9
