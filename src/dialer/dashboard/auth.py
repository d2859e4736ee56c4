"""Dashboard sessions: log in once with an API key, then a signed cookie.

The cookie never holds the key itself: it names the key (its id, or "admin") plus a
fragment of the key's hash, signed with SECRET_KEY (itsdangerous). Every request
re-checks that the key still exists and is not revoked, so revoking a key or rotating
the admin key ends its dashboard sessions at once. HttpOnly keeps scripts away from
it; SameSite=Lax keeps other sites from posting forms with it (CSRF).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from starlette.responses import Response

from dialer.account.auth import Principal, hash_key
from dialer.config import Settings
from dialer.errors import Unauthorized
from dialer.models import ApiKey

SESSION_COOKIE = "dialer_session"
SESSION_MAX_AGE_S = 12 * 3600
_SALT = "dialer.dashboard.session"


class LoginRequired(Unauthorized):
    """Please log in."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.SECRET_KEY.get_secret_value(), salt=_SALT)


def _admin_fingerprint(admin_key: str) -> str:
    return hashlib.sha256(admin_key.encode()).hexdigest()[:16]


def session_token(settings: Settings, principal: Principal, admin_key: str) -> str:
    """The signed cookie value for a principal that just proved its key."""
    payload: dict[str, Any]
    if principal.is_admin:
        payload = {"admin": True, "h": _admin_fingerprint(admin_key)}
    else:
        payload = {"kid": principal.key_id, "acc": principal.account_id}
    return _serializer(settings).dumps(payload)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/dashboard",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")


async def principal_from_cookie(request: Request) -> Principal | None:
    """The principal of a valid session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings: Settings = request.app.state.settings
    try:
        payload = _serializer(settings).loads(token, max_age=SESSION_MAX_AGE_S)
    except BadSignature:  # also covers SignatureExpired
        return None
    if not isinstance(payload, dict):
        return None
    if payload.get("admin"):
        if payload.get("h") != _admin_fingerprint(request.app.state.admin_key):
            return None
        return Principal(is_admin=True)
    key_id = payload.get("kid")
    if not isinstance(key_id, str):
        return None
    async with request.app.state.db.read() as session:
        row = (
            await session.execute(
                select(ApiKey.account_id).where(ApiKey.id == key_id, ApiKey.revoked.is_(False))
            )
        ).first()
    if row is None or row.account_id != payload.get("acc"):
        return None
    return Principal(is_admin=False, account_id=row.account_id, key_id=key_id)


async def dashboard_principal(request: Request) -> Principal:
    """Dependency: the logged-in operator; LoginRequired sends the browser to the login page."""
    principal = await principal_from_cookie(request)
    if principal is None:
        raise LoginRequired()
    request.state.principal = principal
    return principal


DashboardUser = Annotated[Principal, Depends(dashboard_principal)]

__all__ = ["DashboardUser", "LoginRequired", "hash_key"]
