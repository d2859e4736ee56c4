"""The hourly recovery roll-up (``recovery_stats``): counters per batch and UTC hour that
the recovery figures sum, so they cost the same at any number of jobs.

Writers add deltas in the transaction that makes the change: settling an attempt
(attempts, contacts, right-party contacts, promises, cost), judging a promise (kept,
broken) and importing a payment (payments, recovered amount).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import insert
from dialer.models import RecoveryStat

COUNTERS = (
    "attempts",
    "contacts",
    "right_party",
    "promises",
    "promised_amount",
    "kept",
    "broken",
    "payments",
    "recovered_amount",
    "cost_units",
    "billed_seconds",
)


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class RecoveryDelta:
    batch_id: str
    account_id: str
    hour: datetime
    attempts: int = 0
    contacts: int = 0
    right_party: int = 0
    promises: int = 0
    promised_amount: int = 0
    kept: int = 0
    broken: int = 0
    payments: int = 0
    recovered_amount: int = 0
    cost_units: int = 0
    billed_seconds: int = 0

    def add(self, other: RecoveryDelta) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def merge(deltas: Iterable[RecoveryDelta]) -> list[RecoveryDelta]:
    """One delta per (batch, hour), in key order (a stable lock order for the upserts)."""
    out: dict[tuple[str, datetime], RecoveryDelta] = {}
    for d in deltas:
        d.hour = hour_of(d.hour)
        key = (d.batch_id, d.hour)
        if key in out:
            out[key].add(d)
        else:
            out[key] = RecoveryDelta(**d.row())
    return [out[k] for k in sorted(out)]


async def add_recovery(session: AsyncSession, deltas: Iterable[RecoveryDelta]) -> None:
    """Add the deltas to their hourly buckets (INSERT .. ON CONFLICT DO UPDATE)."""
    rows = [d.row() for d in merge(deltas)]
    if not rows:
        return
    stmt = insert(session, RecoveryStat)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RecoveryStat.batch_id, RecoveryStat.hour],
        set_={
            name: getattr(RecoveryStat, name) + getattr(stmt.excluded, name) for name in COUNTERS
        },
    )
    for row in rows:
        await session.execute(stmt.values(**row))
