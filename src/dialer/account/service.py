"""Accounts: creation (with the first API key), balance, topups, suspension, stats.

Every function that reads or changes one account takes the caller's ``Principal`` and
raises NotFound for accounts it may not see, so a tenant never learns that another
tenant's id exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal, generate_account_key, hash_key
from dialer.account.repository import AccountRepository
from dialer.account.schemas import (
    AccountCreate,
    AccountRead,
    AccountStats,
    AccountSummary,
    AccountUpdate,
    ApiKeyCreated,
    BalanceRead,
    DashboardStats,
    LastCallSettings,
    LedgerTotals,
    SystemStats,
    TopupRequest,
    TopupResult,
)
from dialer.audit import service as audit
from dialer.billing import service as billing
from dialer.billing.pricing import from_display, to_display
from dialer.billing.repository import LedgerRepository
from dialer.billing.schemas import LedgerEntryRead, LedgerPage, unit_name
from dialer.errors import Conflict, InvalidInput, NotFound
from dialer.kit import clock, ids
from dialer.logging import get_logger
from dialer.models import Account, AccountStatus, ApiKey, AuditEntry, EntryKind, PlanType
from dialer.outbox import publish

log = get_logger("dialer.account")

# Balances are 32-bit integer columns.
MAX_BALANCE_UNITS = 2**31 - 1


class AccountExists(Conflict):
    """An account with this id already exists."""


class IdempotencyKeyReused(Conflict):
    """This idempotency key was already used for a different movement."""


def to_read(account: Account) -> AccountRead:
    plan = PlanType(account.plan_type)
    return AccountRead(
        account_id=account.id,
        account_name=account.account_name,
        contact_name=account.contact_name,
        contact_email=account.contact_email,
        contact_phone=account.contact_phone,
        country=account.country,
        timezone=account.timezone,
        plan_type=str(plan),
        status=str(account.status),
        suspended_reason=account.suspended_reason,
        max_concurrent_calls=account.max_concurrent_calls,
        features=account.features or {},
        settings=account.settings or {},
        balance_unit=unit_name(plan),
        balance=to_display(plan, account.balance),
        balance_units=account.balance,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


async def get_account(session: AsyncSession, principal: Principal, account_id: str) -> Account:
    """The account, or NotFound when it does not exist or is not the caller's."""
    principal.check_account(account_id)
    account = await AccountRepository.from_session(session).get(account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    return account


async def _new_key(
    session: AsyncSession, account_id: str, name: str, *, read_only: bool = False
) -> tuple[ApiKey, str]:
    plaintext = generate_account_key()
    key = ApiKey(
        id=ids.new_id("key"),
        account_id=account_id,
        name=name,
        read_only=read_only,
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
    )
    AccountRepository.from_session(session).add_key(key)
    await session.flush()
    return key, plaintext


async def create_account(session: AsyncSession, data: AccountCreate) -> tuple[Account, str]:
    """Create an account, its first API key (returned in plaintext, stored hashed) and the
    initial topup, if any. Raises AccountExists (409) for a taken ``account_id``."""
    repo = AccountRepository.from_session(session)
    account_id = data.account_id or ids.account_id()
    if await repo.exists(account_id):
        raise AccountExists(f"account '{account_id}' already exists", field="account_id")
    account = Account(
        id=account_id,
        account_name=data.account_name,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        country=data.country,
        timezone=data.effective_timezone,
        plan_type=PlanType(data.plan_type),
        balance=0,
        status=AccountStatus.ACTIVE,
        max_concurrent_calls=data.max_concurrent_calls,
        features=data.features,
        settings=data.settings.model_dump(mode="json", exclude_none=True),
    )
    session.add(account)
    try:
        await session.flush()
    except IntegrityError:
        # Two concurrent creations with the same id: the loser gets the same 409.
        raise AccountExists(f"account '{account_id}' already exists", field="account_id") from None
    _key, plaintext = await _new_key(session, account_id, "default")
    initial = data.initial_minutes if data.initial_minutes is not None else data.initial_credits
    if initial is not None:
        await billing.topup(
            session,
            account_id,
            from_display(account.plan_type, initial),
            key=f"account-created:{account_id}",
            description="initial balance",
        )
    log.info("account.created", account_id=account_id, plan_type=str(account.plan_type))
    return account, plaintext


async def create_api_key(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    name: str,
    *,
    read_only: bool = False,
) -> ApiKeyCreated:
    """Issue an extra, named API key for an account (supervisors and admins); a
    read-only key acts with the viewer role."""
    await get_account(session, principal, account_id)
    principal.require("manage_keys")
    key, plaintext = await _new_key(session, account_id, name, read_only=read_only)
    await audit.record(
        session,
        principal,
        account_id,
        "key.create",
        target_type="api_key",
        target_id=key.id,
        name=name,
        read_only=read_only or None,
    )
    return _created(key, plaintext)


def _created(key: ApiKey, plaintext: str) -> ApiKeyCreated:
    return ApiKeyCreated(
        api_key_id=key.id,
        account_id=key.account_id,
        name=key.name,
        prefix=key.prefix,
        read_only=key.read_only,
        api_key=plaintext,
        created_at=key.created_at,
    )


async def list_api_keys(
    session: AsyncSession, principal: Principal, account_id: str
) -> Sequence[ApiKey]:
    """The account's keys, live ones first (never the keys themselves)."""
    await get_account(session, principal, account_id)
    principal.require("manage_keys")
    return await AccountRepository.from_session(session).list_keys(account_id)


async def _live_key(
    session: AsyncSession, principal: Principal, account_id: str, key_id: str
) -> ApiKey:
    await get_account(session, principal, account_id)
    principal.require("manage_keys")
    key = await AccountRepository.from_session(session).get_key(account_id, key_id)
    if key is None:
        raise NotFound(f"API key '{key_id}' not found", field="api_key_id")
    if key.revoked:
        raise Conflict(f"API key '{key_id}' is already revoked", field="api_key_id")
    return key


async def revoke_api_key(
    session: AsyncSession, principal: Principal, account_id: str, key_id: str
) -> ApiKey:
    """Revoke a key: once committed, every later request with it is refused (401) by
    every API process (each request reads the key's row)."""
    key = await _live_key(session, principal, account_id, key_id)
    key.revoked = True
    key.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        principal,
        account_id,
        "key.revoke",
        target_type="api_key",
        target_id=key.id,
        name=key.name,
    )
    return key


async def rotate_api_key(
    session: AsyncSession, principal: Principal, account_id: str, key_id: str
) -> tuple[ApiKey, ApiKeyCreated]:
    """Replace a key by a new one of the same name: the old one is revoked at once.
    Returns (old key, the new key shown once)."""
    old = await _live_key(session, principal, account_id, key_id)
    old.revoked = True
    old.updated_at = clock.now()
    key, plaintext = await _new_key(session, account_id, old.name, read_only=old.read_only)
    await audit.record(
        session,
        principal,
        account_id,
        "key.rotate",
        target_type="api_key",
        target_id=old.id,
        name=old.name,
        new_key_id=key.id,
    )
    return old, _created(key, plaintext)


async def list_audit(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    action: str | None,
    target_id: str | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[AuditEntry], int]:
    """Who did what, when, in the account (supervisors and admins)."""
    await get_account(session, principal, account_id)
    principal.require("view_audit")
    return await audit.list_entries(
        session, account_id, action=action, target_id=target_id, limit=limit, skip=skip
    )


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    country: str | None,
    plan_type: str | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[Account], int]:
    """Admin: every account matching the filters. Account key: only its own account."""
    return await AccountRepository.from_session(session).list(
        account_id=principal.scope(None),
        status=status,
        country=country,
        plan_type=plan_type,
        limit=limit,
        skip=skip,
    )


_UPDATABLE = (
    "account_name", "contact_name", "contact_email", "contact_phone", "timezone",
    "max_concurrent_calls", "features",
)  # fmt: skip


async def update_account(
    session: AsyncSession, principal: Principal, account_id: str, data: AccountUpdate
) -> Account:
    """Apply the fields given in ``data``. A new cap or timezone holds from the next claim."""
    account = await get_account(session, principal, account_id)
    changed = []
    for name in _UPDATABLE:
        value = getattr(data, name)
        # Contacts may be cleared with null; the other fields ignore it.
        if name in data.model_fields_set and (value is not None or name.startswith("contact_")):
            setattr(account, name, value)
            changed.append(name)
    if "daily_call_limit" in data.model_fields_set:
        # Kept in the account's settings (AccountSettings), where the claim reads it.
        settings = dict(account.settings or {})
        if data.daily_call_limit is None:
            settings.pop("daily_call_limit", None)
        else:
            settings["daily_call_limit"] = data.daily_call_limit
        account.settings = settings
        changed.append("daily_call_limit")
    if changed:
        account.updated_at = clock.now()
        await session.flush()
        await publish(session, account_id=account_id, type="account.updated",
                      data={"changed": changed})  # fmt: skip
    return account


async def get_balance(session: AsyncSession, principal: Principal, account_id: str) -> BalanceRead:
    """Available balance plus what is held for calls in flight, in units and display."""
    account = await get_account(session, principal, account_id)
    reserved = await AccountRepository.from_session(session).reserved_in_flight(account_id)
    return _balance(account, reserved)


def _balance(account: Account, reserved: int) -> BalanceRead:
    plan = PlanType(account.plan_type)
    total = account.balance + reserved
    return BalanceRead(
        account_id=account.id,
        plan_type=str(plan),
        balance_unit=unit_name(plan),
        balance=to_display(plan, account.balance),
        balance_units=account.balance,
        reserved_in_flight=to_display(plan, reserved),
        reserved_in_flight_units=reserved,
        total=to_display(plan, total),
        total_units=total,
        minutes=to_display(plan, account.balance) if plan == PlanType.MINUTES_BASED else None,
        credits=to_display(plan, account.balance) if plan == PlanType.CREDIT_BASED else None,
    )


async def topup_account(
    session: AsyncSession, principal: Principal, account_id: str, req: TopupRequest
) -> TopupResult:
    """Add minutes or credits. Idempotent on ``idempotency_key``: replaying the same
    request returns the original movement; reusing the key for another amount is a 409."""
    account = await get_account(session, principal, account_id)
    plan = PlanType(account.plan_type)
    if plan == PlanType.UNLIMITED:
        raise InvalidInput(
            f"account '{account_id}' is unlimited: it has no balance to top up", field="minutes"
        )
    if plan == PlanType.MINUTES_BASED and req.minutes is None:
        raise InvalidInput(
            f"account '{account_id}' is minutes_based: top up with 'minutes', not 'credits'",
            field="credits",
        )
    if plan == PlanType.CREDIT_BASED and req.credits is None:
        raise InvalidInput(
            f"account '{account_id}' is credit_based: top up with 'credits', not 'minutes'",
            field="minutes",
        )
    field = "minutes" if req.minutes is not None else "credits"
    amount = req.minutes if req.minutes is not None else req.credits
    assert amount is not None
    units = from_display(plan, amount)
    if units <= 0:
        raise InvalidInput(f"{field} is too small to add anything", field=field)
    if account.balance + units > MAX_BALANCE_UNITS:
        raise InvalidInput(f"{field}: the balance would exceed its maximum", field=field)
    # Keys are namespaced per account so two tenants can both use "2025-10-invoice".
    key = f"topup:{account_id}:{req.idempotency_key or uuid.uuid4().hex}"
    account, entry = await billing.topup(
        session, account_id, units, key=key, description=req.description
    )
    applied = entry is not None
    if entry is None:
        entry = await AccountRepository.from_session(session).ledger_entry_by_key(key)
        assert entry is not None
        if entry.amount != units or entry.kind != EntryKind.TOPUP:
            raise IdempotencyKeyReused(
                f"idempotency_key '{req.idempotency_key}' was used for another amount",
                field="idempotency_key",
            )
    else:
        await publish(
            session,
            account_id=account_id,
            type="account.topup",
            data={"amount_units": units, "balance_units": account.balance},
        )
    reserved = await AccountRepository.from_session(session).reserved_in_flight(account_id)
    return TopupResult(
        account_id=account_id,
        applied=applied,
        transaction_id=entry.id,
        amount=to_display(plan, entry.amount),
        amount_units=entry.amount,
        balance=_balance(account, reserved),
    )


async def list_transactions(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    kind: EntryKind | None,
    limit: int,
    skip: int,
) -> LedgerPage:
    """The account's ledger, newest first (not for operators)."""
    account = await get_account(session, principal, account_id)
    principal.require("view_ledger")
    plan = PlanType(account.plan_type)
    items, total = await LedgerRepository.from_session(session).list_for(
        account_id, limit=limit, skip=skip, kind=str(kind) if kind else None
    )
    return LedgerPage(
        items=[LedgerEntryRead.of(e, plan) for e in items],
        total=total,
        limit=limit,
        skip=skip,
        balance=to_display(plan, account.balance),
        balance_units=account.balance,
        unit=unit_name(plan),
    )


async def set_status(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    status: AccountStatus,
    *,
    reason: str | None = None,
) -> Account:
    """Suspend or reactivate an account. A suspended account places no calls; its jobs
    wait and nothing is lost. Idempotent."""
    account = await get_account(session, principal, account_id)
    if account.status == status and (status == AccountStatus.ACTIVE or not reason):
        return account
    account.status = status
    account.suspended_reason = reason if status == AccountStatus.SUSPENDED else None
    account.updated_at = clock.now()
    await session.flush()
    # Its batches say why they wait at once, not from the next claim on (the claim
    # keeps it so while suspended, and recomputes the reason after activation).
    await AccountRepository.from_session(session).mark_batches_suspended(
        account_id, suspended=status == AccountStatus.SUSPENDED
    )
    await publish(
        session,
        account_id=account_id,
        type="account.suspended" if status == AccountStatus.SUSPENDED else "account.activated",
        data={"status": str(status), "reason": account.suspended_reason},
    )
    log.info("account.status_changed", account_id=account_id, status=str(status))
    return account


async def get_stats(session: AsyncSession, principal: Principal, account_id: str) -> AccountStats:
    """Lifetime totals from the batch counters (never counts job rows)."""
    account = await get_account(session, principal, account_id)
    repo = AccountRepository.from_session(session)
    t = await repo.batch_totals(account_id)
    by_status = await repo.batch_status_counts(account_id)
    plan = PlanType(account.plan_type)
    finished_attempts = t["attempts_made"]
    return AccountStats(
        account_id=account_id,
        total_batches=t["total_batches"],
        active_batches=by_status["active"],
        paused_batches=by_status["paused"],
        completed_batches=by_status["completed"],
        cancelled_batches=by_status["cancelled"],
        total_jobs=t["total_jobs"],
        pending_jobs=t["pending_jobs"],
        in_progress_jobs=t["in_progress_jobs"],
        completed_jobs=t["completed_jobs"],
        failed_jobs=t["failed_jobs"],
        cancelled_jobs=t["cancelled_jobs"],
        attempts_made=finished_attempts,
        answered_calls=t["answered_calls"],
        success_rate_percentage=(
            round(100 * t["answered_calls"] / finished_attempts, 2) if finished_attempts else 0.0
        ),
        billed_minutes=round(t["billed_seconds"] / 60, 2),
        spent=to_display(plan, t["cost_units"]),
        spent_units=t["cost_units"],
        balance=to_display(plan, account.balance),
        balance_unit=unit_name(plan),
    )


async def get_summary(
    session: AsyncSession, principal: Principal, account_id: str
) -> AccountSummary:
    """The account with its balance, lifetime stats and ledger totals."""
    account = await get_account(session, principal, account_id)
    plan = PlanType(account.plan_type)
    totals = await AccountRepository.from_session(session).ledger_totals(account_id)

    def units(kind: EntryKind) -> int:
        return totals.get(str(kind), (0, 0))[1]

    held = -(units(EntryKind.RESERVATION) + units(EntryKind.RELEASE))
    return AccountSummary(
        account=to_read(account),
        balance=await get_balance(session, principal, account_id),
        stats=await get_stats(session, principal, account_id),
        ledger=LedgerTotals(
            topped_up=to_display(plan, units(EntryKind.TOPUP)),
            charged=to_display(plan, -units(EntryKind.CHARGE)),
            refunded=to_display(plan, units(EntryKind.REFUND)),
            held_now=to_display(plan, max(held, 0)),
            entries=sum(n for n, _ in totals.values()),
        ),
    )


async def dashboard_stats(
    session: AsyncSession, principal: Principal, account_id: str | None
) -> DashboardStats:
    """An account's stats and balance; without an account, the admin's system figures
    (an account key always gets its own account)."""
    scope = principal.scope(account_id)
    now = clock.now()
    if scope is not None:
        return DashboardStats(
            timestamp=now,
            account=await get_stats(session, principal, scope),
            balance=await get_balance(session, principal, scope),
        )
    counts = await AccountRepository.from_session(session).status_counts()
    return DashboardStats(
        timestamp=now,
        system=SystemStats(
            total_accounts=sum(counts.values()),
            active_accounts=counts.get("active", 0),
            suspended_accounts=counts.get("suspended", 0),
        ),
    )


async def last_call_settings(
    session: AsyncSession, principal: Principal, account_id: str
) -> LastCallSettings:
    """call_settings of the account's most recent batch that had them (to pre-fill forms)."""
    await get_account(session, principal, account_id)
    found = await AccountRepository.from_session(session).last_call_settings(account_id)
    if found is None:
        return LastCallSettings(account_id=account_id, batch_id=None, call_settings=None)
    return LastCallSettings(account_id=account_id, batch_id=found[0], call_settings=found[1])
