"""Provider events: dedupe, hand over to the settlement. The single path for every
provider's events (verified webhooks from ``intake``, the simulated carrier's and the
rescuer's timeouts), so duplicates and out-of-order events are harmless for all of them.

``handle_events``, in the caller's transaction:

1. dedupe: one ``webhook_receipts`` row per event key (INSERT .. ON CONFLICT DO NOTHING,
   keys in sorted order). A concurrent duplicate waits on the unique index and then
   finds the key taken, so it can never apply twice;
2. the fresh events go to ``call.settlement.apply_events`` (attempts, jobs, billing,
   counters, contact log, events; its docstring has the lock order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.call.settlement import apply_events
from dialer.db.bulk import table_of
from dialer.db.dialect import insert
from dialer.kit import clock
from dialer.models import WebhookReceipt
from dialer.telephony.base import CallEvent


async def _fresh_keys(session: AsyncSession, events: Sequence[CallEvent]) -> set[str]:
    rows = [
        {
            "provider": e.provider,
            "event_key": e.event_key,
            "provider_call_id": e.provider_call_id,
            "payload": dict(e.raw),
            "received_at": clock.now(),
        }
        for e in sorted(events, key=lambda e: e.event_key)
    ]
    table = table_of(WebhookReceipt)
    # executemany with RETURNING (insertmanyvalues): compiled once, batched by the driver.
    stmt = (
        insert(session, table)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(table.c.event_key)
    )
    return set((await session.execute(stmt, rows)).scalars().all())


async def handle_events(
    session: AsyncSession, events: Sequence[CallEvent], *, now: datetime | None = None
) -> int:
    """Apply provider events idempotently; returns how many changed something. Never commits."""
    if not events:
        return 0
    unique = {e.event_key: e for e in events}
    fresh = await _fresh_keys(session, list(unique.values()))
    todo = [e for e in unique.values() if e.event_key in fresh]
    if not todo:
        return 0
    return await apply_events(session, todo, now or clock.now())


__all__ = ["handle_events"]
