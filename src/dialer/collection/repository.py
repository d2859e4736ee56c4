"""Queries of payments and of the recovery roll-up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, Batch, Job, Payment, RecoveryStat

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
            if self.session.get_bind().dialect.name == "postgresql":
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

    async def batch_owner(self, batch_id: str) -> tuple[str, str] | None:
        row = (
            await self.session.execute(
                select(Batch.account_id, Batch.name).where(Batch.id == batch_id)
            )
        ).first()
        return (str(row[0]), str(row[1])) if row else None

    async def recovery_rows(
        self,
        *,
        account_id: str | None,
        batch_id: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[Any, ...]]:
        """(hour, counters...) per hour over the roll-up, summed across batches."""
        cols = [
            func.sum(getattr(RecoveryStat, name))
            for name in (
                "attempts", "contacts", "right_party", "promises", "promised_amount", "kept",
                "broken", "payments", "recovered_amount", "cost_units", "billed_seconds",
            )
        ]  # fmt: skip
        stmt = select(RecoveryStat.hour, *cols)
        if batch_id is not None:
            stmt = stmt.where(RecoveryStat.batch_id == batch_id)
        if account_id is not None:
            stmt = stmt.where(RecoveryStat.account_id == account_id)
        if start is not None:
            stmt = stmt.where(RecoveryStat.hour >= start)
        if end is not None:
            stmt = stmt.where(RecoveryStat.hour < end)
        stmt = stmt.group_by(RecoveryStat.hour).order_by(RecoveryStat.hour)
        return [tuple(r) for r in (await self.session.execute(stmt)).all()]
