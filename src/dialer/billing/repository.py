"""Ledger queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, LedgerEntry


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> LedgerRepository:
        return cls(session)

    async def lock_account(self, account_id: str) -> Account | None:
        """The account row, locked for the rest of the transaction on PostgreSQL.

        On SQLite the write transaction (BEGIN IMMEDIATE) already serialises writers.
        ``populate_existing`` makes a re-read see the balance committed by others.
        """
        stmt = (
            select(Account)
            .where(Account.id == account_id)
            .execution_options(populate_existing=True)
        )
        if self.session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def has_key(self, key: str) -> bool:
        stmt = select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)
        return (await self.session.execute(stmt)).first() is not None

    async def sum_for(self, account_id: str) -> int:
        stmt = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def list_for(
        self, account_id: str, *, limit: int, skip: int, kind: str | None = None
    ) -> tuple[Sequence[LedgerEntry], int]:
        stmt = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
        count = (
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
        )
        if kind:
            stmt = stmt.where(LedgerEntry.kind == kind)
            count = count.where(LedgerEntry.kind == kind)
        items = (
            (
                await self.session.execute(
                    stmt.order_by(LedgerEntry.id.desc()).limit(limit).offset(skip)
                )
            )
            .scalars()
            .all()
        )
        return items, int((await self.session.execute(count)).scalar_one())
