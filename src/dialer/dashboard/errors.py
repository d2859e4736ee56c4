"""The dashboard's HTML error handler: a full page, or a toast for htmx requests."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from dialer.dashboard.auth import SESSION_COOKIE, LoginRequired, clear_session_cookie
from dialer.dashboard.explain import refusal_in_words
from dialer.dashboard.i18n import translator
from dialer.dashboard.rendering import render, request_lang
from dialer.errors import AppError


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_response(request: Request, status_code: int, message: str) -> Response:
    """Render ``message``: into the toast region for htmx, else as a whole page."""
    if _is_htmx(request):
        response = render(
            request, "_toast.html", {"message": message, "level": "error"}, status_code=status_code
        )
        # Whatever the request targeted, the message goes to the toast region.
        response.headers["HX-Retarget"] = "#toasts"
        response.headers["HX-Reswap"] = "beforeend"
        return response
    return render(
        request, "error.html", {"message": message, "status": status_code}, status_code=status_code
    )


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if isinstance(exc, LoginRequired):
        login = "/dashboard/login?" + urlencode({"next": request.url.path})
        if _is_htmx(request):
            response: Response = Response(status_code=401, headers={"HX-Redirect": str(login)})
        else:
            response = RedirectResponse(str(login), status_code=303)
        # Only a cookie that was sent is cleared: a request that came without one (another
        # site's form post, where SameSite keeps it back) must not log the person out.
        if request.cookies.get(SESSION_COOKIE):
            clear_session_cookie(response)
        return response
    # Known refusals in the reader's language; other messages as the API words them.
    lang = request_lang(request)
    t = translator(lang)
    message = t.get("error_" + type(exc).__name__)
    if message is None:
        message = exc.message
        # errors.invalid_input already names the field in the message: named once.
        if exc.field and message.startswith(f"{exc.field}: "):
            message = message.removeprefix(f"{exc.field}: ")
        message = refusal_in_words(message, lang) or message
        if exc.field:
            message = f"{t.get('field_' + exc.field, exc.field)}: {message}"
    return error_response(request, exc.status_code, message)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    lang = request_lang(request)
    t = translator(lang)
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        msg = refusal_in_words(msg, lang) or msg
        where = ".".join(loc)
        parts.append(f"{t.get('field_' + where, where)}: {msg}" if loc else msg)
    return error_response(request, 422, "; ".join(parts))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(request, exc.status_code, str(exc.detail))


def install_html_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
