"""Live progress as Server-Sent Events: ``GET /api/v1/batches/{id}/events`` (one batch)
and ``GET /api/v1/accounts/{id}/events`` (everything of one account).

Authenticated with the API key in a header (never in the query string, where it
would end up in access logs). Browsers, whose EventSource cannot send headers, use
the dashboard's stream, authenticated by its session cookie.

Wire format (``id:`` is the ``events`` row id, so ``Last-Event-ID`` resumes)::

    event: status            first: the current counters (id = resume cursor)
    event: job.status        one per events row, oldest first
    event: status            the counters again whenever they changed
    event: end               final counters; the server closes the stream

The account stream (never ends by itself; ``Last-Event-ID`` resumes the same way)::

    event: ready             first: {"account_id", "cursor"} (id = resume cursor)
    event: <events row type> every events row of the account, of every batch and of
                             the account itself (balance, settings), oldest first, as
                             {"id", "type", "batch_id", "job_id", "data", "created_at"}

Both are read from the ``events`` table (an outbox written in the same transaction as
the change), so every API process sees what any worker or API process committed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from dialer.account.auth import CurrentPrincipal
from dialer.account.ratelimit import StreamRateLimit
from dialer.db.session import DatabaseDep
from dialer.errors import InvalidInput
from dialer.events.stream import StreamItem, account_stream, batch_stream

router = APIRouter(prefix="/api/v1")

HEARTBEAT_S = 15


def parse_last_event_id(value: str | None) -> int | None:
    """The resume cursor from a Last-Event-ID header (None when absent)."""
    if value is None or value.strip() == "":
        return None
    try:
        cursor = int(value.strip())
    except ValueError:
        raise InvalidInput(
            "Last-Event-ID must be an event id from this stream", field="Last-Event-ID"
        ) from None
    if cursor < 0:
        raise InvalidInput("Last-Event-ID must not be negative", field="Last-Event-ID")
    return cursor


def to_sse(item: StreamItem) -> ServerSentEvent:
    name = item.event_type if item.kind == "event" else item.kind
    return ServerSentEvent(
        data=json.dumps(item.data, separators=(",", ":")),
        event=name,
        id=None if item.id is None else str(item.id),
    )


@router.get(
    "/batches/{batch_id}/events",
    tags=["batches"],
    response_class=EventSourceResponse,
    summary="Live progress of a batch (Server-Sent Events)",
    dependencies=[StreamRateLimit],
)
async def batch_events(
    batch_id: str,
    request: Request,
    principal: CurrentPrincipal,
    db: DatabaseDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    after_id = parse_last_event_id(last_event_id)
    stream = batch_stream(db, batch_id, account_id=principal.scope(None), after_id=after_id)
    # Pull the snapshot before answering, so an unknown batch is a plain 404 JSON
    # rather than a 200 stream that dies at once.
    first = await anext(stream)

    async def body() -> AsyncIterator[ServerSentEvent]:
        yield to_sse(first)
        async for item in stream:
            yield to_sse(item)

    return EventSourceResponse(body(), ping=HEARTBEAT_S)


@router.get(
    "/accounts/{account_id}/events",
    tags=["accounts"],
    response_class=EventSourceResponse,
    summary="Live events of an account, every batch included (Server-Sent Events)",
    dependencies=[StreamRateLimit],
)
async def account_events(
    account_id: str,
    principal: CurrentPrincipal,
    db: DatabaseDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    after_id = parse_last_event_id(last_event_id)
    principal.check_account(account_id)  # another tenant's account: 404, as if absent
    stream = account_stream(db, account_id, after_id=after_id)
    first = await anext(stream)  # an unknown account is a plain 404 JSON

    async def body() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(
            data=json.dumps({"account_id": account_id, "cursor": first.cursor}),
            event="ready",
            id=str(first.cursor),
        )
        async for rnd in stream:
            for item in rnd.events:
                yield to_sse(item)

    return EventSourceResponse(body(), ping=HEARTBEAT_S)
