"""Read-only queries the dashboard needs and no service offers yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from dialer.db.session import AsyncReadSession
from dialer.models import CallStat


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
