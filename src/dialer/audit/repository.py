"""Audit-log queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AuditRepository:
        return cls(session)

    def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    async def list(
        self,
        account_id: str,
        *,
        action: str | None,
        target_id: str | None,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[AuditEntry], int]:
        conds = [AuditEntry.account_id == account_id]
        if action is not None:
            conds.append(AuditEntry.action == action)
        if target_id is not None:
            conds.append(AuditEntry.target_id == target_id)
        stmt = select(AuditEntry).where(*conds).order_by(AuditEntry.id.desc())
        items = (await self.session.execute(stmt.limit(limit).offset(skip))).scalars().all()
        total = (
            await self.session.execute(select(func.count()).select_from(AuditEntry).where(*conds))
        ).scalar_one()
        return items, int(total)
