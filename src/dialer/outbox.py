"""Progress events: rows appended in the caller's transaction (an outbox).

Readers (SSE endpoints in any API process) poll ``events`` by id; an in-process
notifier wakes local subscribers immediately after a local commit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import Event

_waiters: set[asyncio.Event] = set()


async def publish(
    session: AsyncSession,
    *,
    account_id: str,
    type: str,
    batch_id: str | None = None,
    job_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append a progress event; visible to readers when the caller commits."""
    session.add(
        Event(account_id=account_id, batch_id=batch_id, job_id=job_id, type=type, data=data or {})
    )
    _notify_soon()


def _notify_soon() -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    # Wake waiters a little later: the publishing transaction is likely committed by then,
    # and they poll the table anyway, so an early wake-up costs one cheap query.
    loop.call_later(0.05, notify_local)


def notify_local() -> None:
    for w in list(_waiters):
        w.set()


def subscribe() -> asyncio.Event:
    ev = asyncio.Event()
    _waiters.add(ev)
    return ev


def unsubscribe(ev: asyncio.Event) -> None:
    _waiters.discard(ev)
