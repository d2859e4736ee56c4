"""Provider callbacks: verify, dedupe, hand over to the settlement. The single path for
every provider's events (the simulated carrier's and the rescuer's timeouts too), so
duplicates and out-of-order events are harmless for all of them.

``handle_events``, in the caller's transaction:

1. dedupe: one ``webhook_receipts`` row per event key (INSERT .. ON CONFLICT DO NOTHING,
   keys in sorted order). A concurrent duplicate waits on the unique index and then
   finds the key taken, so it can never apply twice;
2. the fresh events go to ``call.settlement.apply_events`` (attempts, jobs, billing,
   counters, contact log, events; its docstring has the lock order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.call.settlement import apply_events
from dialer.config import Settings
from dialer.db.bulk import table_of
from dialer.db.session import Database, dialect_of
from dialer.errors import InvalidInput, NotFound, Unauthorized
from dialer.kit import clock
from dialer.metrics import WEBHOOKS
from dialer.models import WebhookReceipt
from dialer.telephony.base import CallEvent, WebhookVerificationError, check_event


async def receive_webhook(
    session: AsyncSession,
    *,
    provider_name: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    settings: Settings,
    db: Database,
    after_commit: Callable[[Callable[[], Awaitable[None]]], None] | None = None,
) -> int:
    """Verify and apply one provider webhook. Raises NotFound for an unknown provider and
    Unauthorized for a bad signature. Returns how many events were applied.

    The vendor's reaction to the events (Twilio: hang up a machine-answered call) is an
    HTTP call: given ``after_commit``, it is handed there to run once the transaction is
    committed, never while the settlement's locks are held."""
    from dialer.telephony.providers.routing import react, verify_webhook
    from dialer.telephony.registry import get_provider, known_providers

    if provider_name not in known_providers():
        raise NotFound(f"unknown provider '{provider_name}'")
    provider = get_provider(provider_name, settings, db)
    try:
        # Verified with the credentials of the attempt's own account and bound to it.
        events = await verify_webhook(
            provider, db, body=body, headers=headers, url=url, now=clock.now()
        )
        for event in events:
            check_event(event)
    except WebhookVerificationError as exc:
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise Unauthorized(f"webhook rejected: {exc}") from None
    except (ValueError, TypeError, OverflowError, OSError, KeyError, AttributeError) as exc:
        # Signed or not, absurd values (a timestamp of 10^20, a list where an id goes)
        # are the sender's to fix: a 422, never a 500.
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise MalformedWebhook(f"webhook body: {exc}", field="body") from None
    applied = await handle_events(session, events)
    WEBHOOKS.labels(provider_name, "accepted").inc()

    async def reaction() -> None:
        await react(provider, events)

    if after_commit is not None:
        after_commit(reaction)
    else:
        await reaction()
    return applied


class MalformedWebhook(InvalidInput):
    """The webhook body holds values no call can have."""


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
    ins = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    table = table_of(WebhookReceipt)
    # executemany with RETURNING (insertmanyvalues): compiled once, batched by the driver.
    stmt = (
        ins(table).on_conflict_do_nothing(index_elements=["event_key"]).returning(table.c.event_key)
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


__all__ = ["MalformedWebhook", "handle_events", "receive_webhook"]
