"""Dashboard sessions: named users log in with a password; a server-side session follows.

The ``dialer_session`` cookie holds a random token (HttpOnly, SameSite=Lax, Secure in
production or over https); the database keeps only its hash, with the session's CSRF
token (``account.users``). Every state-changing route depends on ``CsrfUser``: the
request must carry that token (form field ``csrf_token`` or header ``X-CSRF-Token``,
which htmx sends from ``<body hx-headers>``) and, when the browser says where it comes
from, an ``Origin`` of this server. The log-in form itself is protected by a
double-submit token in a short-lived cookie, so another site cannot log a victim into
the attacker's account.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from dialer.account import users
from dialer.account.auth import Principal, RoleForbidden
from dialer.account.users import ActiveSession
from dialer.config import Settings
from dialer.errors import PermissionDenied, Unauthorized

SESSION_COOKIE = "dialer_session"
LOGIN_CSRF_COOKIE = "dialer_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/dashboard"


class LoginRequired(Unauthorized):
    """Please log in."""


class CsrfRefused(PermissionDenied):
    """This form has expired or did not come from this dashboard: reload the page and try again."""


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure in production (behind a TLS proxy uvicorn may see http) or
    whenever the request itself came over https."""
    settings: Settings = request.app.state.settings
    return settings.ENV == "production" or request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=secure_cookies(request),
        path=COOKIE_PATH,
    )


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    settings: Settings = request.app.state.settings
    max_age = int(settings.SESSION_MAX_AGE.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, token, max_age=max_age)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


async def active_session(request: Request) -> ActiveSession | None:
    """The request's live session (looked up once per request), or None."""
    if hasattr(request.state, "dash_session"):
        return request.state.dash_session  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    found: ActiveSession | None = None
    if token and len(token) <= 100:
        settings: Settings = request.app.state.settings
        db = request.app.state.db
        async with db.read() as session:
            found, stale = await users.resolve_session(
                session, token, idle_timeout=settings.SESSION_IDLE_TIMEOUT
            )
        if found is not None and stale:
            async with db.write() as session:
                await users.touch_session(session, found.session_id)
    request.state.dash_session = found
    if found is not None:
        request.state.principal = found.principal
    return found


async def principal_from_cookie(request: Request) -> Principal | None:
    """The logged-in user of the request's session cookie, or None (the ASGI edge asks
    before it lets an upload's body in)."""
    found = await active_session(request)
    return found.principal if found else None


async def dashboard_principal(request: Request) -> Principal:
    """Dependency: the logged-in user; LoginRequired sends the browser to the login page."""
    found = await active_session(request)
    if found is None:
        raise LoginRequired()
    return found.principal


DashboardUser = Annotated[Principal, Depends(dashboard_principal)]


def _same_origin(request: Request) -> bool:
    """No Origin (older browsers, some same-origin requests) is left to the token; an
    Origin of another host, or the opaque "null" of sandboxed frames, is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def _sent_token(request: Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    return token or ""


# The only state-changing route a viewer may use: ending its own session.
VIEWER_POSTS = frozenset({"/dashboard/logout"})


async def csrf_protect(request: Request, user: DashboardUser) -> Principal:
    """Dependency of every state-changing route: the session's CSRF token must come back,
    and a viewer (read-only) is refused whatever the route does (403)."""
    found: ActiveSession = request.state.dash_session
    sent = await _sent_token(request)
    if not _same_origin(request) or not hmac.compare_digest(
        sent.encode(), found.csrf_token.encode()
    ):
        raise CsrfRefused()
    if user.read_only and request.url.path not in VIEWER_POSTS:
        raise RoleForbidden("the viewer role is read-only", action="write")
    return user


CsrfUser = Annotated[Principal, Depends(csrf_protect)]


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def check_login_token(request: Request) -> None:
    """The log-in form's double-submit token: the form field must equal the cookie."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = await _sent_token(request)
    if (
        not _same_origin(request)
        or not cookie
        or not hmac.compare_digest(sent.encode(), cookie.encode())
    ):
        raise CsrfRefused()


def csrf_token_of(request: Request) -> str | None:
    found: ActiveSession | None = getattr(request.state, "dash_session", None)
    return found.csrf_token if found else None


__all__ = ["CsrfUser", "DashboardUser", "LoginRequired"]
