"""Accounts API: /api/v1/accounts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dialer.account import service, users
from dialer.account.auth import AdminPrincipal, CurrentPrincipal
from dialer.account.schemas import (
    AccountCreate,
    AccountCreated,
    AccountRead,
    AccountStats,
    AccountSummary,
    AccountUpdate,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditEntryRead,
    BalanceRead,
    LastCallSettings,
    TopupRequest,
    TopupResult,
    UserCreate,
    UserRead,
    UserUpdate,
)
from dialer.billing.schemas import LedgerPage
from dialer.db.session import ReadSession, WriteSession
from dialer.kit.pagination import Page
from dialer.models import AccountStatus, EntryKind

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Skip = Annotated[int, Query(ge=0, le=1_000_000_000)]


@router.post("", status_code=201, response_model=AccountCreated)
async def create_account(
    body: AccountCreate, session: WriteSession, _admin: AdminPrincipal
) -> AccountCreated:
    """Create an account (admin). The response carries its API key, shown only once."""
    account, key = await service.create_account(session, body)
    return AccountCreated(**service.to_read(account).model_dump(), api_key=key)


@router.get("", response_model=Page[AccountRead])
async def list_accounts(
    session: ReadSession,
    principal: CurrentPrincipal,
    status: AccountStatus | None = None,
    country: Literal["CL", "AR"] | None = None,
    plan_type: Literal["credit_based", "minutes_based", "unlimited"] | None = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[AccountRead]:
    items, total = await service.list_accounts(
        session,
        principal,
        status=str(status) if status else None,
        country=country,
        plan_type=plan_type,
        limit=limit,
        skip=skip,
    )
    return Page(items=[service.to_read(a) for a in items], total=total, limit=limit, skip=skip)


@router.get("/{account_id}", response_model=AccountRead)
async def get_account(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> AccountRead:
    return service.to_read(await service.get_account(session, principal, account_id))


@router.patch("/{account_id}", response_model=AccountRead)
async def update_account(
    account_id: str, body: AccountUpdate, session: WriteSession, principal: AdminPrincipal
) -> AccountRead:
    """Change name, contact, timezone, the concurrent-call cap or features (admin)."""
    return service.to_read(await service.update_account(session, principal, account_id, body))


@router.get("/{account_id}/balance", response_model=BalanceRead)
async def get_balance(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> BalanceRead:
    return await service.get_balance(session, principal, account_id)


@router.post("/{account_id}/topup", response_model=TopupResult)
async def topup(
    account_id: str, body: TopupRequest, session: WriteSession, principal: AdminPrincipal
) -> TopupResult:
    """Add minutes or credits (admin). Send an ``idempotency_key`` to make retries safe."""
    return await service.topup_account(session, principal, account_id, body)


@router.get("/{account_id}/stats", response_model=AccountStats)
async def get_stats(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> AccountStats:
    return await service.get_stats(session, principal, account_id)


@router.get("/{account_id}/summary", response_model=AccountSummary)
async def get_summary(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> AccountSummary:
    """The account, its balance, lifetime stats and ledger totals in one answer."""
    return await service.get_summary(session, principal, account_id)


@router.put("/{account_id}/suspend", response_model=AccountRead)
async def suspend(
    account_id: str,
    session: WriteSession,
    principal: AdminPrincipal,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> AccountRead:
    """Stop all dialing for the account (admin). Jobs wait; nothing is lost."""
    account = await service.set_status(
        session, principal, account_id, AccountStatus.SUSPENDED, reason=reason
    )
    return service.to_read(account)


@router.put("/{account_id}/activate", response_model=AccountRead)
async def activate(
    account_id: str, session: WriteSession, principal: AdminPrincipal
) -> AccountRead:
    account = await service.set_status(session, principal, account_id, AccountStatus.ACTIVE)
    return service.to_read(account)


@router.get("/{account_id}/transactions", response_model=LedgerPage)
async def transactions(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    kind: EntryKind | None = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> LedgerPage:
    """The append-only ledger, newest first."""
    return await service.list_transactions(
        session, principal, account_id, kind=kind, limit=limit, skip=skip
    )


@router.get("/{account_id}/last-call-settings", response_model=LastCallSettings)
async def last_call_settings(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LastCallSettings:
    return await service.last_call_settings(session, principal, account_id)


@router.post("/{account_id}/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    account_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
    body: ApiKeyCreate | None = None,
) -> ApiKeyCreated:
    """Issue another, named API key for the account (supervisor or admin). Shown only once.
    ``read_only``: the key acts with the viewer role (reads only)."""
    body = body or ApiKeyCreate()
    return await service.create_api_key(
        session, principal, account_id, body.name, read_only=body.read_only
    )


@router.get("/{account_id}/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> list[ApiKeyRead]:
    """The account's keys: name, first characters, created, last used, revoked."""
    keys = await service.list_api_keys(session, principal, account_id)
    return [ApiKeyRead.model_validate(k) for k in keys]


@router.delete("/{account_id}/api-keys/{key_id}", response_model=ApiKeyRead)
async def revoke_api_key(
    account_id: str,
    key_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> ApiKeyRead:
    """Revoke a key; requests with it are refused from now on."""
    key = await service.revoke_api_key(session, principal, account_id, key_id)
    return ApiKeyRead.model_validate(key)


@router.post("/{account_id}/api-keys/{key_id}/rotate", response_model=ApiKeyCreated)
async def rotate_api_key(
    account_id: str,
    key_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> ApiKeyCreated:
    """A new key with the same name (shown only once); the old one stops working now."""
    _old, created = await service.rotate_api_key(session, principal, account_id, key_id)
    return created


@router.get("/{account_id}/users", response_model=list[UserRead])
async def list_users(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> list[UserRead]:
    """The account's dashboard users (supervisor or admin)."""
    return [
        UserRead.model_validate(u) for u in await users.list_users(session, principal, account_id)
    ]


@router.post("/{account_id}/users", status_code=201, response_model=UserRead)
async def create_user(
    account_id: str, body: UserCreate, session: WriteSession, principal: CurrentPrincipal
) -> UserRead:
    """A named user who logs in to the dashboard with a password (supervisor or admin;
    only an admin creates admins)."""
    return UserRead.model_validate(await users.create_user(session, principal, account_id, body))


@router.patch("/{account_id}/users/{user_id}", response_model=UserRead)
async def update_user(
    account_id: str,
    user_id: str,
    body: UserUpdate,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> UserRead:
    """Change role, name, e-mail, password or ``is_active``; a role or password change or
    a deactivation ends the user's sessions."""
    user = await users.update_user(session, principal, account_id, user_id, body)
    return UserRead.model_validate(user)


@router.get("/{account_id}/audit", response_model=Page[AuditEntryRead])
async def audit_log(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[AuditEntryRead]:
    """Who did what, when (newest first): batch create/upload/start/pause/resume/cancel,
    settings changes, users, keys, log-ins. Supervisors and admins."""
    items, total = await service.list_audit(
        session, principal, account_id, action=action, target_id=target_id, limit=limit, skip=skip
    )
    return Page(
        items=[AuditEntryRead.model_validate(e) for e in items], total=total, limit=limit, skip=skip
    )
