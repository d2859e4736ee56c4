"""Script queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Script


class ScriptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ScriptRepository:
        return cls(session)

    async def get(self, script_id: str) -> Script | None:
        return await self.session.get(Script, script_id)

    async def get_version(self, account_id: str, name: str, version: int) -> Script | None:
        stmt = select(Script).where(
            Script.account_id == account_id, Script.name == name, Script.version == version
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def latest(self, account_id: str, name: str) -> Script | None:
        stmt = (
            select(Script)
            .where(Script.account_id == account_id, Script.name == name)
            .order_by(Script.version.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def max_version(self, account_id: str, name: str) -> int:
        stmt = select(func.max(Script.version)).where(
            Script.account_id == account_id, Script.name == name
        )
        return int((await self.session.execute(stmt)).scalar_one() or 0)

    async def list(
        self,
        *,
        account_id: str | None,
        name: str | None,
        processing_type: str | None,
        latest_only: bool,
        limit: int,
        skip: int,
    ) -> tuple[Sequence[Script], int]:
        stmt = select(Script)
        if account_id is not None:
            stmt = stmt.where(Script.account_id == account_id)
        if name is not None:
            stmt = stmt.where(Script.name == name)
        if processing_type is not None:
            stmt = stmt.where(Script.processing_type == processing_type)
        if latest_only:
            newest = (
                select(Script.account_id, Script.name, func.max(Script.version).label("v"))
                .group_by(Script.account_id, Script.name)
                .subquery()
            )
            stmt = stmt.join(
                newest,
                (Script.account_id == newest.c.account_id)
                & (Script.name == newest.c.name)
                & (Script.version == newest.c.v),
            )
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (
            await self.session.execute(
                stmt.order_by(Script.name, Script.version.desc()).limit(limit).offset(skip)
            )
        ).scalars()
        return rows.all(), int(total)

    def add(self, script: Script) -> Script:
        self.session.add(script)
        return script
