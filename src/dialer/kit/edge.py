"""Request-body limits and authentication at the ASGI edge, before anything reads a body.

Without this, the first code to touch a body buffered all of it: the NUL check held any
JSON body in memory, and form parsing spooled a multipart body to disk, both before the
API key was looked at and before any size limit (a 400 MB body to an unauthenticated
webhook path took the process from 148 MB to 1.7 GB before the 401).

``BodyLimitMiddleware`` (outermost after the metrics):

1. asks ``limit_for(scope)`` for the route's limit and refuses a larger
   ``Content-Length`` with 413 before reading a byte;
2. for a request that has a body, runs ``early_auth(scope)``; a response from it (a 401)
   is sent without reading the body, so an anonymous multipart upload is never spooled;
3. counts the bytes of the body as the application reads it (chunked bodies carry no
   length) and, past the limit, answers 413 and tells the application the client left.

Pure ASGI and independent of the rest of the application: ``main`` supplies the limits
and the authentication hook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LimitFor = Callable[[Scope], int]
EarlyAuth = Callable[[Scope], Awaitable[Response | None]]


def too_large(limit: int) -> JSONResponse:
    """The 413 answer for a body over ``limit`` bytes."""
    mb = limit / (1 << 20)
    size = f"{mb:.0f} MB" if mb >= 1 else f"{limit // 1024} KB"
    return JSONResponse(
        {
            "error": "PayloadTooLarge",
            "detail": f"the request body is larger than the {size} allowed on this path",
            "field": "body",
            "limit": limit,
        },
        status_code=413,
        headers={"Connection": "close"},
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value)
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: LimitFor, early_auth: EarlyAuth | None = None):
        self.app = app
        self.limit_for = limit_for
        self.early_auth = early_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length_header = _header(scope, b"content-length")
        chunked = b"chunked" in (_header(scope, b"transfer-encoding") or b"").lower()
        length: int | None = None
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                length = None
            if length is None or length < 0:
                await JSONResponse(
                    {"error": "BadRequest", "detail": "invalid Content-Length"}, status_code=400
                )(scope, receive, send)
                return
            if length > limit:
                await too_large(limit)(scope, receive, send)
                return
        has_body = chunked or bool(length)
        if has_body and self.early_auth is not None:
            refusal = await self.early_auth(scope)
            if refusal is not None:
                refusal.headers["Connection"] = "close"  # the unread body is never drained
                await refusal(scope, receive, send)
                return
        if not has_body:
            await self.app(scope, receive, send)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await too_large(limit)(scope, receive, guarded_send_raw)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send_raw(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        async def guarded_send(message: Message) -> None:
            # After a 413 the application may still try to answer (its body read failed):
            # that answer is dropped, the client already has one.
            if refused:
                return
            await guarded_send_raw(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The application's body read ended with the disconnect we gave it.
