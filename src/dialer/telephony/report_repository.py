"""Queries of the agent-report path."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import CallAttempt, Job


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ReportRepository:
        return cls(session)

    async def attempt_and_job(self, attempt_id: str) -> tuple[CallAttempt, Job] | None:
        """The attempt and its job, the job row locked first (the settlement's order)."""
        job_id = (
            await self.session.execute(
                select(CallAttempt.job_id).where(CallAttempt.id == attempt_id)
            )
        ).scalar_one_or_none()
        if job_id is None:
            return None
        stmt = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        stmt = stmt.with_for_update()
        job = (await self.session.execute(stmt)).scalar_one()
        attempt = (
            await self.session.execute(
                select(CallAttempt)
                .where(CallAttempt.id == attempt_id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        return attempt, job
