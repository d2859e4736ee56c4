"""Reporting API types."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Overview(BaseModel):
    account_id: str | None = Field(description="None: every account (admin).")
    date: dt.date = Field(description="'Today' in the account's timezone (UTC for all accounts).")
    timezone: str
    jobs_today: int = Field(description="Jobs loaded today (batches created today).")
    calls_today: int = Field(description="Call attempts that ended today.")
    answered_calls_today: int
    success_rate_percentage: float = Field(description="Answered / calls today x 100.")
    outcomes_today: dict[str, int]
    active_batches: int
    pending_jobs: int = Field(description="Jobs waiting to be dialed in open batches.")
    calls_in_progress: int
    minutes_used_today: float = Field(description="Billed minutes today.")
    credits_used_today: float | None = Field(description="Credits charged today (credit plans).")
    right_party_contacts_today: int = Field(
        default=0, description="Answered by the debtor today (not a wrong person)."
    )
    contact_rate_today: float = Field(
        default=0.0, description="Right-party contacts / calls today x 100."
    )
    promises_today: int = 0
    promised_amount_today: int = Field(default=0, description="Smallest unit of the currency.")
    promises_kept_today: int = 0
    promises_broken_today: int = 0
    payments_today: int = Field(default=0, description="Payments dated today, matched to jobs.")
    recovered_amount_today: int = Field(default=0, description="Smallest unit of the currency.")


class RecoveryFigures(BaseModel):
    attempts: int
    contacts: int = Field(description="Answered calls.")
    right_party_contacts: int = Field(description="Answered by the debtor (not a wrong person).")
    contact_rate: float = Field(description="Right-party contacts per attempt, percent.")
    promises: int
    promised_amount: int
    promises_kept: int
    promises_broken: int
    payments: int
    recovered_amount: int
    currency: str
    minutes: float
    cost: float = Field(description="Minutes (minutes plans) or credits (credit plans).")
    cost_unit: str
    cost_per_promise: float | None
    cost_per_recovered_unit: float | None = Field(
        description="Cost per unit of currency recovered (per peso)."
    )


class RecoveryBucket(RecoveryFigures):
    key: str = Field(description="YYYY-MM-DD (by day) or HH (hour of day), local time.")


class RecoveryReport(BaseModel):
    scope: str
    account_id: str | None
    batch_id: str | None
    timezone: str
    totals: RecoveryFigures
    by_day: list[RecoveryBucket]
    by_hour: list[RecoveryBucket]
