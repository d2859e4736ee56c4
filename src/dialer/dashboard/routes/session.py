"""Log in with an API key, log out, and (admin) choose the account to look at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import authenticate
from dialer.dashboard.auth import (
    DashboardUser,
    clear_session_cookie,
    principal_from_cookie,
    session_token,
    set_session_cookie,
)
from dialer.dashboard.rendering import ACCOUNT_COOKIE, render
from dialer.db.session import ReadSession
from dialer.errors import Unauthorized

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only local dashboard paths: an open redirect would help phishing.
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/"


@router.get("/login", name="dashboard_login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if await principal_from_cookie(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form()] = "/dashboard/",
) -> Response:
    try:
        principal = await authenticate(request, api_key.strip())
    except Unauthorized:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "login_failed"},
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    token = session_token(request.app.state.settings, principal, request.app.state.admin_key)
    set_session_cookie(response, request, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    clear_session_cookie(response)
    response.delete_cookie(ACCOUNT_COOKIE, path="/dashboard")
    return response


@router.get("/accounts", name="dashboard_accounts")
async def choose_account(
    request: Request, user: DashboardUser, session: ReadSession, account_id: str | None = None
) -> Response:
    """Admin: pick the account the pages show (an account key always sees its own)."""
    if account_id:
        account = await account_service.get_account(session, user, account_id)
        response = RedirectResponse("/dashboard/", status_code=303)
        response.set_cookie(
            ACCOUNT_COOKIE, account.id, httponly=True, samesite="lax", path="/dashboard"
        )
        return response
    accounts, _total = await account_service.list_accounts(
        session, user, status=None, country=None, plan_type=None, limit=200, skip=0
    )
    return render(request, "accounts.html", {"accounts": accounts}, principal=user)
