"""Read queries behind the progress stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch.repository import STATUS_COLUMNS
from dialer.models import Batch, Event

EVENT_COLUMNS = (
    Event.id, Event.batch_id, Event.account_id, Event.type, Event.job_id, Event.data,
    Event.created_at,
)  # fmt: skip
COUNTER_COLUMNS = (*STATUS_COLUMNS, Batch.cancelled_reason)


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> EventRepository:
        return cls(session)

    async def batch(self, batch_id: str) -> Batch | None:
        return await self.session.get(Batch, batch_id, populate_existing=True)

    async def last_id(self, batch_id: str) -> int:
        """The newest event id of the batch (0 when it has none)."""
        stmt = select(func.max(Event.id)).where(Event.batch_id == batch_id)
        return int((await self.session.execute(stmt)).scalar() or 0)

    async def new_rows(self, batch_ids: Sequence[str], after_id: int, limit: int) -> Sequence[Any]:
        """Events of these batches with ``id > after_id``, oldest first (EVENT_COLUMNS)."""
        stmt = (
            select(*EVENT_COLUMNS)
            .where(Event.batch_id.in_(batch_ids), Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).all()

    async def last_account_id(self, account_id: str | None) -> int:
        """The newest event id of the account (of every account for None; 0 if none)."""
        stmt = select(func.max(Event.id))
        if account_id is not None:
            stmt = stmt.where(Event.account_id == account_id)
        return int((await self.session.execute(stmt)).scalar() or 0)

    async def new_account_rows(
        self, account_ids: Sequence[str] | None, after_id: int, limit: int
    ) -> Sequence[Any]:
        """Events of these accounts (None: of all) with ``id > after_id``, oldest first."""
        stmt = select(*EVENT_COLUMNS).where(Event.id > after_id)
        if account_ids is not None:
            stmt = stmt.where(Event.account_id.in_(account_ids))
        return (await self.session.execute(stmt.order_by(Event.id).limit(limit))).all()

    async def account_ids_between(
        self, account_ids: Sequence[str] | None, low: int, high: int
    ) -> Sequence[Any]:
        """(id, account_id) of these accounts' events in (low, high]: the index alone."""
        stmt = select(Event.id, Event.account_id).where(Event.id > low, Event.id <= high)
        if account_ids is not None:
            stmt = stmt.where(Event.account_id.in_(account_ids))
        return (await self.session.execute(stmt)).all()

    async def ids_between(self, batch_ids: Sequence[str], low: int, high: int) -> Sequence[Any]:
        """(id, batch_id) of these batches' events in (low, high]: the index alone."""
        stmt = select(Event.id, Event.batch_id).where(
            Event.batch_id.in_(batch_ids), Event.id > low, Event.id <= high
        )
        return (await self.session.execute(stmt)).all()

    async def rows_by_id(self, ids: Sequence[int]) -> Sequence[Any]:
        """These events, oldest first (EVENT_COLUMNS)."""
        stmt = select(*EVENT_COLUMNS).where(Event.id.in_(ids)).order_by(Event.id)
        return (await self.session.execute(stmt)).all()

    async def counters(self, batch_ids: Sequence[str]) -> dict[str, Any]:
        """batch id -> its counter columns (the /status view plus ``cancelled_reason``)."""
        stmt = select(*COUNTER_COLUMNS).where(Batch.id.in_(batch_ids))
        return {r.id: r for r in (await self.session.execute(stmt)).all()}
