"""Account API types. Amounts are shown both in ledger units (integers) and in the
account's display unit (minutes for minutes plans, credits for credit plans)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialer.account.passwords import MIN_PASSWORD_LENGTH
from dialer.billing.pricing import PricingSettings

Country = Literal["CL", "AR"]
Plan = Literal["credit_based", "minutes_based", "unlimited"]

DEFAULT_TIMEZONE: dict[str, str] = {
    "CL": "America/Santiago",
    "AR": "America/Argentina/Buenos_Aires",
}

# One movement at most a million minutes/credits: ledger amounts are 32-bit integers.
MAX_TOPUP = 1_000_000

# Calls the account may start per day (the replaced system's daily_call_limit).
MAX_DAILY_CALLS = 10_000_000
DAILY_LIMIT_DOC = (
    "Calls the account may start per calendar day in its timezone (every batch together);"
    " once reached its batches wait until midnight (waiting_reason daily_limit)."
    " Absent or null: no daily limit."
)

ACCOUNT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{2,63}$"


def validate_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    # OSError: a very long name fails as a file path before the lookup does.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown timezone '{v}' (use an IANA name such as America/Santiago)"
        ) from None
    return v


class AccountSettings(BaseModel):
    """The account settings the product enforces; any other key is refused (422), since a
    setting nothing reads would be accepted and silently ignored."""

    model_config = ConfigDict(extra="forbid")

    pricing: PricingSettings | None = None
    daily_call_limit: int | None = Field(
        None, ge=1, le=MAX_DAILY_CALLS, description=DAILY_LIMIT_DOC
    )


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = Field(
        None,
        pattern=ACCOUNT_ID_PATTERN,
        description="Optional slug (lowercase letters, digits, '-' and '_'); generated when absent.",
    )
    account_name: str = Field(min_length=1, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    contact_email: str | None = Field(None, max_length=320)
    contact_phone: str | None = Field(None, max_length=32)
    country: Country = "CL"
    timezone: str | None = Field(None, description="IANA name; defaults from the country.")
    plan_type: Plan = "minutes_based"
    max_concurrent_calls: int = Field(10, ge=1, le=1000)
    features: dict[str, Any] = Field(
        default_factory=dict,
        description="The client's own labels, stored and returned as given; the dialer "
        "reads nothing from them (behaviour is set by settings and call_settings).",
    )
    settings: AccountSettings = Field(default_factory=AccountSettings)
    initial_minutes: float | None = Field(None, gt=0, le=MAX_TOPUP)
    initial_credits: float | None = Field(None, gt=0, le=MAX_TOPUP)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else validate_timezone(v)

    @model_validator(mode="after")
    def _initial_balance_matches_plan(self) -> AccountCreate:
        if self.plan_type == "minutes_based" and self.initial_credits is not None:
            raise ValueError("initial_credits: a minutes_based account is topped up in minutes")
        if self.plan_type == "credit_based" and self.initial_minutes is not None:
            raise ValueError("initial_minutes: a credit_based account is topped up in credits")
        if self.plan_type == "unlimited" and (
            self.initial_minutes is not None or self.initial_credits is not None
        ):
            raise ValueError("an unlimited account has no balance to top up")
        return self

    @property
    def effective_timezone(self) -> str:
        return self.timezone or DEFAULT_TIMEZONE[self.country]


class AccountUpdate(BaseModel):
    """The account fields an admin may change (``PATCH``); absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    account_name: str | None = Field(None, min_length=1, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    contact_email: str | None = Field(None, max_length=320)
    contact_phone: str | None = Field(None, max_length=32)
    timezone: str | None = Field(None, description="IANA name.")
    max_concurrent_calls: int | None = Field(None, ge=1, le=1000)
    features: dict[str, Any] | None = Field(None, description="Replaces the features object.")
    daily_call_limit: int | None = Field(
        None, ge=1, le=MAX_DAILY_CALLS, description=DAILY_LIMIT_DOC + " null removes it."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else validate_timezone(v)


class AccountRead(BaseModel):
    account_id: str
    account_name: str
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    country: str
    timezone: str
    plan_type: str
    status: str
    suspended_reason: str | None
    max_concurrent_calls: int
    features: dict[str, Any]
    settings: dict[str, Any]
    balance_unit: Literal["minutes", "credits"]
    balance: float = Field(description="Available balance in minutes or credits.")
    balance_units: int = Field(description="Available balance in ledger units.")
    created_at: datetime
    updated_at: datetime


class AccountCreated(AccountRead):
    api_key: str = Field(description="The account's API key, shown only once.")


class BalanceRead(BaseModel):
    account_id: str
    plan_type: str
    balance_unit: Literal["minutes", "credits"]
    balance: float = Field(description="Available now (reservations already deducted).")
    balance_units: int
    reserved_in_flight: float = Field(description="Held for calls in progress.")
    reserved_in_flight_units: int
    total: float = Field(description="balance + reserved_in_flight")
    total_units: int
    minutes: float | None = None
    credits: float | None = None


class TopupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: float | None = Field(
        None, gt=0, le=MAX_TOPUP, description="For minutes_based accounts."
    )
    credits: float | None = Field(
        None, gt=0, le=MAX_TOPUP, description="For credit_based accounts."
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _one_amount(self) -> TopupRequest:
        if self.minutes is None and self.credits is None:
            raise ValueError("minutes or credits is required")
        if self.minutes is not None and self.credits is not None:
            raise ValueError("give either minutes or credits, not both")
        return self


class TopupResult(BaseModel):
    account_id: str
    applied: bool = Field(description="False when this idempotency_key was already used.")
    transaction_id: int
    amount: float
    amount_units: int
    balance: BalanceRead


class AccountStats(BaseModel):
    account_id: str
    total_batches: int
    active_batches: int
    paused_batches: int
    completed_batches: int
    cancelled_batches: int
    total_jobs: int
    pending_jobs: int = Field(
        description="Jobs not final yet (waiting or on a call; in_progress_jobs is part of it)."
    )
    in_progress_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    attempts_made: int
    answered_calls: int
    success_rate_percentage: float
    billed_minutes: float
    spent: float = Field(description="Charged, in minutes or credits.")
    spent_units: int
    balance: float
    balance_unit: Literal["minutes", "credits"]


class LedgerTotals(BaseModel):
    """Ledger movements of an account, in its display unit (all positive)."""

    topped_up: float
    charged: float
    refunded: float
    held_now: float = Field(description="Reservations not yet released or settled.")
    entries: int


class AccountSummary(BaseModel):
    """Everything an account's detail page shows: the account, balance, stats, ledger."""

    account: AccountRead
    balance: BalanceRead
    stats: AccountStats
    ledger: LedgerTotals


class SystemStats(BaseModel):
    total_accounts: int
    active_accounts: int
    suspended_accounts: int


class DashboardStats(BaseModel):
    """One account's stats and balance, or (admin, no account) the system's figures."""

    timestamp: datetime
    account: AccountStats | None = None
    balance: BalanceRead | None = None
    system: SystemStats | None = None


class LastCallSettings(BaseModel):
    account_id: str
    batch_id: str | None
    call_settings: dict[str, Any] | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=100)
    read_only: bool = Field(
        False,
        description="A read-only key acts with the viewer role: it reads everything of "
        "its account and every write it sends is refused (403).",
    )


class ApiKeyCreated(BaseModel):
    api_key_id: str
    account_id: str
    name: str
    prefix: str
    read_only: bool = False
    api_key: str = Field(description="Shown only once.")
    created_at: datetime


class ApiKeyRead(BaseModel):
    """An API key as listed: never the key itself, only its first characters."""

    model_config = ConfigDict(from_attributes=True)

    api_key_id: str = Field(validation_alias="id")
    account_id: str
    name: str
    prefix: str
    read_only: bool
    revoked: bool
    created_at: datetime
    last_used_at: datetime | None


UserRole = Literal["admin", "supervisor", "operator", "viewer"]
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$"


def _password(v: str) -> str:
    if len(v) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if v.strip() != v or not v.strip():
        raise ValueError("the password cannot start or end with spaces")
    return v


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="Log-in name (case-insensitive).")
    email: str | None = Field(None, max_length=320, pattern=EMAIL_PATTERN)
    full_name: str | None = Field(None, max_length=200)
    role: UserRole = "operator"
    password: str = Field(min_length=1, max_length=200)

    @field_validator("password")
    @classmethod
    def _check_password(cls, v: str) -> str:
        return _password(v)


class UserUpdate(BaseModel):
    """Change a user's role, name, e-mail, password or active flag (deactivating ends
    every session of the user at once)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=320, pattern=EMAIL_PATTERN)
    full_name: str | None = Field(None, max_length=200)
    role: UserRole | None = None
    password: str | None = Field(None, min_length=1, max_length=200)
    is_active: bool | None = None

    @field_validator("password")
    @classmethod
    def _check_password(cls, v: str | None) -> str | None:
        return None if v is None else _password(v)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: str = Field(validation_alias="id")
    account_id: str
    username: str
    email: str | None
    full_name: str | None
    role: UserRole
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: str
    actor_type: str
    actor_id: str | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    created_at: datetime
