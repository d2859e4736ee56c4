"""Error bodies under ``/legacy``: dialer's, plus the ``message`` and ``code`` the
replaced system's clients read (``detail`` stays, as FastAPI's HTTPException sent it)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dialer.errors import API_ERROR_RESPONSES, AppError, FieldErrorBody

PREFIX = "/legacy"


class LegacyErrorBody(BaseModel):
    """An error answer under /legacy: dialer's ``error`` and ``detail`` (the original's
    ``detail``) and, from the routes, the original's ``message``, dialer's error name as
    ``code`` and the status. Refusals at the ASGI edge (body too large, a NUL byte, a bad
    key sent with a body) carry dialer's fields only."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: str
    message: str | None = None
    code: str | None = None
    status_code: int | None = None
    field: str | None = None
    errors: list[FieldErrorBody] | None = None


# The same statuses as every API route, documented with the body /legacy sends.
LEGACY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {**entry, "model": LegacyErrorBody} for code, entry in API_ERROR_RESPONSES.items()
}


def legacy_body(body: dict[str, Any], status_code: int) -> dict[str, Any]:
    """``{"detail", "message", "code", ...}``: ``code`` is dialer's error name (also kept
    as ``error``, so every error answer has dialer's fields too)."""
    detail = body.get("detail")
    rest = {k: v for k, v in body.items() if k != "detail"}
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
