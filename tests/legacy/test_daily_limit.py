"""The replaced system's ``daily_call_limit`` (its AccountModel: at most N calls a day,
``calls_today`` counted per call, reset daily) set through ``/legacy`` and enforced by
the claim on the account's clock, across its batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dialer.db.session import Database
from dialer.job.states import Outcome
from dialer.kit.clock import FrozenClock
from dialer.models import Batch
from dialer.worker.claim import has_claimable_work
from tests.compliance.test_dial_time import claim, end_call
from tests.factories import cl_cobranza_settings, make_debtor_batch

L = "/legacy/api/v1"
SANTIAGO = ZoneInfo("America/Santiago")
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=SANTIAGO).astimezone(UTC)
TUESDAY = datetime(2026, 3, 3, 0, 0, tzinfo=SANTIAGO).astimezone(UTC)


async def test_daily_call_limit_holds_across_batches_until_midnight(
    admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(MONDAY_NOON)
    r = await admin.post(f"{L}/accounts", json={
        "account_name": "Cobranzas Sur", "plan_type": "minutes_based", "initial_minutes": 500,
        "max_concurrent_calls": 10, "daily_call_limit": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    acc = r.json()["account"]["account_id"]
    assert r.json()["account"]["daily_call_limit"] == 2
    now = MONDAY_NOON
    one = await make_debtor_batch(database, acc, [(None, ["+56987654321"]), (None, ["+56987654322"])],
                           now=now, settings=cl_cobranza_settings())  # fmt: skip
    two = await make_debtor_batch(database, acc, [(None, ["+56987654323"]), (None, ["+56987654324"])],
                           now=now, settings=cl_cobranza_settings())  # fmt: skip

    first = await claim(database, now)
    assert len(first) == 2  # room for 10 at once, but 2 a day
    assert await claim(database, now + timedelta(minutes=1)) == []
    async with database.read() as s:
        # The batch whose jobs still wait says why, and until when.
        waiting = await s.get(Batch, two if {j.batch_id for j in first} == {one} else one)
        assert waiting is not None
        assert (waiting.waiting_reason, waiting.waiting_until) == ("daily_limit", TUESDAY)
        # Nothing to claim until midnight: the worker does not even open a write.
        assert not await has_claimable_work(s, now + timedelta(minutes=2))

    # Ended calls still count for the day.
    for job in first:
        await end_call(database, job, Outcome.COMPLETED, now + timedelta(minutes=2))
    assert await claim(database, now + timedelta(minutes=10)) == []
    doc = (await admin.get(f"{L}/accounts/{acc}")).json()
    assert (doc["daily_call_limit"], doc["calls_today"]) == (2, 2)
    stats = (await admin.get(f"{L}/accounts/{acc}/stats")).json()
    assert (stats["daily_limit"], stats["calls_today"]) == (2, 2)

    # A higher limit holds from the next claim.
    p = await admin.patch(f"{L}/accounts/{acc}", json={"daily_call_limit": 3})
    assert p.status_code == 200, p.text
    assert len(await claim(database, now + timedelta(minutes=11))) == 1
    assert await claim(database, now + timedelta(minutes=12)) == []

    # The account's next day: the count starts again (the call still on the line counts).
    tuesday_9 = TUESDAY + timedelta(hours=9)
    assert len(await claim(database, tuesday_9)) == 1
    async with database.read() as s:
        assert {(await s.get(Batch, b)).waiting_reason for b in (one, two)} == {None}  # type: ignore[union-attr]

    cleared = await admin.patch(f"{L}/accounts/{acc}", json={"daily_call_limit": None})
    assert cleared.json()["account"]["daily_call_limit"] is None
    bad = await admin.patch(f"{L}/accounts/{acc}", json={"daily_call_limit": 0})
    assert bad.status_code == 422
    assert "daily_call_limit" in bad.json()["field"]
