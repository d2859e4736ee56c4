"""Ledger queries."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import transaction_lock
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
        stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def has_key(self, key: str) -> bool:
        stmt = select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)
        return (await self.session.execute(stmt)).first() is not None

    async def entry_by_key(self, key: str) -> LedgerEntry | None:
        stmt = select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def keys_of_attempts(self, attempt_ids: Collection[str]) -> set[str]:
        """The idempotency keys of these attempts' entries."""
        if not attempt_ids:
            return set()
        # By attempt id (indexed, a few rows each): an IN list of thousands of keys made
        # PostgreSQL scan the whole ledger.
        stmt = select(LedgerEntry.idempotency_key).where(
            LedgerEntry.attempt_id.in_(set(attempt_ids))
        )
        return set((await self.session.execute(stmt)).scalars().all())

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


async def serialize_claims(session: AsyncSession, account_id: str, *, wait: bool = True) -> bool:
    """Take the account's claim lock until the transaction ends (PostgreSQL advisory lock).

    Claims of one account, and pause/resume/cancel of its batches, run one at a time
    under it, so in-flight counts and batch statuses read after taking it are current.
    It is not the account row: call settlements (which only touch the row at their very
    end) do not wait for claims. With ``wait=False`` returns False at once when another
    transaction holds it (a worker then leaves that account to the one claiming it).
    SQLite: BEGIN IMMEDIATE already serialises writers; always True.
    """
    return await transaction_lock(session, "dialer.claim:" + account_id, wait=wait)


async def read_account(session: AsyncSession, account_id: str) -> Account | None:
    """The account as committed now, without locking its row."""
    stmt = select(Account).where(Account.id == account_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def take_balance(
    session: AsyncSession, account_id: str, units: int, *, enforce: bool = True
) -> int | None:
    """Atomically subtract ``units`` if the balance covers it; the new balance, or None.

    ``enforce=False`` (unlimited plans) subtracts whatever the balance is: usage is metered.

    One statement, issued last in a claim, so the account row is locked only for the
    moment before commit.
    """
    covered = Account.balance >= units if enforce else true()
    stmt = (
        update(Account)
        .where(Account.id == account_id, covered)
        .values(balance=Account.balance - units)
        .returning(Account.balance)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else int(row[0])
