"""What must hold after any run, whatever went wrong during it: checked from the rows.

* every job is in exactly one final state, with no lease or current attempt left, and
  the batch counters agree with the rows;
* every attempt is over; attempts of one job never overlap; every call the carrier saw
  belongs to an ended (billed) attempt;
* the ledger balances to the unit: one charge per answered attempt equal to the pricing
  of the carrier's reported duration, every reservation released exactly once, and the
  account balance equal to the sum of its ledger;
* no call was claimed outside its batch's window, and the calls on the line (from the
  carrier's placed/ended times) never exceeded the batch or the account cap.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import func, select

from dialer.batch.settings import CallSettings
from dialer.batch.windows import is_open, schedule_for
from dialer.billing.pricing import call_cost
from dialer.billing.service import pricing_of
from dialer.db.session import Database
from dialer.job.states import ATTEMPT_FINAL, FINAL, AttemptStatus, Outcome
from dialer.models import Account, Batch, CallAttempt, EntryKind, Job, LedgerEntry, SimulatedCall


def _peak(intervals: list[tuple[datetime, datetime, str]]) -> tuple[int, list[str]]:
    """The most intervals [start, end) open at one instant (an end frees its slot first),
    and the keys of those intervals."""
    points = sorted(
        itertools.chain.from_iterable(((s, 1, k), (e, -1, k)) for s, e, k in intervals),
        key=lambda p: (p[0], p[1]),
    )
    peak, open_now, at_peak = 0, set[str](), list[str]()
    for _, d, k in points:
        if d > 0:
            open_now.add(k)
        else:
            open_now.discard(k)
        if len(open_now) > peak:
            peak, at_peak = len(open_now), sorted(open_now)
    return peak, at_peak


def _describe(attempts: list[CallAttempt], ids: list[str]) -> list[str]:
    by_id = {a.id: a for a in attempts}
    return [
        f"{a.id} job={a.job_id} {a.status}/{a.outcome} {a.started_at:%H:%M:%S.%f}"
        f"-{a.ended_at:%H:%M:%S.%f} worker={a.worker_id} error={a.error}"
        for a in (by_id[i] for i in ids)
    ]


async def assert_run_is_sound(
    db: Database, account_id: str, *, account_cap: int | None = None
) -> dict[str, int]:
    """Check every invariant for one account's batches; returns a few totals for the test."""
    async with db.read() as s:
        account = (await s.execute(select(Account).where(Account.id == account_id))).scalar_one()
        batches = list(
            (await s.execute(select(Batch).where(Batch.account_id == account_id))).scalars()
        )
        jobs = list((await s.execute(select(Job).where(Job.account_id == account_id))).scalars())
        attempts = list(
            (
                await s.execute(select(CallAttempt).where(CallAttempt.account_id == account_id))
            ).scalars()
        )
        ledger = list(
            (
                await s.execute(select(LedgerEntry).where(LedgerEntry.account_id == account_id))
            ).scalars()
        )
        ledger_sum = (
            await s.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.account_id == account_id
                )
            )
        ).scalar_one()
        calls = list(
            (
                await s.execute(
                    select(SimulatedCall).where(
                        SimulatedCall.attempt_id.in_([a.id for a in attempts] or [""])
                    )
                )
            ).scalars()
        )
        s.expunge_all()

    # 1. Jobs: exactly one final state each, nothing left in flight, counters agree.
    by_batch: dict[str, Counter[str]] = defaultdict(Counter)
    for j in jobs:
        assert j.status in FINAL, (j.id, j.status, j.wait_reason)
        assert j.lease_expires_at is None, j.id
        assert j.current_attempt_id is None, j.id
        by_batch[j.batch_id][str(j.status)] += 1
    for b in batches:
        seen = by_batch[b.id]
        assert b.total_jobs == sum(seen.values()), (b.id, b.total_jobs, seen)
        assert (b.pending_jobs, b.in_progress_jobs) == (0, 0), (b.id, b.pending_jobs)
        assert (b.completed_jobs, b.failed_jobs, b.cancelled_jobs) == (
            seen["completed"],
            seen["failed"],
            seen["cancelled"],
        ), (b.id, seen)

    # 2. Attempts: all over, never overlapping within a job, counted once.
    per_job: dict[str, list[CallAttempt]] = defaultdict(list)
    for a in attempts:
        assert a.status in ATTEMPT_FINAL, (a.id, a.status)
        assert a.started_at is not None, a.id
        assert a.ended_at is not None, a.id
        per_job[a.job_id].append(a)
    for j in jobs:
        seq = sorted(per_job[j.id], key=lambda a: (a.started_at, a.number))
        for prev, nxt in itertools.pairwise(seq):
            assert prev.ended_at <= nxt.started_at, (j.id, prev.id, nxt.id)
        assert j.attempts == sum(a.status == AttemptStatus.ENDED for a in seq), j.id
    by_attempt = {a.id: a for a in attempts}
    assert len({c.attempt_id for c in calls}) == len(calls)
    late_hangups = set()
    for c in calls:
        # A call that really went out is an ended attempt, so it was settled. The one
        # exception: a worker stalled past its lease while the carrier was answering, the
        # rescuer (finding no call yet) handed the job back, and the worker then hung the
        # late call up at once. That attempt is never billed (checked below). The rescuer
        # words it "the provider has no call for this attempt" since it asks the provider.
        a = by_attempt[c.attempt_id]
        if a.status == AttemptStatus.ABANDONED and any(
            why in (a.error or "") for why in ("worker lost", "the provider has no call")
        ):
            late_hangups.add(a.id)
            continue
        assert a.status == AttemptStatus.ENDED, (a.id, a.status, a.error)

    # 3. Ledger, to the unit.
    pricing = pricing_of(account)
    entries: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        if e.attempt_id:
            entries[(e.attempt_id, str(e.kind))].append(e)
    sim_duration = {c.attempt_id: c.duration_s for c in calls}
    charged_total = 0
    for a in attempts:
        reserves = entries[(a.id, EntryKind.RESERVATION)]
        releases = entries[(a.id, EntryKind.RELEASE)]
        charges = entries[(a.id, EntryKind.CHARGE)]
        assert len(reserves) == 1, (a.id, len(reserves))
        assert len(releases) == 1, (a.id, len(releases))
        assert reserves[0].amount == -a.reserved_units, a.id
        assert releases[0].amount == a.reserved_units, a.id
        assert len(charges) <= 1, a.id
        expected = 0
        if a.status == AttemptStatus.ENDED:
            if a.id in sim_duration:
                assert a.duration_s == sim_duration[a.id], a.id  # billed what the carrier said
            expected = call_cost(
                account.plan_type, pricing, duration_s=a.duration_s,
                answered=a.outcome == Outcome.COMPLETED,
            )[1]  # fmt: skip
        assert a.cost_units == expected, (a.id, a.outcome, a.duration_s, a.cost_units)
        assert sum(-c.amount for c in charges) == expected, a.id
        charged_total += expected
    topups = sum(e.amount for e in ledger if e.kind == EntryKind.TOPUP)
    assert sum(e.amount for e in ledger if e.kind == EntryKind.CHARGE) == -charged_total
    assert ledger_sum == topups - charged_total
    assert account.balance == ledger_sum

    # 4. Windows: the claim's decision time (attempt.started_at) is inside the window.
    #    Caps: from the carrier's own record of when each call was on the line (placed ->
    #    ended). An attempt's started_at is when its claim read the clock, which can be a
    #    little before the claim got the write lock, so it is not used for overlaps.
    calls = [c for c in calls if c.attempt_id not in late_hangups]
    call_of = {c.attempt_id: c for c in calls}
    for b in batches:
        settings = CallSettings.model_validate(b.call_settings)
        schedule = schedule_for(settings, default_timezone=account.timezone, country="CL")
        mine = [a for a in attempts if a.batch_id == b.id]
        for a in mine:
            assert is_open(schedule, a.started_at), (a.id, a.started_at)
        lines = [
            (c.started_at, c.complete_at, c.attempt_id)
            for c in (call_of[a.id] for a in mine if a.id in call_of)
        ]
        peak, ids = _peak(lines)
        assert peak <= settings.max_concurrent_calls, (b.id, peak, _describe(mine, ids))
    cap = account_cap or account.max_concurrent_calls
    peak, ids = _peak([(c.started_at, c.complete_at, c.attempt_id) for c in calls])
    assert peak <= cap, (peak, _describe(attempts, ids))
    return {
        "jobs": len(jobs),
        "attempts": len(attempts),
        "calls": len(calls),
        "late_hangups": len(late_hangups),
        "abandoned": sum(a.status == AttemptStatus.ABANDONED for a in attempts),
        "charged": charged_total,
    }
