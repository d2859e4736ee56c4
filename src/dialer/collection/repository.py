"""Queries of payments and of the recovery roll-up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, Job, Payment

_CHUNK = 900  # under SQLite's and asyncpg's bound-parameter limits


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class CollectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> CollectionRepository:
        return cls(session)

    async def account(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

    async def payments_by_reference(
        self, account_id: str, references: Sequence[str]
    ) -> dict[str, Payment]:
        out: dict[str, Payment] = {}
        for chunk in _chunks(sorted(set(references))):
            for p in await self.session.scalars(
                select(Payment).where(
                    Payment.account_id == account_id, Payment.reference.in_(chunk)
                )
            ):
                out[p.reference] = p
        return out

    async def jobs_of_debtors(self, account_id: str, debtor_ids: Sequence[str]) -> list[Job]:
        """Every job of these debtors in the account, in every batch, locked on PostgreSQL."""
        out: list[Job] = []
        for chunk in _chunks(sorted(set(debtor_ids))):
            stmt = (
                select(Job).where(Job.account_id == account_id, Job.dni.in_(chunk)).order_by(Job.id)
            )
            stmt = stmt.with_for_update()
            out.extend((await self.session.scalars(stmt)).all())
        return out

    async def payments(
        self,
        account_id: str,
        *,
        debtor_id: str | None,
        since: date | None,
        limit: int,
        skip: int,
    ) -> tuple[int, Sequence[Payment]]:
        stmt = select(Payment).where(Payment.account_id == account_id)
        if debtor_id is not None:
            stmt = stmt.where(Payment.debtor_id == debtor_id)
        if since is not None:
            stmt = stmt.where(Payment.paid_on >= since)
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (
            await self.session.scalars(
                stmt.order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(limit).offset(skip)
            )
        ).all()
        return int(total), rows
