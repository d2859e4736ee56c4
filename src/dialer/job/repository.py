"""Job and attempt queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.session import dialect_of
from dialer.job.states import JobStatus
from dialer.models import Batch, CallAttempt, Job


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> JobRepository:
        return cls(session)

    async def get(self, job_id: str, *, for_update: bool = False) -> Job | None:
        stmt = select(Job).where(Job.id == job_id)
        if for_update and dialect_of(self.session) == "postgresql":
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_batch(
        self, batch_id: str, *, status: JobStatus | None, limit: int, skip: int
    ) -> tuple[Sequence[Job], int]:
        stmt = select(Job).where(Job.batch_id == batch_id)
        count = select(func.count()).select_from(Job).where(Job.batch_id == batch_id)
        if status is not None:
            stmt = stmt.where(Job.status == status)
            count = count.where(Job.status == status)
        stmt = stmt.order_by(Job.row_number, Job.id).limit(limit).offset(skip)
        items = (await self.session.execute(stmt)).scalars().all()
        total = (await self.session.execute(count)).scalar_one()
        return items, total

    async def attempts_for(self, job_id: str) -> Sequence[CallAttempt]:
        stmt = select(CallAttempt).where(CallAttempt.job_id == job_id).order_by(CallAttempt.number)
        return (await self.session.execute(stmt)).scalars().all()

    async def apply_batch_deltas(self, batch_id: str, deltas: dict[str, int], **extra: Any) -> int:
        """Atomically add deltas to batch counters; returns the new pending_jobs."""
        values: dict[str, Any] = {col: getattr(Batch, col) + d for col, d in deltas.items()}
        values.update(extra)
        if not values:
            return -1
        stmt = (
            update(Batch)
            .where(Batch.id == batch_id)
            .values(**values)
            .returning(Batch.pending_jobs, Batch.status)
        )
        pending, _status = (await self.session.execute(stmt)).one()
        return int(pending)
