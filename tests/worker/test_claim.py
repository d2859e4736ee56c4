"""Conformance suite of ``claim_due_jobs``: the same contract on SQLite and PostgreSQL
(run the file with TEST_DATABASE_URL for the second)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from dialer.db.session import Database
from dialer.job.states import AttemptStatus, JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Account, AccountStatus, Batch, BatchStatus, CallAttempt, Job, LedgerEntry
from dialer.worker.claim import claim_due_jobs, has_claimable_work
from tests.factories import (
    account_row,
    batch_row,
    call_settings,
    ledger_sum,
    make_account,
    make_batch,
)

LEASE = timedelta(seconds=60)


async def claim(db: Database, now: datetime, limit: int = 50, worker: str = "w1") -> list:
    async with db.write() as s:
        return await claim_due_jobs(s, worker_id=worker, now=now, limit=limit, lease=LEASE)


async def test_claims_due_jobs_with_lease_attempt_and_reservation(
    database: Database, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    acc = await make_account(database, cap=10, minutes=100)
    batch = await make_batch(database, acc, jobs=3, now=now)
    before = await ledger_sum(database, acc)

    claimed = await claim(database, now)

    assert len(claimed) == 3
    assert len({c.attempt_id for c in claimed}) == 3
    async with database.read() as s:
        jobs = (await s.execute(select(Job).where(Job.batch_id == batch))).scalars().all()
        attempts = (await s.execute(select(CallAttempt))).scalars().all()
        assert {j.status for j in jobs} == {JobStatus.DIALING}
        assert all(j.attempts == 1 and j.lease_expires_at == now + LEASE for j in jobs)
        assert {a.id for a in attempts} == {j.current_attempt_id for j in jobs}
        phones = {j.id: j.phones[0] for j in jobs}
        assert all(a.status == AttemptStatus.DIALING for a in attempts)
        assert all(a.phone == phones[a.job_id] and a.reserved_units == 300 for a in attempts)
    # 300 s held per call on a minutes plan (balance counts seconds).
    assert await ledger_sum(database, acc) == before - 3 * 300
    assert (await account_row(database, acc)).balance == before - 3 * 300
    b = await batch_row(database, batch)
    assert (b.in_progress_jobs, b.pending_jobs) == (3, 3)
    # Nothing left: a second claim is empty, and never re-claims in-flight jobs.
    assert await claim(database, now, worker="w2") == []


async def test_batch_and_account_caps_hold(database: Database, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    acc = await make_account(database, cap=8)
    b1 = await make_batch(
        database, acc, jobs=20, now=now, settings=call_settings(max_concurrent_calls=5)
    )
    b2 = await make_batch(
        database, acc, jobs=20, now=now, settings=call_settings(max_concurrent_calls=5)
    )

    first = await claim(database, now, limit=3)
    rest = await claim(database, now, limit=50)
    again = await claim(database, now, limit=50)

    assert len(first) == 3
    assert len(first) + len(rest) == 8  # the account cap binds
    assert again == []
    per_batch = {b1: 0, b2: 0}
    for c in first + rest:
        per_batch[c.batch_id] += 1
    assert max(per_batch.values()) <= 5


async def test_closed_window_snoozes_without_touching_jobs(
    database: Database, frozen_clock: FrozenClock
) -> None:
    # Monday 2026-03-02 15:00 UTC = 12:00 in Santiago (UTC-3): a 13:00-14:00 window is closed.
    now = frozen_clock.now()
    acc = await make_account(database)
    batch = await make_batch(
        database, acc, jobs=2, now=now,
        settings=call_settings(allowed_call_hours={"start": "13:00", "end": "14:00"}),
    )  # fmt: skip

    assert await claim(database, now) == []

    b = await batch_row(database, batch)
    assert b.waiting_reason == "outside_window"
    assert b.waiting_until == datetime.fromisoformat("2026-03-02T16:00:00+00:00")
    async with database.read() as s:
        jobs = (await s.execute(select(Job).where(Job.batch_id == batch))).scalars().all()
        assert all(j.status == JobStatus.PENDING and j.attempts == 0 for j in jobs)
    # At the opening the same jobs are claimed and the reason clears.
    assert len(await claim(database, b.waiting_until)) == 2
    assert (await batch_row(database, batch)).waiting_reason is None


async def test_suspended_paused_cancelled_are_skipped(
    database: Database, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    suspended = await make_account(database, status=AccountStatus.SUSPENDED)
    b_susp = await make_batch(database, suspended, jobs=2, now=now)
    acc = await make_account(database)
    b_paused = await make_batch(database, acc, jobs=2, now=now)
    b_cancel = await make_batch(database, acc, jobs=2, now=now)
    async with database.write() as s:
        await s.execute(update(Batch).where(Batch.id == b_paused).values(status=BatchStatus.PAUSED))
        await s.execute(
            update(Batch)
            .where(Batch.id == b_cancel)
            .values(status=BatchStatus.CANCELLED, is_active=False)
        )

    assert await claim(database, now) == []
    assert (await batch_row(database, b_susp)).waiting_reason == "account_suspended"

    async with database.write() as s:
        await s.execute(
            update(Account).where(Account.id == suspended).values(status=AccountStatus.ACTIVE)
        )
    assert {c.batch_id for c in await claim(database, now)} == {b_susp}


async def test_short_balance_claims_fewer_and_says_why(
    database: Database, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    acc = await make_account(database, minutes=12)  # 720 s: two holds of 300 s
    batch = await make_batch(database, acc, jobs=5, now=now)

    claimed = await claim(database, now)

    assert len(claimed) == 2
    assert (await batch_row(database, batch)).waiting_reason == "insufficient_balance"
    assert (await account_row(database, acc)).balance == 120
    async with database.read() as s:
        kinds = (
            (await s.execute(select(LedgerEntry.kind).where(LedgerEntry.account_id == acc)))
            .scalars()
            .all()
        )
    assert sorted(map(str, kinds)) == ["reservation", "reservation", "topup"]


async def test_priority_and_due_order(database: Database, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    acc = await make_account(database, cap=2)
    low = await make_batch(database, acc, jobs=3, now=now, priority=0)
    high = await make_batch(database, acc, jobs=3, now=now, priority=5)
    async with database.write() as s:
        await s.execute(
            update(Job).where(Job.batch_id == low).values(next_attempt_at=now + timedelta(hours=1))
        )

    claimed = await claim(database, now)

    assert {c.batch_id for c in claimed} == {high}
    assert len(claimed) == 2


async def claimable(db: Database, now: datetime) -> bool:
    async with db.read() as s:
        return await has_claimable_work(s, now)


class TestHasClaimableWork:
    """The runner's cheap read before a claim: it must never say "nothing" when a claim
    would take a call, and says "nothing" only when every due batch is held."""

    async def test_nothing_due_then_a_due_job(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        assert not await claimable(database, now)  # no batch at all
        acc = await make_account(database)
        await make_batch(database, acc, jobs=1, now=now + timedelta(hours=1))
        assert not await claimable(database, now)  # due only in an hour
        assert await claimable(database, now + timedelta(hours=1))
        await make_batch(database, acc, jobs=1, now=now)
        assert await claimable(database, now)

    async def test_batch_cap_and_account_cap_reached(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        acc = await make_account(database, cap=10)
        batch = await make_batch(
            database, acc, jobs=4, now=now, settings=call_settings(max_concurrent_calls=2)
        )
        assert len(await claim(database, now)) == 2
        assert not await claimable(database, now)  # the batch is at its 2 lines
        other = await make_account(database, cap=1)
        await make_batch(database, other, jobs=2, now=now)
        assert await claimable(database, now)
        assert {c.batch_id for c in await claim(database, now)} != {batch}
        assert not await claimable(database, now)  # the other account is at its 1 line

    async def test_closed_window_is_claimable_until_the_claim_recorded_why(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()  # 12:00 in Santiago
        acc = await make_account(database)
        await make_batch(
            database, acc, jobs=1, now=now,
            settings=call_settings(allowed_call_hours={"start": "13:00", "end": "14:00"}),
        )  # fmt: skip
        assert await claimable(database, now)  # a claim must record the wait first
        assert await claim(database, now) == []
        assert not await claimable(database, now)  # recorded: nothing to do until 13:00
        assert await claimable(database, datetime.fromisoformat("2026-03-02T16:00:00+00:00"))

    async def test_suspended_account_and_paused_batch(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        suspended = await make_account(database, status=AccountStatus.SUSPENDED)
        await make_batch(database, suspended, jobs=1, now=now)
        assert not await claimable(database, now)
        acc = await make_account(database)
        paused = await make_batch(database, acc, jobs=1, now=now)
        async with database.write() as s:
            await s.execute(
                update(Batch).where(Batch.id == paused).values(status=BatchStatus.PAUSED)
            )
        assert not await claimable(database, now)
        async with database.write() as s:
            await s.execute(
                update(Batch).where(Batch.id == paused).values(status=BatchStatus.ACTIVE)
            )
        assert await claimable(database, now)
