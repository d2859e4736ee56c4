"""The application's rules for the ASGI edge (kit/edge.py): per-route body limits, and
who must be authenticated before a body is read.

* Provider webhooks (``/api/v1/webhooks/``) are authenticated by their signature, which
  covers the body: they get a small limit of their own and are read.
* Every other ``/api/`` request with a body needs a valid API key first: without one
  the 401 goes out before a byte of the body is read (no buffering, no spooling).
* Multipart uploads to the dashboard need a valid session cookie first (else the login
  page, as the dashboard answers).
* Multipart bodies (spreadsheets and do-not-call imports) may reach MAX_UPLOAD_BYTES
  (plus the form fields); anything else MAX_BODY_BYTES.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from dialer.account.auth import _extract_key, authenticate
from dialer.config import Settings
from dialer.dashboard.auth import principal_from_cookie
from dialer.errors import AppError, Unauthorized
from dialer.kit.edge import EarlyAuth, LimitFor

WEBHOOKS = "/api/v1/webhooks/"
# Room for the form fields (account_id, call_settings JSON, ...) next to the file.
FORM_SLACK_BYTES = 1 << 20


def _content_type(scope: Scope) -> bytes:
    for key, value in scope.get("headers") or ():
        if key.lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().lower()
    return b""


def limit_for(settings: Settings) -> LimitFor:
    def limit(scope: Scope) -> int:
        path: str = scope.get("path", "")
        if path.startswith(WEBHOOKS):
            return settings.MAX_WEBHOOK_BODY_BYTES
        if _content_type(scope) == b"multipart/form-data":
            return settings.MAX_UPLOAD_BYTES + FORM_SLACK_BYTES
        return settings.MAX_BODY_BYTES

    return limit


def _refusal(exc: AppError) -> Response:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


def early_auth() -> EarlyAuth:
    async def check(scope: Scope) -> Response | None:
        path: str = scope.get("path", "")
        request = Request(scope)
        if path.startswith("/api/") and not path.startswith(WEBHOOKS):
            try:
                # Remembered on the request: the route's own dependency reuses it.
                request.state.principal = await authenticate(request, _extract_key(request))
            except Unauthorized as exc:
                return _refusal(exc)
            return None
        if path.startswith("/dashboard") and _content_type(scope) == b"multipart/form-data":
            if await principal_from_cookie(request) is None:
                # What the dashboard answers an anonymous browser: its login page.
                login = "/dashboard/login?" + urlencode({"next": path})
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"HX-Redirect": login})
                return RedirectResponse(login, status_code=303)
        return None

    return check
