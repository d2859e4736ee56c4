"""Read-only queries the dashboard needs and no service offers yet."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from dialer.db.session import AsyncReadSession
from dialer.models import Batch, CallStat


async def calls_per_hour(
    session: AsyncReadSession, account_id: str | None, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Calls per hour bucket in [start, end) from the hourly roll-up (never scans attempts)."""
    stmt = (
        select(CallStat.hour, func.sum(CallStat.calls))
        .where(CallStat.hour >= start, CallStat.hour < end)
        .group_by(CallStat.hour)
    )
    if account_id is not None:
        stmt = stmt.where(CallStat.account_id == account_id)
    rows = (await session.execute(stmt)).all()
    return {hour: int(calls or 0) for hour, calls in rows}


async def batch_names(
    session: AsyncReadSession, account_id: str, batch_ids: Iterable[str | None]
) -> dict[str, str]:
    """The names of the account's campaigns among ``batch_ids`` (a ledger page's), by id;
    an id of another account is not answered."""
    wanted = sorted({b for b in batch_ids if b})
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(Batch.id, Batch.name).where(Batch.account_id == account_id, Batch.id.in_(wanted))
        )
    ).all()
    return {batch_id: name for batch_id, name in rows}
