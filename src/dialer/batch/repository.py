"""Batch queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import POSTGRESQL, dialect_of
from dialer.job.states import WAITING, JobStatus
from dialer.models import Account, Batch, CallAttempt, Job

# The columns the polling view needs: reading only these keeps /status one narrow row.
STATUS_COLUMNS = (
    Batch.id,
    Batch.account_id,
    Batch.is_active,
    Batch.status,
    Batch.total_jobs,
    Batch.completed_jobs,
    Batch.pending_jobs,
    Batch.failed_jobs,
    Batch.cancelled_jobs,
    Batch.in_progress_jobs,
    Batch.waiting_reason,
    Batch.waiting_until,
    Batch.created_at,
    Batch.started_at,
    Batch.completed_at,
    Batch.billed_seconds,
    Batch.cost_units,
)


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> BatchRepository:
        return cls(session)

    async def has_attempts(self, batch_id: str) -> bool:
        """Whether any call was ever placed (an attempt row exists) for the batch."""
        stmt = select(CallAttempt.id).where(CallAttempt.batch_id == batch_id).limit(1)
        return (await self.session.execute(stmt)).first() is not None

    async def delete(self, batch: Batch) -> int:
        """Delete the batch and its jobs; returns how many jobs went with it."""
        result = await self.session.execute(delete(Job).where(Job.batch_id == batch.id))
        await self.session.execute(delete(Batch).where(Batch.id == batch.id))
        self.session.expunge(batch)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        stmt = select(Batch).where(Batch.id == batch_id)
        if for_update:
            # Re-read committed values: a worker may have moved counters since.
            stmt = stmt.execution_options(populate_existing=True)
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def account_of(self, batch_id: str) -> str | None:
        stmt = select(Batch.account_id).where(Batch.id == batch_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def status_row(self, batch_id: str) -> Any:
        """One primary-key lookup of the counter columns; never touches jobs."""
        # The account's plan (to show the cost in its unit) by primary key: still one row.
        stmt = (
            select(*STATUS_COLUMNS, Account.plan_type)
            .join(Account, Account.id == Batch.account_id)
            .where(Batch.id == batch_id)
        )
        return (await self.session.execute(stmt)).first()

    async def list(
        self,
        *,
        account_id: str | None,
        is_active: bool | None,
        status: str | None,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[Batch], int]:
        conds: list[Any] = []
        if account_id is not None:
            conds.append(Batch.account_id == account_id)
        if is_active is not None:
            conds.append(Batch.is_active.is_(is_active))
        if status is not None:
            conds.append(Batch.status == status)
        stmt = (
            select(Batch)
            .where(*conds)
            .order_by(Batch.created_at.desc(), Batch.id.desc())
            .limit(limit)
            .offset(skip)
        )
        items = (await self.session.execute(stmt)).scalars().all()
        count = select(func.count()).select_from(Batch).where(*conds)
        return items, int((await self.session.execute(count)).scalar_one())

    async def outcome_counts(self, batch_id: str) -> dict[str, int]:
        """Finished attempts per outcome (uses the attempts' batch_id index)."""
        stmt = (
            select(CallAttempt.outcome, func.count())
            .where(CallAttempt.batch_id == batch_id, CallAttempt.outcome.is_not(None))
            .group_by(CallAttempt.outcome)
        )
        return {str(o): int(n) for o, n in (await self.session.execute(stmt)).all()}

    async def business_result_counts(self, batch_id: str) -> dict[str, int]:
        stmt = (
            select(Job.business_result, func.count())
            .where(Job.batch_id == batch_id, Job.business_result.is_not(None))
            .group_by(Job.business_result)
        )
        return {str(r): int(n) for r, n in (await self.session.execute(stmt)).all()}

    async def delay_waiting(self, batch_id: str, until: datetime) -> None:
        """Make the batch's waiting jobs due no earlier than ``until``."""
        await self.session.execute(
            update(Job)
            .where(
                Job.batch_id == batch_id,
                Job.status.in_(list(WAITING)),
                Job.next_attempt_at < until,
            )
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )

    async def payload_keys(self, batch_id: str, *, sample: int = 500) -> set[str]:
        """The payload keys of the batch's first ``sample`` rows (the file's columns)."""
        stmt = (
            select(Job.payload)
            .where(Job.batch_id == batch_id)
            .order_by(Job.row_number.asc().nulls_last(), Job.id)
            .limit(sample)
        )
        return {k for p in (await self.session.execute(stmt)).scalars() for k in (p or {})}

    async def set_waiting_max_attempts(self, batch_id: str, max_attempts: int) -> None:
        """New retry settings apply to the jobs that have not finished yet."""
        await self.session.execute(
            update(Job)
            .where(Job.batch_id == batch_id, Job.status.in_(list(WAITING)))
            .values(max_attempts=max_attempts)
            .execution_options(synchronize_session=False)
        )

    async def hourly_calls(self, batch_id: str, since: datetime) -> Sequence[tuple[str, int, int]]:
        """(hour 'YYYY-MM-DD HH:00:00' UTC, calls, answered) of the batch's finished calls
        since ``since``, newest hour first. Grouped in SQL (the attempts' batch index)."""
        if dialect_of(self.session) == POSTGRESQL:
            hour: Any = func.to_char(
                func.timezone("UTC", CallAttempt.ended_at), "YYYY-MM-DD HH24:00:00"
            )
        else:
            # SQLite keeps UTC datetimes as 'YYYY-MM-DD HH:MM:SS...' text.
            hour = func.strftime("%Y-%m-%d %H:00:00", CallAttempt.ended_at)
        bucket = hour.label("hour")
        answered = func.sum(case((CallAttempt.outcome == "completed", 1), else_=0))
        stmt = (
            select(bucket, func.count(), answered)
            .where(
                CallAttempt.batch_id == batch_id,
                CallAttempt.ended_at.is_not(None),
                CallAttempt.ended_at >= since,
                CallAttempt.outcome.is_not(None),
            )
            .group_by(bucket)
            .order_by(bucket.desc())
        )
        return [
            (str(h), int(n), int(a or 0)) for h, n, a in (await self.session.execute(stmt)).all()
        ]

    async def retry_waits(self, batch_id: str) -> Sequence[tuple[str | None, int, datetime]]:
        """(last outcome, jobs, earliest next attempt) of the batch's jobs waiting for a
        retry after an unanswered call (the claim index: batch, status, due time)."""
        stmt = (
            select(Job.last_outcome, func.count(), func.min(Job.next_attempt_at))
            .where(
                Job.batch_id == batch_id,
                Job.status == JobStatus.SCHEDULED,
                Job.wait_reason == "retry",
            )
            .group_by(Job.last_outcome)
        )
        return [(o, int(n), at) for o, n, at in (await self.session.execute(stmt)).all()]
