"""Enqueue an outbound event: a row in ``outbox_events``, in the caller's transaction, so
the event exists exactly when the change it reports is committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import OutboxEvent

EVENT_TYPES = (
    "call.completed",
    "job.finished",
    "promise.created",
    "promise.broken",
    "payment.matched",
    "batch.completed",
)


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def envelope(
    event_id: str, type: str, account_id: str, at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """The JSON body receivers get (the same bytes on every redelivery)."""
    return {
        "id": event_id,
        "type": type,
        "created_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": account_id,
        "data": data,
    }


def outbox_row(*, account_id: str, type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The ``outbox_events`` row for an event (for bulk inserts)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event_id = new_event_id()
    return {
        "event_id": event_id,
        "account_id": account_id,
        "type": type,
        "payload": envelope(event_id, type, account_id, at, data),
        "created_at": at,
    }


async def enqueue(
    session: AsyncSession, *, account_id: str, type: str, at: datetime, data: dict[str, Any]
) -> str:
    """Add an event to the outbox (flushed with the caller's transaction); its id."""
    row = outbox_row(account_id=account_id, type=type, at=at, data=data)
    session.add(OutboxEvent(**row))
    return str(row["event_id"])
