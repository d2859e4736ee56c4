"""A callback the debtor asked for is an attempt like any other for the per-contact caps:
due at the requested time, it still waits when the debtor's day (or week) is used up,
and then goes out at the next opening of the calling window."""

from __future__ import annotations

from typing import Any

import httpx

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt, Job
from tests.collection.test_loop import (
    ANSWER,
    WED_11,
    account_with_balance,
    local,
    rows,
    run_until,
    worker_for,
)
from tests.factories import api_debtor_batch, debtor, rut


def callback_at(iso: str) -> dict[str, Any]:
    return {"outcome": "completed", "business_result": "call_back_later",
            "extracted": {"callback_at": iso}}  # fmt: skip


async def test_a_callback_counts_toward_the_daily_and_weekly_caps(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)  # Wednesday 2 December 2026, 11:00 in Santiago
    acc = await account_with_balance(admin)
    await api_debtor_batch(admin, acc, [debtor(1)],
                   collections={"callbacks": True, "max_callbacks": 3},
                   max_calls_per_contact_per_day=1, max_calls_per_contact_per_week=2,
                   retry_settings={"max_attempts": 5, "retry_delay_hours": 1})  # fmt: skip
    worker = worker_for(database, settings, frozen_clock, n1=[
        callback_at("2026-12-02T15:00:00-03:00"),  # "call me back at three today"
        callback_at("2026-12-04T10:00:00-03:00"),  # "on Friday at ten"
        ANSWER,
    ])  # fmt: skip

    async def job() -> Job:
        [j] = await rows(database, Job, Job.dni == rut(1))
        return j

    async def ended() -> list[CallAttempt]:
        got = await rows(database, CallAttempt, CallAttempt.status == "ended")
        return sorted(got, key=lambda a: a.number)

    async def settled(n: int) -> bool:
        return len(await ended()) == n

    async def waits_for(reason: str) -> bool:
        return (await job()).wait_reason == reason

    await run_until(worker, lambda: settled(1))
    j = await job()
    assert (j.status, j.wait_reason, j.next_attempt_at) == (
        "scheduled", "callback", local(2026, 12, 2, 15, 0))  # fmt: skip

    # 15:00: the callback is due, but the debtor had their one call of the day.
    frozen_clock.set(local(2026, 12, 2, 15, 0))
    await run_until(worker, lambda: waits_for("compliance_daily_cap"))
    j = await job()
    assert (j.attempts, j.next_attempt_at) == (1, local(2026, 12, 3, 9, 0))  # next opening
    assert len(await ended()) == 1

    frozen_clock.set(local(2026, 12, 3, 9, 0))
    await run_until(worker, lambda: settled(2))
    assert (await ended())[1].started_at == local(2026, 12, 3, 9, 0)
    assert (await job()).next_attempt_at == local(2026, 12, 4, 10, 0)  # Friday's callback

    # Friday 10:00: two calls this week already (Wednesday's and Thursday's callback).
    frozen_clock.set(local(2026, 12, 4, 10, 0))
    await run_until(worker, lambda: waits_for("compliance_weekly_cap"))
    j = await job()
    # Monday's opening (the window is Monday to Saturday, 09:00-20:00).
    assert (j.attempts, j.next_attempt_at) == (2, local(2026, 12, 7, 9, 0))

    frozen_clock.set(local(2026, 12, 7, 9, 0))
    await run_until(worker, lambda: settled(3))
    third = (await ended())[2]
    assert third.started_at == local(2026, 12, 7, 9, 0)
    assert (await job()).status == "completed"
