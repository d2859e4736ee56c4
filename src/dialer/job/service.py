"""Job state changes. A status is written only after ``plan_transition`` checked it against
the state table; ``transition`` (one job) and ``bulk_transition`` (every job of a batch in
some states) move the batch counters in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.job.counters import InvalidTransition, plan_transition
from dialer.job.repository import JobRepository
from dialer.job.schemas import NewJob
from dialer.job.states import FINAL, JobStatus, can_transition
from dialer.kit import clock
from dialer.kit.ids import new_id
from dialer.models import Batch, BatchStatus, Job, OutboxEvent
from dialer.outbox import publish


async def transition(
    session: AsyncSession, job: Job, dst: JobStatus, *, publish_event: bool = True, **changes: Any
) -> None:
    """Move ``job`` to ``dst``, apply ``changes`` and update batch counters.

    Raises InvalidTransition when the state table forbids it; callers handling
    provider events check ``can_transition`` first so stale events are ignored.
    """
    deltas = set_status(job, dst)
    now = clock.now()
    for k, v in changes.items():
        setattr(job, k, v)
    if dst in FINAL and job.completed_at is None:
        job.completed_at = now
    await session.flush()
    if deltas:
        await bump_batch(session, job.batch_id, job.account_id, deltas)
    if publish_event:
        await publish(
            session,
            account_id=job.account_id,
            batch_id=job.batch_id,
            job_id=job.id,
            type="job.status",
            data={"job_id": job.id, "status": str(dst), "outcome": job.last_outcome},
        )


def set_status(job: Job, dst: JobStatus, *, correction: bool = False) -> Counter[str]:
    """Write a checked status change on an in-memory job, for bulk paths that apply the
    returned counter deltas once per batch themselves. Raises InvalidTransition.
    ``correction``: see ``plan_transition``."""
    try:
        deltas = plan_transition(job.status, dst, correction=correction)
    except InvalidTransition as exc:
        raise InvalidTransition(f"job {job.id}: {exc}") from None
    job.status = dst
    return deltas


async def bump_batch(
    session: AsyncSession,
    batch_id: str,
    account_id: str,
    deltas: Mapping[str, int],
    **extra: Any,
) -> None:
    """Apply counter deltas; completes the batch when nothing is left to do."""
    pending = await JobRepository.from_session(session).apply_batch_deltas(
        batch_id, deltas, **extra
    )
    # A batch that just received its jobs is not "done" even when it has none.
    if pending == 0 and "total_jobs" not in deltas:
        await complete_batch_if_done(session, batch_id, account_id)


async def reopen_batch(
    session: AsyncSession, batch_id: str, account_id: str, *, reason: str
) -> bool:
    """Make a batch that completed active again, because one of its jobs has a call to
    make after all (the post-call analysis of its last call asked for a callback or a
    promise follow-up). A cancelled batch stays cancelled. True when it was reopened."""
    now = clock.now()
    res = await session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == BatchStatus.COMPLETED)
        .values(status=BatchStatus.ACTIVE, is_active=True, completed_at=None, updated_at=now)
        .returning(Batch.id)
    )
    if res.first() is None:
        return False
    await publish(
        session,
        account_id=account_id,
        batch_id=batch_id,
        type="batch.reopened",
        data={"batch_id": batch_id, "status": "active", "reason": reason},
    )
    return True


async def complete_batch_if_done(session: AsyncSession, batch_id: str, account_id: str) -> bool:
    now = clock.now()
    res = await session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            Batch.pending_jobs == 0,
            Batch.status.in_([BatchStatus.ACTIVE, BatchStatus.PAUSED]),
        )
        .values(
            status=BatchStatus.COMPLETED, is_active=False, completed_at=now, waiting_reason=None
        )
        .returning(Batch.id)
    )
    if res.first() is None:
        return False
    await publish(
        session,
        account_id=account_id,
        batch_id=batch_id,
        type="batch.completed",
        data={"batch_id": batch_id, "status": "completed"},
    )
    # Outbound webhooks: committed with the batch's completion.
    wanted = await JobRepository.from_session(session).subscribed([account_id])
    if "batch.completed" in wanted.get(account_id, frozenset()):
        session.add(
            OutboxEvent.new(
                account_id=account_id, type="batch.completed", at=now,
                data={"batch_id": batch_id, "status": "completed",
                      "completed_at": now.isoformat()},
            )
        )  # fmt: skip
    return True


async def bulk_transition(
    session: AsyncSession,
    batch_id: str,
    account_id: str,
    src: Iterable[JobStatus],
    dst: JobStatus,
    **values: Any,
) -> int:
    """Move every job of a batch in ``src`` states to ``dst`` in one statement (e.g. cancel)."""
    total = 0
    for s in src:
        if not can_transition(s, dst):
            continue
        res = await session.execute(
            update(Job)
            .where(Job.batch_id == batch_id, Job.status == s)
            .values(status=dst, **values)
            .execution_options(synchronize_session=False)
        )
        n = res.rowcount or 0  # type: ignore[attr-defined]
        if n:
            total += n
            await JobRepository.from_session(session).apply_batch_deltas(
                batch_id, plan_transition(s, dst, n)
            )
    return total


INSERT_CHUNK = 1000


def max_attempts_of(batch: Batch) -> int:
    """The batch's retry_settings.max_attempts (3 when unset)."""
    retry = (batch.call_settings or {}).get("retry_settings") or {}
    value = retry.get("max_attempts", 3)
    return int(value) if isinstance(value, int) and value >= 1 else 3


# A job's place (local timezone or None for the batch's, region, why), decided by the
# layer that knows the rules (compliance.place, called by the batch service).
PlaceOf = Callable[[NewJob], tuple[str | None, str | None, str | None]]


async def insert_jobs(
    session: AsyncSession,
    batch: Batch,
    jobs: Iterable[NewJob],
    *,
    now: datetime,
    place_of: PlaceOf | None = None,
) -> int:
    """Add ``jobs`` to ``batch`` as pending, due at ``now``; returns how many.
    ``place_of`` gives each job its place (``timezone``, ``region``, ``place_source``)
    as it is inserted; without it the place is resolved when the job is first due.

    Rows go in with Core ``executemany`` in chunks (no ORM objects, memory bounded by
    the chunk) and the batch counters move with ONE update at the end, so 100k jobs
    cost one counter write. ``max_attempts`` comes from the batch's retry_settings.
    The caller's transaction decides: nothing is visible until it commits.
    """
    stmt = cast(Table, Job.__table__).insert()
    max_attempts = max_attempts_of(batch)
    total = 0
    chunk: list[dict[str, Any]] = []
    for job in jobs:
        timezone, region, place_source = place_of(job) if place_of else (None, None, None)
        chunk.append(
            {
                "id": new_id("job"),
                "batch_id": batch.id,
                "account_id": batch.account_id,
                "row_number": job.row_number,
                "status": JobStatus.PENDING,
                "contact_name": job.contact_name,
                "dni": job.dni,
                "phones": job.phones,
                "email": job.email,
                "payload": job.payload,
                "attempts": 0,
                "max_attempts": max_attempts,
                "phone_index": 0,
                "next_attempt_at": now,
                "result": {},
                "billed_seconds": 0,
                "cost_units": 0,
                "timezone": timezone,
                "region": region,
                "place_source": place_source,
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(chunk) >= INSERT_CHUNK:
            await session.execute(stmt, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        await session.execute(stmt, chunk)
        total += len(chunk)
    if total:
        await bump_batch(
            session,
            batch.id,
            batch.account_id,
            plan_transition(None, JobStatus.PENDING, total),
        )
    return total
