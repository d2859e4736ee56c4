"""Account, API-key and account-wide aggregate queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.job.states import AttemptStatus
from dialer.models import (
    Account,
    ApiKey,
    Batch,
    BatchStatus,
    CallAttempt,
    DashboardSession,
    LedgerEntry,
    User,
)

# A suspended account's batches wait with this reason (the claim writes the same).
ACCOUNT_SUSPENDED = "account_suspended"


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AccountRepository:
        return cls(session)

    async def get(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

    async def plan_and_timezone(self, account_id: str) -> tuple[str, str] | None:
        """(plan_type, timezone) of the account, or None; one narrow primary-key read."""
        stmt = select(Account.plan_type, Account.timezone).where(Account.id == account_id)
        row = (await self.session.execute(stmt)).first()
        return (str(row[0]), str(row[1])) if row else None

    async def mark_batches_suspended(self, account_id: str, *, suspended: bool) -> None:
        """Set (or clear) ``waiting_reason = account_suspended`` on the account's active
        batches."""
        stmt = update(Batch).where(Batch.account_id == account_id, Batch.is_active.is_(True))
        if suspended:
            stmt = stmt.values(waiting_reason=ACCOUNT_SUSPENDED, waiting_until=None)
        else:
            stmt = stmt.where(Batch.waiting_reason == ACCOUNT_SUSPENDED).values(waiting_reason=None)
        await self.session.execute(stmt)

    async def exists(self, account_id: str) -> bool:
        stmt = select(Account.id).where(Account.id == account_id)
        return (await self.session.execute(stmt)).first() is not None

    async def list(
        self,
        *,
        account_id: str | None,
        status: str | None,
        country: str | None,
        plan_type: str | None,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[Account], int]:
        conds: list[Any] = []
        if account_id is not None:
            conds.append(Account.id == account_id)
        if status is not None:
            conds.append(Account.status == status)
        if country is not None:
            conds.append(Account.country == country)
        if plan_type is not None:
            conds.append(Account.plan_type == plan_type)
        stmt = select(Account).where(*conds).order_by(Account.created_at.desc(), Account.id)
        items = (await self.session.execute(stmt.limit(limit).offset(skip))).scalars().all()
        total = (
            await self.session.execute(select(func.count()).select_from(Account).where(*conds))
        ).scalar_one()
        return items, int(total)

    async def reserved_in_flight(self, account_id: str) -> int:
        """Units held by attempts that have not settled yet.

        Bounded by the number of calls in flight: the status index narrows the scan.
        """
        stmt = select(func.coalesce(func.sum(CallAttempt.reserved_units), 0)).where(
            CallAttempt.status.in_(
                [AttemptStatus.DIALING, AttemptStatus.UNKNOWN, AttemptStatus.IN_PROGRESS]
            ),
            CallAttempt.account_id == account_id,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def ledger_entry_by_key(self, key: str) -> LedgerEntry | None:
        stmt = select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def batch_totals(self, account_id: str) -> dict[str, int]:
        """Sums of the batch counters of an account (one row per batch, never per job)."""
        cols = (
            "total_jobs",
            "pending_jobs",
            "in_progress_jobs",
            "completed_jobs",
            "failed_jobs",
            "cancelled_jobs",
            "attempts_made",
            "answered_calls",
            "billed_seconds",
            "cost_units",
        )
        stmt = select(
            func.count().label("total_batches"),
            *(func.coalesce(func.sum(getattr(Batch, c)), 0).label(c) for c in cols),
        ).where(Batch.account_id == account_id)
        row = (await self.session.execute(stmt)).one()
        return {k: int(v) for k, v in row._mapping.items()}

    async def batch_status_counts(self, account_id: str) -> dict[str, int]:
        stmt = (
            select(Batch.status, func.count())
            .where(Batch.account_id == account_id)
            .group_by(Batch.status)
        )
        rows = (await self.session.execute(stmt)).all()
        counts = {str(s): 0 for s in BatchStatus}
        counts.update({str(status): int(n) for status, n in rows})
        return counts

    async def last_call_settings(self, account_id: str) -> tuple[str, dict[str, Any]] | None:
        """The most recent batch of the account that stored call_settings."""
        stmt = (
            select(Batch.id, Batch.call_settings)
            .where(Batch.account_id == account_id)
            .order_by(Batch.created_at.desc(), Batch.id.desc())
            .limit(20)
        )
        # Empty settings are stored as {}; JSON emptiness is not portable in SQL, so
        # look at the newest few rows in Python.
        for batch_id, call_settings in (await self.session.execute(stmt)).all():
            if call_settings:
                return batch_id, call_settings
        return None

    async def ledger_totals(self, account_id: str) -> dict[str, tuple[int, int]]:
        """(entries, signed sum of units) per ledger kind of the account."""
        stmt = (
            select(LedgerEntry.kind, func.count(), func.coalesce(func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.account_id == account_id)
            .group_by(LedgerEntry.kind)
        )
        return {str(k): (int(n), int(s)) for k, n, s in (await self.session.execute(stmt)).all()}

    async def status_counts(self) -> dict[str, int]:
        """Accounts per status (admin figures)."""
        stmt = select(Account.status, func.count()).group_by(Account.status)
        return {str(s): int(n) for s, n in (await self.session.execute(stmt)).all()}

    def add_key(self, key: ApiKey) -> None:
        self.session.add(key)

    async def list_keys(self, account_id: str) -> Sequence[ApiKey]:
        stmt = (
            select(ApiKey)
            .where(ApiKey.account_id == account_id)
            .order_by(ApiKey.revoked, ApiKey.created_at.desc(), ApiKey.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def get_key(self, account_id: str, key_id: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class UserRepository:
    """Users and their dashboard sessions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> UserRepository:
        return cls(session)

    def add(self, obj: User | DashboardSession) -> None:
        self.session.add(obj)

    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def by_login(self, login: str) -> User | None:
        """The user whose user name or e-mail is ``login`` (already lower-cased)."""
        stmt = select(User).where(or_(User.username == login, User.email == login))
        return (await self.session.execute(stmt.limit(1))).scalar_one_or_none()

    async def taken(self, username: str, email: str | None, *, except_id: str | None) -> str | None:
        """'username' or 'email' when another user holds it, else None."""
        conds = [User.username == username]
        if email is not None:
            conds.append(User.email == email)
        stmt = select(User.username, User.email).where(or_(*conds))
        if except_id is not None:
            stmt = stmt.where(User.id != except_id)
        for name, mail in (await self.session.execute(stmt)).all():
            return "username" if name == username else "email" if mail == email else None
        return None

    async def list(self, account_id: str) -> Sequence[User]:
        stmt = (
            select(User)
            .where(User.account_id == account_id)
            .order_by(User.is_active.desc(), User.username)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def session_with_user(self, session_id: str) -> tuple[DashboardSession, User] | None:
        stmt = (
            select(DashboardSession, User)
            .join(User, User.id == DashboardSession.user_id)
            .where(DashboardSession.id == session_id)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def touch_session(self, session_id: str, at: datetime) -> None:
        await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.id == session_id)
            .values(last_seen_at=at)
        )

    async def delete_session(self, session_id: str) -> None:
        await self.session.execute(
            delete(DashboardSession).where(DashboardSession.id == session_id)
        )

    async def delete_sessions_of(self, user_id: str) -> None:
        await self.session.execute(
            delete(DashboardSession).where(DashboardSession.user_id == user_id)
        )

    async def delete_stale_sessions(self, idle_before: datetime, now: datetime) -> int:
        result = await self.session.execute(
            delete(DashboardSession).where(
                or_(
                    DashboardSession.last_seen_at < idle_before,
                    DashboardSession.expires_at <= now,
                )
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
