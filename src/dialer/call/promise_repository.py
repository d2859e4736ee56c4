"""Queries of promises to pay and the payments that judge them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Batch, Job, Payment, Promise

# Debtors per payments read (bound parameters stay far below every driver's limit).
_CHUNK = 500


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

    @staticmethod
    def due_exists(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
        """One index probe: is an open promise waiting for its judgement?"""
        return select(Promise.id).where(Promise.status == "open", Promise.judge_at <= now).exists()

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

    async def payments_of(
        self, debtors: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[tuple[str, date, int]]]:
        """The payments of these (account, debtor) pairs as (currency, paid_on, amount), by
        pair: one read for a whole round of promises instead of one sum per promise."""
        wanted = set(debtors)
        out: dict[tuple[str, str], list[tuple[str, date, int]]] = {}
        pairs = sorted(wanted)
        for i in range(0, len(pairs), _CHUNK):
            chunk = pairs[i : i + _CHUNK]
            stmt = select(
                Payment.account_id, Payment.debtor_id, Payment.currency, Payment.paid_on,
                Payment.amount,
            ).where(
                Payment.account_id.in_(sorted({a for a, _ in chunk})),
                Payment.debtor_id.in_(sorted({d for _, d in chunk})),
            )  # fmt: skip
            for account_id, debtor_id, currency, paid_on, amount in await self.session.execute(
                stmt
            ):
                key = (account_id, debtor_id)
                if key in wanted:
                    out.setdefault(key, []).append((currency, paid_on, int(amount or 0)))
        return out

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

    async def batch_settings(self, batch_ids: Iterable[str]) -> dict[str, dict[str, object]]:
        """The stored call settings of these batches, by id (a missing batch is absent)."""
        ids = sorted(set(batch_ids))
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Batch.id, Batch.call_settings).where(Batch.id.in_(ids))
        )
        return {batch_id: dict(stored or {}) for batch_id, stored in rows}
