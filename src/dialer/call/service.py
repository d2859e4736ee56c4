"""What happens to an attempt between the claim and its final event.

* ``mark_placed``: the provider accepted the call -> attempt and job IN_PROGRESS (unless a
  fast webhook already finished it);
* ``mark_unknown``: the create may have reached the provider but its answer never came
  (timeout, reset, 408, 5xx) -> the attempt is UNKNOWN and the job stays in flight with
  its hold, never re-dialed; the lease rescuer asks the provider when the lease expires;
* ``hold_unattributable``: the provider shows calls that could be the attempt's but
  nothing proves which -> the attempt stays UNKNOWN, the job in flight (never
  re-dialed, ``wait_reason`` ``unresolved_call``) and the operator is shown it; the
  rescuer asks again after ``recheck_at``;
* ``abandon_attempt``: no call was placed (provider temporarily unavailable, worker died
  before dialing, the provider proved it has no call for an unknown attempt) -> the hold
  is released, the job waits again and the attempt is not counted.

Final outcomes go through ``dialer.call.settlement`` only (provider webhooks, the
simulated carrier and the rescuer's timeouts all reach it through
``telephony.webhooks.handle_events``). Lock order everywhere: job rows, then batch rows,
then account rows (see worker/claim.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.billing.service import Charge, settle
from dialer.db.bulk import insert_rows, update_rows
from dialer.job.counters import plan_transition
from dialer.job.repository import JobRepository
from dialer.job.service import transition
from dialer.job.states import IN_FLIGHT, AttemptStatus, JobStatus, can_transition
from dialer.models import Batch, BatchStatus, CallAttempt, Event, Job


class PlacedResult(StrEnum):
    IN_PROGRESS = "in_progress"
    ALREADY_ENDED = "already_ended"  # the final webhook beat us to it
    ABANDONED = "abandoned"  # the attempt was given up (lease expired): hang the call up
    UNKNOWN = "unknown"


async def _attempt_and_job(
    session: AsyncSession, attempt_id: str
) -> tuple[CallAttempt | None, Job | None]:
    job_id = (
        await session.execute(select(CallAttempt.job_id).where(CallAttempt.id == attempt_id))
    ).scalar_one_or_none()
    if job_id is None:
        return None, None
    # The job row lock serialises everything that touches this job's attempts.
    job = await JobRepository.from_session(session).get(job_id, for_update=True)
    attempt = (
        await session.execute(
            select(CallAttempt)
            .where(CallAttempt.id == attempt_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return attempt, job


async def mark_placed(
    session: AsyncSession,
    attempt_id: str,
    provider_call_id: str,
    *,
    now: datetime,
    call_timeout: timedelta,
) -> PlacedResult:
    """Record that the provider accepted the call; the job's lease becomes the call timeout."""
    return (
        await mark_placed_many(
            session, [(attempt_id, provider_call_id)], now=now, call_timeout=call_timeout
        )
    )[0]


async def mark_placed_many(
    session: AsyncSession,
    placed: Sequence[tuple[str, str]],
    *,
    now: datetime,
    call_timeout: timedelta,
) -> list[PlacedResult]:
    """``mark_placed`` for many (attempt id, provider call id) pairs: three reads and
    two executemany UPDATEs, no ORM objects (this runs for every call placed)."""
    # The session may hold these rows as objects (a rescue): write them out first, and
    # drop them after, since the UPDATEs below bypass the identity map.
    await session.flush()
    ids = [a for a, _ in placed]
    job_ids = (
        (await session.execute(select(CallAttempt.job_id).where(CallAttempt.id.in_(ids))))
        .scalars()
        .all()
    )
    jobs_stmt = (
        select(Job.id, Job.status, Job.current_attempt_id)
        .where(Job.id.in_(sorted(set(job_ids))))
        .order_by(Job.id)
    )
    jobs_stmt = jobs_stmt.with_for_update()  # job rows first: the lock order of every path
    jobs = {r.id: r for r in (await session.execute(jobs_stmt)).all()}
    # Read again under the job locks: a final webhook may have ended an attempt meanwhile.
    attempts = {
        r.id: r
        for r in (
            await session.execute(
                select(
                    CallAttempt.id, CallAttempt.job_id, CallAttempt.status,
                    CallAttempt.provider_call_id,
                ).where(CallAttempt.id.in_(ids))
            )
        ).all()
    }  # fmt: skip
    attempt_rows: dict[str, dict[str, Any]] = {}
    job_rows: dict[str, dict[str, Any]] = {}
    out: list[PlacedResult] = []
    for attempt_id, call_id in placed:
        attempt = attempts.get(attempt_id)
        job = jobs.get(attempt.job_id) if attempt else None
        if attempt is None or job is None:
            out.append(PlacedResult.UNKNOWN)
            continue
        status = attempt.status
        if status == AttemptStatus.ABANDONED:
            out.append(PlacedResult.ABANDONED)
        elif status == AttemptStatus.ENDED:
            out.append(PlacedResult.ALREADY_ENDED)
        else:
            status = AttemptStatus.IN_PROGRESS
            if job.current_attempt_id == attempt_id and can_transition(
                job.status, JobStatus.IN_PROGRESS
            ):
                # DIALING -> IN_PROGRESS moves no batch counter: written here in bulk.
                assert not plan_transition(job.status, JobStatus.IN_PROGRESS)
                job_rows[job.id] = {
                    "k_id": job.id,
                    "status": JobStatus.IN_PROGRESS,
                    "lease_expires_at": now + call_timeout,
                    "wait_reason": None,  # an unresolved call is resolved now
                }
            out.append(PlacedResult.IN_PROGRESS)
        call = attempt.provider_call_id or call_id
        if status != attempt.status or call != attempt.provider_call_id:
            attempt_rows[attempt_id] = {
                "k_id": attempt_id,
                "status": status,
                "provider_call_id": call,
            }
    await update_rows(session, CallAttempt, list(attempt_rows.values()))
    await update_rows(session, Job, list(job_rows.values()))
    if attempt_rows or job_rows:
        session.expire_all()
    return out


async def park_job(
    session: AsyncSession, job: Job, *, batch_status: BatchStatus | None, **changes: object
) -> None:
    """Move an in-flight job back to waiting; in a cancelled batch it is cancelled instead."""
    await transition(
        session, job, JobStatus.SCHEDULED, publish_event=batch_status != BatchStatus.CANCELLED,
        lease_expires_at=None, worker_id=None, current_attempt_id=None, **changes,
    )  # fmt: skip
    if batch_status == BatchStatus.CANCELLED:
        await transition(session, job, JobStatus.CANCELLED, wait_reason=None)


async def record_provider_ids(session: AsyncSession, attempt_id: str, ids: dict[str, str]) -> None:
    """Merge further provider ids of the call into the attempt, under the job's lock (the
    settlement merges them too)."""
    attempt, _job = await _attempt_and_job(session, attempt_id)
    if attempt is not None:
        attempt.provider_ids = {**(attempt.provider_ids or {}), **ids}
        await session.flush()


# An attempt that provably placed no call (UNKNOWN only once the provider said so).
ABANDONABLE = frozenset({AttemptStatus.DIALING, AttemptStatus.UNKNOWN})


async def mark_unknown(
    session: AsyncSession, attempt_id: str, *, now: datetime, recheck_at: datetime, error: str
) -> bool:
    """The create's outcome is unknown: keep the job in flight (its hold too) until
    ``recheck_at``, when the rescuer asks the provider. False if the attempt moved on."""
    attempt, job = await _attempt_and_job(session, attempt_id)
    if attempt is None or job is None or attempt.status != AttemptStatus.DIALING:
        return False
    attempt.status = AttemptStatus.UNKNOWN
    attempt.error = error
    if job.current_attempt_id == attempt_id and job.status == JobStatus.DIALING:
        job.lease_expires_at = recheck_at
    await session.flush()
    return True


UNRESOLVED_CALL = "unresolved_call"  # the job's wait reason while the operator must look


async def hold_unattributable(
    session: AsyncSession, attempt_id: str, *, now: datetime, recheck_at: datetime, error: str
) -> bool:
    """The provider cannot prove which of its calls is the attempt's: keep it UNKNOWN and
    its job in flight with its hold (never re-dialed, never guessed) until ``recheck_at``,
    and show it - the attempt's error, the job's ``wait_reason`` ``unresolved_call`` and,
    the first time, a ``job.status`` progress event. True the first time."""
    attempt, job = await _attempt_and_job(session, attempt_id)
    if attempt is None or job is None or attempt.status not in ABANDONABLE:
        return False
    attempt.status = AttemptStatus.UNKNOWN
    attempt.error = error[:1000]
    if job.current_attempt_id != attempt_id or job.status not in IN_FLIGHT:
        await session.flush()
        return False
    job.lease_expires_at = recheck_at
    first = job.wait_reason != UNRESOLVED_CALL
    job.wait_reason = UNRESOLVED_CALL
    if first:
        await insert_rows(session, Event, [{
            "account_id": job.account_id, "batch_id": job.batch_id, "job_id": job.id,
            "type": "job.status", "created_at": now,
            "data": {"job_id": job.id, "status": str(job.status), "outcome": None,
                     "wait_reason": UNRESOLVED_CALL, "attempt_id": attempt_id,
                     "error": attempt.error},
        }])  # fmt: skip
    await session.flush()
    return first


async def abandon_attempt(
    session: AsyncSession,
    attempt_id: str,
    *,
    now: datetime,
    retry_at: datetime,
    reason: str,
    error: str | None = None,
    placed: bool = False,
) -> bool:
    """Give up an attempt that placed no call: release its hold, put the job back to wait
    until ``retry_at`` without counting the attempt. False if the attempt already moved on.

    ``placed``: the provider accepted the request but then reported it never dialed (its
    concurrency limit), so an IN_PROGRESS attempt may be given up too."""
    attempt, job = await _attempt_and_job(session, attempt_id)
    allowed = ABANDONABLE | {AttemptStatus.IN_PROGRESS} if placed else ABANDONABLE
    if attempt is None or job is None or attempt.status not in allowed:
        return False
    attempt.status = AttemptStatus.ABANDONED
    attempt.ended_at = now
    attempt.error = error or reason
    if job.current_attempt_id == attempt_id and job.status in IN_FLIGHT:
        batch_status = (
            await session.execute(select(Batch.status).where(Batch.id == job.batch_id))
        ).scalar_one_or_none()
        await park_job(
            session, job, batch_status=batch_status, next_attempt_at=retry_at,
            attempts=max(job.attempts - 1, 0), wait_reason=reason,
        )  # fmt: skip
    # The account row last (lock order: jobs -> batch -> account; see worker/claim.py).
    # Settled at no cost: the hold is given back (once), nothing is charged.
    await settle(
        session,
        [Charge(attempt.account_id, attempt.id, attempt.batch_id, attempt.job_id,
                attempt.reserved_units, 0)],
        now=now,
    )  # fmt: skip
    await session.flush()
    return True
