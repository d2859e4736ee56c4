"""A tiny Server-Sent Events reader for stream tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Sse:
    event: str
    data: Any
    id: str | None


async def read_events(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse an SSE body as the browser does (comments such as pings are skipped)."""
    event, data, ident = "message", [], None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Sse(event, json.loads("\n".join(data)), ident)
            event, data, ident = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                ident = value
