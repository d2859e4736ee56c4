"""Provider configuration queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Account, CallAttempt, ProviderConfig


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

    async def account_of_call(self, provider: str, provider_call_id: str) -> str | None:
        stmt = (
            select(CallAttempt.account_id)
            .where(
                CallAttempt.provider == provider, CallAttempt.provider_call_id == provider_call_id
            )
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, config: ProviderConfig) -> ProviderConfig:
        self.session.add(config)
        return config
