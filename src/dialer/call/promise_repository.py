"""Queries of promises to pay and the payments that judge them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Batch, Job, Payment, Promise


class PromiseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PromiseRepository:
        return cls(session)

    async def supersede_open(self, job_id: str, *, now: datetime) -> None:
        """A new promise on the job replaces the open one."""
        await self.session.execute(
            update(Promise)
            .where(Promise.job_id == job_id, Promise.status == "open")
            .values(status="superseded", evaluated_at=now)
        )

    async def open_of_attempt(self, attempt_id: str) -> Sequence[Promise]:
        """The attempt's promise while it is still open (at most one: unique per attempt)."""
        stmt = select(Promise).where(Promise.attempt_id == attempt_id, Promise.status == "open")
        return (await self.session.scalars(stmt.with_for_update())).all()

    async def any_due(self, now: datetime) -> bool:
        """One index probe: is an open promise waiting for its judgement?"""
        stmt = select(Promise.id).where(Promise.status == "open", Promise.judge_at <= now).limit(1)
        return (await self.session.execute(stmt)).first() is not None

    async def due(self, now: datetime, limit: int) -> Sequence[Promise]:
        stmt = (
            select(Promise)
            .where(Promise.status == "open", Promise.judge_at <= now)
            .order_by(Promise.judge_at, Promise.id)
            .limit(limit)
        )
        stmt = stmt.with_for_update(skip_locked=True)
        return (await self.session.scalars(stmt)).all()

    async def open_for_debtors(
        self, account_id: str, debtor_ids: Sequence[str]
    ) -> Sequence[Promise]:
        if not debtor_ids:
            return []
        return (
            await self.session.scalars(
                select(Promise).where(
                    Promise.account_id == account_id,
                    Promise.debtor_id.in_(debtor_ids),
                    Promise.status == "open",
                )
            )
        ).all()

    async def paid_between(
        self, account_id: str, debtor_id: str, currency: str, start: date, end: date | None
    ) -> int:
        stmt = select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.account_id == account_id,
            Payment.debtor_id == debtor_id,
            Payment.currency == currency,
            Payment.paid_on >= start,
        )
        if end is not None:
            stmt = stmt.where(Payment.paid_on <= end)
        return int((await self.session.execute(stmt)).scalar_one())

    async def job(self, job_id: str) -> Job | None:
        """The promise's job, row-locked; None when another transaction holds it (a claim
        is taking it: left as the claim makes it)."""
        stmt = (
            select(Job)
            .where(Job.id == job_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).first()

    async def others_open(self, job_id: str, promise_id: str) -> bool:
        """Whether the job has another open promise than ``promise_id``."""
        stmt = select(Promise.id).where(
            Promise.job_id == job_id, Promise.status == "open", Promise.id != promise_id
        )
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def batch_settings(self, batch_id: str) -> dict[str, object] | None:
        row = (
            await self.session.execute(select(Batch.call_settings).where(Batch.id == batch_id))
        ).first()
        return dict(row[0] or {}) if row is not None else None
