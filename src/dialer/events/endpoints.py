"""``GET /api/v1/batches/{id}/events``: live batch progress as Server-Sent Events.

Authenticated with the API key in a header (never in the query string, where it
would end up in access logs). Browsers, whose EventSource cannot send headers, use
the dashboard's stream, authenticated by its session cookie.

Wire format (``id:`` is the ``events`` row id, so ``Last-Event-ID`` resumes)::

    event: status            first: the current counters (id = resume cursor)
    event: job.status        one per events row, oldest first
    event: status            the counters again whenever they changed
    event: end               final counters; the server closes the stream
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
from dialer.events.stream import StreamItem, batch_stream

router = APIRouter(prefix="/api/v1/batches", tags=["batches"])

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
    "/{batch_id}/events",
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
