"""Error bodies under ``/legacy``: dialer's, plus the ``message`` and ``code`` the
replaced system's clients read (``detail`` stays, as FastAPI's HTTPException sent it)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dialer.errors import AppError

PREFIX = "/legacy"


def legacy_body(body: dict[str, Any], status_code: int) -> dict[str, Any]:
    """``{"detail", "message", "code", ...}``: ``code`` is dialer's error name."""
    detail = body.get("detail")
    rest = {k: v for k, v in body.items() if k not in ("detail", "error")}
    return {"detail": detail, "message": detail, "code": body.get("error"),
            "status_code": status_code, **rest}  # fmt: skip


def install(app: FastAPI) -> None:
    """Wrap the installed JSON handlers so answers under /legacy carry message and code."""
    for exc_class in (AppError, StarletteHTTPException, RequestValidationError):
        original = app.exception_handlers[exc_class]

        async def handler(request: Request, exc: Exception, original: Any = original) -> Response:
            response: Response = await original(request, exc)
            if not request.url.path.startswith(PREFIX + "/") and request.url.path != PREFIX:
                return response
            body = json.loads(bytes(response.body))
            headers = {
                k: v for k, v in response.headers.items()
                if k.lower() not in ("content-length", "content-type")
            }  # fmt: skip
            return JSONResponse(
                legacy_body(body, response.status_code),
                status_code=response.status_code,
                headers=headers,
            )

        app.add_exception_handler(exc_class, handler)
