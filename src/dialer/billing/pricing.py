"""Call pricing. Pure integer arithmetic, no floats on money.

Units: a ``minutes_based`` account's balance counts **seconds**; a ``credit_based``
account's balance counts **hundredths of a credit**. The API converts to minutes and
credits for display.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dialer.models.account import PlanType

CREDIT_UNITS = 100  # units per credit
SECONDS_PER_MINUTE = 60


class PricingSettings(BaseModel):
    """Per-account pricing, stored under ``account.settings['pricing']``."""

    model_config = ConfigDict(extra="forbid")

    rounding: Literal["minute", "second"] = "minute"
    # Credit plans: price per billed minute and a per-attempt fee, in hundredths of a credit.
    credits_per_minute_units: int = Field(100, ge=0)
    per_attempt_fee_units: int = Field(0, ge=0)
    # Charge unanswered attempts (no_answer, busy, voicemail) as if answered.
    charge_unanswered: bool = False


def limited(plan: PlanType | str) -> bool:
    """Whether the plan's balance limits calling (every plan but ``unlimited``)."""
    return PlanType(plan) != PlanType.UNLIMITED


def billed_seconds(duration_s: int, rounding: str) -> int:
    if duration_s <= 0:
        return 0
    if rounding == "second":
        return duration_s
    return -(-duration_s // SECONDS_PER_MINUTE) * SECONDS_PER_MINUTE


def call_cost(
    plan: PlanType, pricing: PricingSettings, *, duration_s: int, answered: bool
) -> tuple[int, int]:
    """(billed_seconds, cost in account units) of one attempt."""
    if not answered and not pricing.charge_unanswered:
        return 0, 0
    secs = billed_seconds(duration_s, pricing.rounding)
    if plan != PlanType.CREDIT_BASED:  # minutes and unlimited plans count seconds
        return secs, secs
    per_min = pricing.credits_per_minute_units
    cost = -(-secs * per_min // SECONDS_PER_MINUTE) + pricing.per_attempt_fee_units
    return secs, cost


def reservation(plan: PlanType, pricing: PricingSettings, *, max_seconds: int) -> int:
    """Units held before dialing: the cost of a call of ``max_seconds``."""
    return call_cost(plan, pricing, duration_s=max_seconds, answered=True)[1]


def to_display(plan: PlanType, units: int) -> float:
    """Units as minutes (minutes and unlimited plans) or credits (credit plans)."""
    if plan != PlanType.CREDIT_BASED:
        return round(units / SECONDS_PER_MINUTE, 2)
    return round(units / CREDIT_UNITS, 2)


def from_display(plan: PlanType, amount: float) -> int:
    if plan != PlanType.CREDIT_BASED:
        return round(amount * SECONDS_PER_MINUTE)
    return round(amount * CREDIT_UNITS)
