"""The live progress stream of one batch, independent of the wire format.

Yields, in order:

1. ``status``: a snapshot of the batch counters (its id is the cursor it was taken at,
   so a client reconnecting with that Last-Event-ID misses nothing);
2. every ``events`` row of the batch after the cursor, oldest first (id = row id),
   each followed by a fresh ``status`` snapshot when the counters changed;
3. ``end`` with the final snapshot, once the batch is completed or cancelled, no call
   is still in flight and every event has been delivered. Then the stream stops.

Rows are read by polling the table (any worker on any machine may have written them).
The polling is done by the API process's ``EventFeed`` (``events/feed.py``), one read
session per round for all the streams it serves; a local commit wakes it early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.batch.schemas import status_of
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.events.feed import feed_for
from dialer.events.repository import EventRepository
from dialer.models import Account, Batch, BatchStatus

FINAL_BATCH = frozenset({BatchStatus.COMPLETED, BatchStatus.CANCELLED})

__all__ = ["AccountRound", "StreamItem", "account_stream", "batch_snapshot", "batch_stream"]


@dataclass(frozen=True)
class StreamItem:
    kind: str  # "status" | "event" | "end"
    data: dict[str, Any]
    id: int | None = None
    event_type: str | None = None  # the events row type, for kind == "event"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def batch_snapshot(batch: Any) -> dict[str, Any]:
    """The batch's progress counters (the /status view), as sent in ``status`` and ``end``.

    ``batch`` is a Batch or a row of its counter columns (with ``cancelled_reason``).
    """
    snapshot = status_of(batch).model_dump()
    snapshot["cancelled_reason"] = batch.cancelled_reason
    return snapshot


def _is_over(batch: Any) -> bool:
    return batch.status in FINAL_BATCH and batch.in_progress_jobs <= 0


async def batch_stream(
    db: Database,
    batch_id: str,
    *,
    account_id: str | None,
    after_id: int | None = None,
) -> AsyncIterator[StreamItem]:
    """Stream the progress of ``batch_id`` (see the module docstring for the sequence).

    ``account_id`` scopes the batch to a tenant (None for the admin); another
    account's batch raises NotFound. ``after_id`` resumes after a Last-Event-ID.
    """
    async with db.read() as session:
        repo = EventRepository.from_session(session)
        batch: Batch | None = await repo.batch(batch_id)
        if batch is None or (account_id is not None and batch.account_id != account_id):
            raise NotFound(f"batch '{batch_id}' not found")
        cursor = after_id if after_id is not None else await repo.last_id(batch_id)
        snapshot = batch_snapshot(batch)
    yield StreamItem("status", snapshot, id=cursor)

    feed = feed_for(db)
    watch = feed.watch(batch_id, cursor)
    high = cursor  # highest id delivered
    at_once = True  # ask for a round without waiting
    try:
        while True:
            # The first round comes at once (a resumed stream may have a backlog, and a
            # finished batch ends without waiting for the poll interval), as does the
            # one after a round cut short by a backlog.
            rnd = await feed.next_round(watch, now=at_once)
            at_once = not rnd.drained  # a backlog: ask for the next page at once
            if rnd.counters is None:  # deleted with its account
                return
            for row in rnd.rows:
                yield StreamItem(
                    "event",
                    {
                        "id": row.id,
                        "type": row.type,
                        "job_id": row.job_id,
                        "data": row.data,
                        "created_at": _iso(row.created_at),
                    },
                    id=row.id,
                    event_type=row.type,
                )
                high = max(high, row.id)
            fresh = batch_snapshot(rnd.counters)
            if rnd.drained and _is_over(rnd.counters):
                yield StreamItem("end", fresh, id=high)
                return
            if fresh != snapshot:
                snapshot = fresh
                yield StreamItem("status", snapshot)
    finally:
        feed.unwatch(watch)


@dataclass(frozen=True)
class AccountRound:
    """What one poll found for an account stream: its cursor and the new events.

    The first round is the cursor alone (``events`` empty), sent before any wait, so a
    client that reconnects with it as Last-Event-ID misses nothing.
    """

    cursor: int
    events: list[StreamItem]


async def account_stream(
    db: Database, account_id: str | None, *, after_id: int | None = None
) -> AsyncIterator[AccountRound]:
    """Every event of an account (of every account for None: the admin's overview) as it
    is committed, by whichever process or machine wrote it, one round at a time.

    The caller has checked that the principal may see ``account_id``; an account that
    does not exist raises NotFound. The stream never ends by itself (accounts do not
    finish); the client closes it.
    """
    async with db.read() as session:
        if account_id is not None and await session.get(Account, account_id) is None:
            raise NotFound(f"account '{account_id}' not found")
        repo = EventRepository.from_session(session)
        cursor = after_id if after_id is not None else await repo.last_account_id(account_id)
    yield AccountRound(cursor, [])

    feed = feed_for(db)
    watch = feed.watch_account(account_id, cursor)
    at_once = after_id is not None  # a resumed stream may have a backlog
    try:
        while True:
            rnd = await feed.next_round(watch, now=at_once)
            at_once = not rnd.drained
            if not rnd.rows:
                continue
            items = [
                StreamItem(
                    "event",
                    {
                        "id": row.id,
                        "type": row.type,
                        "batch_id": row.batch_id,
                        "job_id": row.job_id,
                        "data": row.data,
                        "created_at": _iso(row.created_at),
                    },
                    id=row.id,
                    event_type=row.type,
                )
                for row in rnd.rows
            ]
            cursor = max(cursor, rnd.rows[-1].id)
            yield AccountRound(cursor, items)
    finally:
        feed.unwatch(watch)
