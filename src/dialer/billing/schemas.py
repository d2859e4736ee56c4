"""Ledger API types."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from dialer.billing.pricing import to_display
from dialer.models import LedgerEntry, PlanType


def unit_name(plan: PlanType | str) -> Literal["minutes", "credits"]:
    return "credits" if PlanType(plan) == PlanType.CREDIT_BASED else "minutes"


class LedgerEntryRead(BaseModel):
    transaction_id: int
    account_id: str
    kind: str
    amount: float = Field(description="Signed, in minutes or credits.")
    amount_units: int
    balance_after: float
    balance_after_units: int
    unit: Literal["minutes", "credits"]
    idempotency_key: str
    batch_id: str | None
    job_id: str | None
    attempt_id: str | None
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: LedgerEntry, plan: PlanType) -> LedgerEntryRead:
        return cls(
            transaction_id=entry.id,
            account_id=entry.account_id,
            kind=str(entry.kind),
            amount=to_display(plan, entry.amount),
            amount_units=entry.amount,
            balance_after=to_display(plan, entry.balance_after),
            balance_after_units=entry.balance_after,
            unit=unit_name(plan),
            idempotency_key=entry.idempotency_key,
            batch_id=entry.batch_id,
            job_id=entry.job_id,
            attempt_id=entry.attempt_id,
            description=entry.description,
            created_at=entry.created_at,
        )


class LedgerPage(BaseModel):
    items: list[LedgerEntryRead]
    total: int
    limit: int
    skip: int
    balance: float
    balance_units: int
    unit: Literal["minutes", "credits"]
