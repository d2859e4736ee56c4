"""Recovery figures per batch and per account, from the hourly roll-up only: the cost of a
report grows with the hours it covers, never with the number of jobs or attempts.

Served by the API (``/api/v1/.../recovery``, collection endpoints) and drawn by the
dashboard, from this one implementation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.billing.pricing import CREDIT_UNITS
from dialer.errors import NotFound
from dialer.job.outcomes import CURRENCY_EXPONENT, DEFAULT_CURRENCY
from dialer.models import Account, PlanType
from dialer.reporting import queries
from dialer.reporting.schemas import RecoveryBucket, RecoveryFigures, RecoveryReport

NAMES = queries.RECOVERY_COUNTERS


@dataclass
class Sums:
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NAMES, 0))

    def add(self, row: Iterable[Any]) -> None:
        for name, v in zip(NAMES, row, strict=True):
            self.values[name] += int(v or 0)


def figures_of(s: Sums, *, plan: PlanType, currency: str) -> RecoveryFigures:
    """The derived figures (rates, cost per promise and per recovered unit) of sums. Pure."""
    v = s.values
    credits = plan == PlanType.CREDIT_BASED
    cost = v["cost_units"] / CREDIT_UNITS if credits else v["cost_units"] / 60
    recovered_main = v["recovered_amount"] / 10 ** CURRENCY_EXPONENT.get(currency, 0)
    return RecoveryFigures(
        attempts=v["attempts"],
        contacts=v["contacts"],
        right_party_contacts=v["right_party"],
        contact_rate=round(100 * v["right_party"] / v["attempts"], 2) if v["attempts"] else 0.0,
        promises=v["promises"],
        promised_amount=v["promised_amount"],
        promises_kept=v["kept"],
        promises_broken=v["broken"],
        payments=v["payments"],
        recovered_amount=v["recovered_amount"],
        currency=currency,
        minutes=round(v["billed_seconds"] / 60, 2),
        cost=round(cost, 4),
        cost_unit="credits" if credits else "minutes",
        cost_per_promise=round(cost / v["promises"], 4) if v["promises"] else None,
        cost_per_recovered_unit=round(cost / recovered_main, 6) if recovered_main else None,
    )


async def recovery(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None = None,
    batch_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> RecoveryReport:
    """Recovery figures of a batch or an account, in total, by local day and by hour of day.

    ``start`` / ``end`` (inclusive) are local days of the account."""
    if batch_id is not None:
        owner = await queries.batch_owner(session, batch_id)
        if owner is None or not principal.can_see(owner[0]):
            raise NotFound(f"batch '{batch_id}' not found", field="batch_id")
        account_id = owner[0]
    assert account_id is not None
    principal.check_account(account_id)
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    tz = ZoneInfo(account.timezone)
    lo = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC) if start else None
    hi = (
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        if end
        else None
    )
    rows = await queries.recovery_rows(
        session, account_id=None if batch_id else account_id, batch_id=batch_id, start=lo, end=hi
    )
    total, days, hours = Sums(), dict[str, Sums](), dict[str, Sums]()
    for hour, *counters in rows:
        local = hour.astimezone(tz)
        total.add(counters)
        days.setdefault(local.date().isoformat(), Sums()).add(counters)
        hours.setdefault(f"{local.hour:02d}", Sums()).add(counters)
    plan = PlanType(account.plan_type)
    currency = DEFAULT_CURRENCY.get(account.country, "CLP")

    def buckets(groups: dict[str, Sums]) -> list[RecoveryBucket]:
        return [
            RecoveryBucket(
                key=k, **figures_of(groups[k], plan=plan, currency=currency).model_dump()
            )
            for k in sorted(groups)
        ]

    return RecoveryReport(
        scope="batch" if batch_id else "account",
        account_id=account_id,
        batch_id=batch_id,
        timezone=account.timezone,
        totals=figures_of(total, plan=plan, currency=currency),
        by_day=buckets(days),
        by_hour=buckets(hours),
    )
