"""Read queries behind the progress stream."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Batch, Event


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

    async def after(
        self, batch_id: str, after_id: int, limit: int, *, up_to: int | None = None
    ) -> Sequence[Event]:
        """Events of the batch with ``after_id < id [<= up_to]``, oldest first."""
        stmt = select(Event).where(Event.batch_id == batch_id, Event.id > after_id)
        if up_to is not None:
            stmt = stmt.where(Event.id <= up_to)
        stmt = stmt.order_by(Event.id).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()
