"""Refuse NUL characters in request input with a 422 that names the field.

PostgreSQL text cannot hold U+0000 (SQLite can), so a NUL in a JSON string or a query
parameter would otherwise surface as a database error on one backend only. Checked
once at the edge, for JSON bodies, URL-encoded forms and query strings.

Streaming: the body goes on to the application chunk by chunk as it arrives, searched
on the way for an escaped NUL (``\\u0000``, ``%00``, across chunk boundaries). Only when
one was seen is the body parsed, at its end, to name the field; the application's read
of the last chunk is then answered with a disconnect and the client gets the 422. The
copy kept for that is bounded by the edge's body limit (kit/edge.py), which runs first.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MESSAGE = "must not contain NUL characters (\\u0000) or unpaired surrogates (\\ud800-\\udfff)"
# Escapes that may decode to something no database stores: NUL, or a UTF-16 surrogate
# (paired ones are fine and are let through once the body is parsed).
_JSON_MARKER = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _unstorable(text: str) -> bool:
    """A NUL, or a lone surrogate (``\\ud800``: valid JSON, not UTF-8, so neither
    database can store it)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL or a lone surrogate, or None."""
    if isinstance(value, str):
        return path if _unstorable(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if _unstorable(str(k)):
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
        if ctype.endswith(b"+json"):
            ctype = b"application/json"
        if ctype not in (b"application/json", b"application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        await self._stream(scope, receive, send, ctype)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, ctype: bytes) -> None:
        json_body = ctype == b"application/json"
        markers = (b"%00", b"\x00")
        overlap = 5
        chunks: list[bytes] = []
        tail = b""
        seen = False
        refused = False

        async def checking_receive() -> Message:
            nonlocal tail, seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            chunks.append(body)
            window = tail + body
            if not seen and (
                _JSON_MARKER.search(window) if json_body else any(m in window for m in markers)
            ):
                seen = True
            tail = window[-overlap:]
            if message.get("more_body", False) or not seen:
                return message
            field = _find_in_body(b"".join(chunks), ctype)
            if field is None:
                return message  # a false alarm (an escaped backslash before "u0000")
            refused = True
            await _refusal(field)(scope, receive, send)
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            if not refused:  # the application's answer after the refusal is dropped
                await send(message)

        try:
            await self.app(scope, checking_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def _find_in_body(body: bytes, ctype: bytes) -> str | None:
    if ctype == b"application/json":
        if _JSON_MARKER.search(body) is None:
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
