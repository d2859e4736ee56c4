"""Queries the import needs: the account's contacts already in open batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, Batch, BatchStatus, Job

OPEN_BATCH = (BatchStatus.ACTIVE, BatchStatus.PAUSED)


class IngestionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> IngestionRepository:
        return cls(session)

    async def account(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

    async def open_batch_contacts(self, account_id: str) -> AsyncIterator[tuple[str | None, Any]]:
        """(dni, phones) of every job in the account's active or paused batches."""
        stmt = (
            select(Job.dni, Job.phones)
            .join(Batch, Batch.id == Job.batch_id)
            .where(Job.account_id == account_id, Batch.status.in_(OPEN_BATCH))
            .execution_options(yield_per=5000)
        )
        result = await self.session.stream(stmt)
        async for dni, phones in result:
            yield dni, phones
