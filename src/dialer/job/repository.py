"""Job and attempt queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.job.filters import JobFilter
from dialer.job.states import AttemptStatus, JobStatus
from dialer.models import Batch, CallAttempt, Job, Payment, Promise, WebhookSubscription


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> JobRepository:
        return cls(session)

    async def get(
        self, job_id: str, *, for_update: bool = False, refresh: bool = False
    ) -> Job | None:
        stmt = select(Job).where(Job.id == job_id)
        if refresh:
            # Re-read committed values (a worker may have moved the job since).
            stmt = stmt.execution_options(populate_existing=True)
        if for_update:
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

    async def list_filtered(
        self, batch_id: str, flt: JobFilter, *, limit: int, skip: int
    ) -> tuple[Sequence[Job], int]:
        """A page of the batch's jobs that pass ``flt``, in its order, and how many pass."""
        where = flt.where(batch_id)
        stmt = select(Job).where(where).order_by(*flt.order_by()).limit(limit).offset(skip)
        items = (await self.session.execute(stmt)).scalars().all()
        count = select(func.count()).select_from(Job).where(where)
        total = (await self.session.execute(count)).scalar_one()
        return items, total

    async def regions_of(self, batch_id: str) -> list[str]:
        """The debtor regions present in a batch (for the contact table's filter)."""
        stmt = (
            select(Job.region)
            .where(Job.batch_id == batch_id, Job.region.is_not(None))
            .distinct()
            .order_by(Job.region)
        )
        return [str(r) for (r,) in await self.session.execute(stmt)]

    async def attempts_for(self, job_id: str) -> Sequence[CallAttempt]:
        stmt = select(CallAttempt).where(CallAttempt.job_id == job_id).order_by(CallAttempt.number)
        return (await self.session.execute(stmt)).scalars().all()

    async def subscribed(self, account_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The outbound event types each account's active webhook subscriptions want:
        events nobody subscribed to are not written to the outbox at all."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        rows = await self.session.execute(
            select(WebhookSubscription.account_id, WebhookSubscription.events).where(
                WebhookSubscription.account_id.in_(ids), WebhookSubscription.is_active.is_(True)
            )
        )
        out: dict[str, set[str]] = {}
        for account_id, events in rows:
            out.setdefault(account_id, set()).update(events or [])
        return {k: frozenset(v) for k, v in out.items()}

    async def promises_for(self, job_id: str) -> Sequence[Promise]:
        stmt = select(Promise).where(Promise.job_id == job_id).order_by(Promise.created_at)
        return (await self.session.execute(stmt)).scalars().all()

    async def payments_for(self, account_id: str, debtor_id: str) -> Sequence[Payment]:
        stmt = (
            select(Payment)
            .where(Payment.account_id == account_id, Payment.debtor_id == debtor_id)
            .order_by(Payment.paid_on, Payment.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def apply_batch_deltas(
        self, batch_id: str, deltas: Mapping[str, int], **extra: Any
    ) -> int:
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

    async def list_jobs(
        self,
        *,
        account_id: str | None,
        batch_id: str | None,
        statuses: Sequence[JobStatus] | None,
        created_from: datetime | None,
        created_to: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[Job], int]:
        """Jobs across batches, newest first, with the page's total."""
        conds: list[Any] = []
        if account_id is not None:
            conds.append(Job.account_id == account_id)
        if batch_id is not None:
            conds.append(Job.batch_id == batch_id)
        if statuses:
            conds.append(Job.status.in_(list(statuses)))
        if created_from is not None:
            conds.append(Job.created_at >= created_from)
        if created_to is not None:
            conds.append(Job.created_at <= created_to)
        stmt = (
            select(Job)
            .where(*conds)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(limit)
            .offset(skip)
        )
        items = (await self.session.execute(stmt)).scalars().all()
        count = select(func.count()).select_from(Job).where(*conds)
        return items, int((await self.session.execute(count)).scalar_one())

    async def call_history(
        self,
        *,
        account_id: str | None,
        batch_id: str | None,
        ended_from: datetime | None,
        ended_to: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[tuple[CallAttempt, Job]], int]:
        """Finished attempts (calls) with their job, most recent first."""
        conds: list[Any] = [CallAttempt.status == AttemptStatus.ENDED]
        if account_id is not None:
            conds.append(CallAttempt.account_id == account_id)
        if batch_id is not None:
            conds.append(CallAttempt.batch_id == batch_id)
        if ended_from is not None:
            conds.append(CallAttempt.ended_at >= ended_from)
        if ended_to is not None:
            conds.append(CallAttempt.ended_at <= ended_to)
        stmt = (
            select(CallAttempt, Job)
            .join(Job, Job.id == CallAttempt.job_id)
            .where(*conds)
            .order_by(CallAttempt.ended_at.desc(), CallAttempt.id.desc())
            .limit(limit)
            .offset(skip)
        )
        rows = [(a, j) for a, j in (await self.session.execute(stmt)).all()]
        count = select(func.count()).select_from(CallAttempt).where(*conds)
        return rows, int((await self.session.execute(count)).scalar_one())

    async def latest_attempts(self, job_ids: Sequence[str]) -> dict[str, CallAttempt]:
        """The latest attempt of each of these jobs (a page of jobs: bounded)."""
        if not job_ids:
            return {}
        stmt = (
            select(CallAttempt)
            .where(CallAttempt.job_id.in_(list(job_ids)))
            .order_by(CallAttempt.job_id, CallAttempt.number)
        )
        out: dict[str, CallAttempt] = {}
        for a in (await self.session.execute(stmt)).scalars().all():
            out[a.job_id] = a  # ordered by number: the last one wins
        return out
