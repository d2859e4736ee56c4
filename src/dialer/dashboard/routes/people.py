"""Users (supervisors and admins), API keys (on the account page) and the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account import users
from dialer.account.schemas import UserCreate, UserUpdate
from dialer.dashboard.auth import CsrfUser, DashboardUser
from dialer.dashboard.rendering import current_account_id, render
from dialer.db.session import ReadSession, WriteSession
from dialer.errors import InvalidInput, invalid_input

router = APIRouter()

PAGE = 50


@router.get("/users", name="dashboard_users")
async def users_page(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        return RedirectResponse("/dashboard/accounts", status_code=303)
    people = await users.list_users(session, user, account_id)
    tz = (await account_service.get_account(session, user, account_id)).timezone
    return render(
        request, "users.html", {"people": people, "roles": _roles(user.is_admin), "tz": tz}
    )


def _roles(is_admin: bool) -> list[str]:
    roles = ["viewer", "operator", "supervisor"]
    return [*roles, "admin"] if is_admin else roles


@router.post("/users", name="dashboard_user_create")
async def create_user(
    request: Request,
    user: CsrfUser,
    session: WriteSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[Literal["admin", "supervisor", "operator", "viewer"], Form()] = "operator",
    email: Annotated[str, Form(max_length=320)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    try:
        data = UserCreate(
            username=username.strip(),
            password=password,
            role=role,
            email=email.strip() or None,
            full_name=full_name.strip() or None,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from None
    await users.create_user(session, user, account_id, data)
    return RedirectResponse("/dashboard/users", status_code=303)


@router.post("/users/{user_id}", name="dashboard_user_update")
async def update_user(
    request: Request,
    user_id: str,
    user: CsrfUser,
    session: WriteSession,
    role: Annotated[Literal["admin", "supervisor", "operator", "viewer", ""], Form()] = "",
    is_active: Annotated[Literal["true", "false", ""], Form()] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    try:
        data = UserUpdate(
            role=role or None,
            is_active=None if not is_active else is_active == "true",
            password=password or None,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from None
    await users.update_user(session, user, account_id, user_id, data)
    return RedirectResponse("/dashboard/users", status_code=303)


@router.post("/account/keys", name="dashboard_key_create")
async def create_key(
    request: Request,
    user: CsrfUser,
    session: WriteSession,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    read_only: Annotated[Literal["true", ""], Form()] = "",
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    created = await account_service.create_api_key(
        session, user, account_id, name.strip(), read_only=read_only == "true"
    )
    return render(request, "key_created.html", {"created": created})


@router.post("/account/keys/{key_id}/revoke", name="dashboard_key_revoke")
async def revoke_key(
    request: Request, key_id: str, user: CsrfUser, session: WriteSession
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    await account_service.revoke_api_key(session, user, account_id, key_id)
    return RedirectResponse("/dashboard/account#keys", status_code=303)


@router.post("/account/keys/{key_id}/rotate", name="dashboard_key_rotate")
async def rotate_key(
    request: Request, key_id: str, user: CsrfUser, session: WriteSession
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    _old, created = await account_service.rotate_api_key(session, user, account_id, key_id)
    return render(request, "key_created.html", {"created": created})


@router.get("/audit", name="dashboard_audit")
async def audit_page(
    request: Request,
    user: DashboardUser,
    session: ReadSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        return RedirectResponse("/dashboard/accounts", status_code=303)
    items, total = await account_service.list_audit(
        session, user, account_id, action=None, target_id=None, limit=PAGE, skip=skip
    )
    tz = (await account_service.get_account(session, user, account_id)).timezone
    return render(
        request,
        "audit.html",
        {"entries": items, "total": total, "skip": skip, "page": PAGE, "tz": tz},
    )
