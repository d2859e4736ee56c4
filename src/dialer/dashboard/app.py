"""Operator dashboard (server-rendered, Jinja2 + htmx), mounted at /dashboard.

A sub-application with its own HTML error handler and session-cookie auth. It shares
the parent app's ``state`` (database, settings, admin key), and its routes call the
same services and schemas as the JSON API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from dialer.dashboard.auth import secure_cookies, set_cookie
from dialer.dashboard.errors import install_html_handlers
from dialer.dashboard.i18n import LANG_COOKIE, LANGS
from dialer.dashboard.rendering import HERE
from dialer.dashboard.routes import batches, contacts, overview, people, session, settings, upload

# Scripts only from this server (no inline script or handler anywhere), no framing by
# any site (clickjacking), forms post only here. Inline style attributes stay allowed:
# progress bars set their width with one, and htmx adds its indicator style.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def create_dashboard(parent: FastAPI) -> FastAPI:
    dash = FastAPI(
        title="dialer dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # One state for both apps: the lifespan of the parent fills it (db, admin key...).
    dash.state = parent.state
    install_html_handlers(dash)

    @dash.middleware("http")
    async def _remember_lang(request: Request, call_next: object) -> Response:
        response: Response = await call_next(request)  # type: ignore[operator]
        lang = request.query_params.get("lang")
        if lang in LANGS:
            set_cookie(response, request, LANG_COOKIE, lang, max_age=365 * 86400)
        # Pages show account data: never cache them (static assets may be cached).
        if "/static/" not in request.url.path:
            response.headers.setdefault("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if secure_cookies(request):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    dash.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (session, overview, batches, contacts, settings, upload, people):
        dash.include_router(module.router)
    return dash


def mount_dashboard(app: FastAPI) -> None:
    app.mount("/dashboard", create_dashboard(app), name="dashboard")
