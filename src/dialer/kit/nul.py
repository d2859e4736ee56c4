"""Refuse NUL characters in request input with a 422 that names the field.

PostgreSQL text cannot hold U+0000 (SQLite can), so a NUL in a JSON string or a query
parameter would otherwise surface as a database error on one backend only. Checked
once at the edge, for JSON bodies, URL-encoded forms and query strings; the JSON body
is only parsed when its raw bytes contain an escaped NUL, so normal requests pay a
substring search.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MESSAGE = "must not contain NUL characters (\\u0000)"


def _nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in str(k):
                return f"{path}.{k}".strip(".")
            found = _nul_path(v, f"{path}.{k}".strip("."))
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}.{i}".strip("."))
            if found is not None:
                return found
    return None


def _refusal(field: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": "ValidationError",
            "detail": f"{field}: {_MESSAGE}",
            "field": field,
            "errors": [{"field": field, "message": _MESSAGE}],
        },
        status_code=422,
    )


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    await _refusal(name.replace("\x00", "") or "query")(scope, receive, send)
                    return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype not in (b"application/json", b"application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        # Buffer the body once and replay it to the application unchanged.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        field = _find_in_body(body, ctype)
        if field is not None:
            await _refusal(field)(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _find_in_body(body: bytes, ctype: bytes) -> str | None:
    if ctype == b"application/json":
        if b"\\u0000" not in body:
            return None
        try:
            return _nul_path(json.loads(body)) or None
        except ValueError:
            return None  # invalid JSON gets the framework's own 422
    if b"%00" not in body:
        return None
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "body"
    return None


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
