"""Enqueue an outbound event: a row in ``outbox_events``, in the caller's transaction, so
the event exists exactly when the change it reports is committed. (Lower layers add
``OutboxEvent.new(...)`` themselves; this is the same thing.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import OutboxEvent
from dialer.models.collection import EVENT_TYPES

__all__ = ["EVENT_TYPES", "enqueue"]


async def enqueue(
    session: AsyncSession, *, account_id: str, type: str, at: datetime, data: dict[str, Any]
) -> str:
    """Add an event to the outbox (written with the caller's transaction); its id."""
    event = OutboxEvent.new(account_id=account_id, type=type, at=at, data=data)
    session.add(event)
    return event.event_id
