"""Application errors. Every error carries its HTTP status; one handler renders them as JSON.

    AppError (500)
     ├── NotFound (404)
     ├── Conflict (409)
     ├── PermissionDenied (403)
     ├── Unauthorized (401)
     ├── InvalidInput (422)        business validation; names the field
     ├── PaymentRequired (402)
     └── TooManyRequests (429)

Domain errors subclass these next to their domain (``billing.errors``, ``batch.errors``...).
The class docstring is the default message.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """Internal error."""

    status_code: int = 500

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or (self.__class__.__doc__ or "Error").strip()
        self.field = field
        # Extra response headers (e.g. Retry-After on 429); not part of the body.
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.__class__.__name__, "detail": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class NotFound(AppError):
    """Not found."""

    status_code = 404


class Conflict(AppError):
    """The resource is in a state that does not allow this."""

    status_code = 409


class PermissionDenied(AppError):
    """Not allowed."""

    status_code = 403


class Unauthorized(AppError):
    """Missing or invalid API key."""

    status_code = 401


class InvalidInput(AppError):
    """Invalid input."""

    status_code = 422


def invalid_input(exc: ValidationError, where: str | None = None) -> InvalidInput:
    """The one conversion of a pydantic ValidationError raised outside request parsing
    (JSON held in a form field, stored settings): a 422 naming the first bad field, as
    ``<where>.<location>: <message>``."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    field = ".".join(x for x in (where, loc) if x) or None
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return InvalidInput(f"{field}: {msg}" if field else msg, field=field)


class PaymentRequired(AppError):
    """Insufficient balance."""

    status_code = 402


class TooManyRequests(AppError):
    """Rate limit exceeded."""

    status_code = 429


class FieldErrorBody(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: the error class, a readable detail, and the field when known."""

    # Domain errors may add context (e.g. the rule a call_settings value breaks).
    model_config = ConfigDict(extra="allow")

    error: str
    detail: str
    field: str | None = None
    errors: list[FieldErrorBody] | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for these status codes, all with the ErrorBody model."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or invalid API key",
    402: "Insufficient balance",
    403: "Not allowed with this key",
    404: "Not found (also anything of another account)",
    409: "Conflict with the resource's state",
    413: "The upload is too large",
    415: "Unsupported file type",
    422: "Invalid input; names the field",
    429: "Rate limit exceeded (see Retry-After)",
}

# Documented on every API route: what any authenticated JSON endpoint may answer.
API_ERROR_RESPONSES = error_responses(400, 401, 402, 403, 404, 409, 422, 429)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts)


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    headers.update(exc.headers)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        errors.append({"field": _loc_to_field(tuple(err.get("loc", ()))), "message": msg})
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return JSONResponse(
        {"error": "ValidationError", "detail": detail, "errors": errors}, status_code=422
    )


_HTTP_ERROR_NAMES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "UploadTooLarge",
}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework-raised errors (unparseable body, unknown route) in the same JSON shape."""
    assert isinstance(exc, StarletteHTTPException)
    name = _HTTP_ERROR_NAMES.get(exc.status_code, "HTTPError")
    return JSONResponse(
        {"error": name, "detail": str(exc.detail)},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
