"""Provider configuration queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, Batch, BatchStatus, CallAttempt, ProviderConfig


class AttemptBinding(NamedTuple):
    attempt_id: str
    account_id: str
    provider: str
    provider_call_id: str | None


class ProviderConfigRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ProviderConfigRepository:
        return cls(session)

    async def get(self, account_id: str, provider: str) -> ProviderConfig | None:
        stmt = select(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.provider == provider
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def account_exists(self, account_id: str) -> bool:
        stmt = select(Account.id).where(Account.id == account_id)
        return (await self.session.execute(stmt)).first() is not None

    async def attempt_binding(
        self, provider: str, attempt_id: str | None, provider_call_id: str | None
    ) -> AttemptBinding | None:
        """The attempt with id ``attempt_id``, else the one with the provider's call id."""
        conds = []
        if attempt_id:
            conds.append(CallAttempt.id == attempt_id)
        if provider_call_id:
            conds.append(
                and_(
                    CallAttempt.provider == provider,
                    CallAttempt.provider_call_id == provider_call_id,
                )
            )
        if not conds:
            return None
        stmt = (
            select(
                CallAttempt.id,
                CallAttempt.account_id,
                CallAttempt.provider,
                CallAttempt.provider_call_id,
            )
            .where(or_(*conds))
            .limit(2)
        )
        rows = (await self.session.execute(stmt)).all()
        # Our own id wins over a call-id match (both are indexed lookups, one statement).
        row = next((r for r in rows if r.id == attempt_id), rows[0] if rows else None)
        return AttemptBinding(*row) if row is not None else None

    async def calls_of_other_attempts(
        self, provider: str, provider_call_ids: list[str], attempt_id: str
    ) -> set[str]:
        """Which of ``provider_call_ids`` are the calls of attempts other than ``attempt_id``."""
        stmt = select(CallAttempt.provider_call_id).where(
            CallAttempt.provider == provider,
            CallAttempt.provider_call_id.in_(provider_call_ids),
            CallAttempt.id != attempt_id,
        )
        return {r for r in (await self.session.execute(stmt)).scalars().all() if r}

    async def batch_options(self, batch_id: str) -> dict[str, Any]:
        stmt = select(Batch.provider_options).where(Batch.id == batch_id)
        return dict((await self.session.execute(stmt)).scalar_one_or_none() or {})

    async def pin_batch_options(self, batch_id: str, values: dict[str, str]) -> dict[str, Any]:
        """Store ``values`` in the batch's ``provider_options`` unless it already pins an
        agent version (another worker was first); the batch's options as stored. The
        batch row is locked (PostgreSQL) so two workers agree on one pin."""
        stmt = select(Batch).where(Batch.id == batch_id).with_for_update()
        batch = (await self.session.execute(stmt)).scalar_one_or_none()
        if batch is None:
            return dict(values)
        options = dict(batch.provider_options or {})
        same_agent = options.get("agent_id") in (None, "", values.get("agent_id"))
        if not options.get("agent_version") and same_agent:
            options.update({k: v for k, v in values.items() if not options.get(k)})
            batch.provider_options = options
            await self.session.flush()
        return options

    @staticmethod
    def _started(
        providers: list[str],
        *,
        default: str,
        started_from: datetime | ColumnElement[datetime],
        now: datetime | ColumnElement[datetime],
    ) -> ColumnElement[bool]:
        names: ColumnElement[bool] = Batch.provider.in_(providers)
        if default in providers:
            names = or_(names, Batch.provider.is_(None))
        return and_(
            Batch.status == BatchStatus.ACTIVE,
            Batch.started_at <= now,
            Batch.started_at >= started_from,
            names,
        )

    @classmethod
    def started_exists(
        cls,
        providers: list[str],
        *,
        default: str,
        started_from: datetime | ColumnElement[datetime],
        now: datetime | ColumnElement[datetime],
    ) -> ColumnElement[bool]:
        """Whether ``started_batches`` would return a row (pinned or not)."""
        where = cls._started(providers, default=default, started_from=started_from, now=now)
        return select(Batch.id).where(where).exists()

    async def started_batches(
        self, providers: list[str], *, default: str, started_from: datetime, now: datetime,
        limit: int,
    ) -> list[tuple[str, str, str | None, dict[str, Any]]]:  # fmt: skip
        """(id, account id, provider, provider options) of the active batches of these
        providers (``default``: the one a batch naming none uses) whose start fired
        between ``started_from`` and ``now``, oldest start first."""
        where = self._started(providers, default=default, started_from=started_from, now=now)
        stmt = (
            select(Batch.id, Batch.account_id, Batch.provider, Batch.provider_options)
            .where(where)
            .order_by(Batch.started_at, Batch.id)
            .limit(limit)
        )
        return [(r[0], r[1], r[2], dict(r[3] or {})) for r in await self.session.execute(stmt)]

    def add(self, config: ProviderConfig) -> ProviderConfig:
        self.session.add(config)
        return config
