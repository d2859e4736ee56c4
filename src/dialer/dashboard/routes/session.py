"""Log in with a user name (or e-mail) and password, log out, and (admin) choose the
account to look at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account import users
from dialer.account.auth import RoleForbidden
from dialer.account.ratelimit import check_login_failures, count_login_failure
from dialer.dashboard.auth import (
    LOGIN_CSRF_COOKIE,
    CsrfRefused,
    CsrfUser,
    DashboardUser,
    active_session,
    check_login_token,
    clear_session_cookie,
    new_login_token,
    set_cookie,
    set_session_cookie,
)
from dialer.dashboard.rendering import ACCOUNT_COOKIE, render
from dialer.db.session import ReadSession
from dialer.errors import Unauthorized

router = APIRouter()

LOGIN_TOKEN_MAX_AGE_S = 3600


def _safe_next(target: str | None) -> str:
    # Only local dashboard paths: an open redirect would help phishing.
    if (
        target
        and target.startswith("/dashboard")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/dashboard/"


def _login_form(
    request: Request,
    next: str,
    *,
    error: str | None = None,
    login: str = "",
    status_code: int = 200,
) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        {"next": _safe_next(next), "error": error, "login_token": token, "login": login},
        status_code=status_code,
    )
    set_cookie(
        response,
        request,
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_TOKEN_MAX_AGE_S,
        samesite="strict",
    )
    return response


@router.get("/login", name="dashboard_login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if await active_session(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next or "/dashboard/")


@router.post("/login")
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard/",
) -> Response:
    await check_login_failures(request)  # 429 while this address keeps failing
    try:
        await check_login_token(request)
    except CsrfRefused:
        return _login_form(request, next, error="login_expired", login=login, status_code=403)
    settings = request.app.state.settings
    try:
        async with request.app.state.db.write() as session:
            _user, opened = await users.log_in(
                session,
                login,
                password,
                idle_timeout=settings.SESSION_IDLE_TIMEOUT,
                max_age=settings.SESSION_MAX_AGE,
            )
    except Unauthorized:
        await count_login_failure(request)
        return _login_form(request, next, error="login_failed", login=login, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, request, opened.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/dashboard")
    response.delete_cookie(ACCOUNT_COOKIE, path="/dashboard")
    return response


@router.post("/logout")
async def logout(request: Request, _user: CsrfUser) -> Response:
    """End the session on the server: the cookie stops working everywhere at once."""
    found = await active_session(request)
    if found is not None:
        async with request.app.state.db.write() as session:
            await users.log_out(session, found)
    response = RedirectResponse("/dashboard/login", status_code=303)
    clear_session_cookie(response)
    response.delete_cookie(ACCOUNT_COOKIE, path="/dashboard")
    return response


@router.get("/accounts", name="dashboard_accounts")
async def accounts_page(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    """Admin: the accounts to choose from (a choice is a POST: a GET changes nothing)."""
    accounts, _total = await account_service.list_accounts(
        session, user, status=None, country=None, plan_type=None, limit=200, skip=0
    )
    return render(request, "accounts.html", {"accounts": accounts})


@router.post("/accounts", name="dashboard_choose_account")
async def choose_account(
    request: Request,
    user: CsrfUser,
    session: ReadSession,
    account_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    if not user.is_admin:
        raise RoleForbidden("only an admin chooses among accounts")
    account = await account_service.get_account(session, user, account_id)
    response = RedirectResponse("/dashboard/", status_code=303)
    set_cookie(response, request, ACCOUNT_COOKIE, account.id)
    return response
