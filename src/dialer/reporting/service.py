"""Overview cards and the hourly call roll-up that keeps them cheap.

The dispatcher calls ``record_attempt`` once per finished attempt, in the same
transaction that records the outcome, so ``call_stats`` always agrees with the
attempts. Overview reads only that roll-up, batch counters and the in-flight jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.repository import AccountRepository
from dialer.billing.pricing import CREDIT_UNITS
from dialer.db.caches import caches_of
from dialer.errors import NotFound
from dialer.job.states import ANSWERED
from dialer.kit import clock
from dialer.models import PlanType
from dialer.reporting import queries
from dialer.reporting.schemas import Overview


def hour_bucket(at: datetime) -> datetime:
    """The UTC hour an instant falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def record_attempt(
    session: AsyncSession,
    *,
    account_id: str,
    at: datetime,
    outcome: str,
    billed_seconds: int,
    cost_units: int,
    calls: int = 1,
) -> None:
    """Count finished attempts (one by default) in the account's hourly roll-up (an upsert).

    ``at`` is when the attempt ended; ``cost_units`` what was charged, in account units.
    Call it once per attempt, in the transaction that settles it.
    """
    await queries.upsert_call_stat(
        session,
        account_id=account_id,
        hour=hour_bucket(at),
        outcome=str(outcome),
        billed_seconds=billed_seconds,
        cost_units=cost_units,
        calls=calls,
    )


# An account's plan never changes and its timezone only by an admin's PATCH, while
# dashboards ask for the overview every few seconds: remembered by the database's owner
# (db/caches.py; bounded), the overview is one query instead of two. The TTL bounds how long a changed timezone
# (or an account edited directly in the database) keeps its old day boundaries here.
def _profiles_cache() -> TTLCache[str, tuple[PlanType, str]]:
    return TTLCache(maxsize=10_000, ttl=60.0)


async def _plan_and_timezone(session: AsyncSession, account_id: str) -> tuple[PlanType, str]:
    _profiles = caches_of(session).get("reporting.profiles", _profiles_cache)
    hit = _profiles.get(account_id)
    if hit is not None:
        return hit
    row = await AccountRepository.from_session(session).plan_and_timezone(account_id)
    if row is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    profile = (PlanType(row[0]), row[1])
    _profiles[account_id] = profile
    return profile


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day containing ``now``, as UTC instants.

    CL and AR offsets are whole hours, so these fall exactly on hourly buckets; a day
    may be 23 or 25 hours long around DST changes.
    """
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


async def overview(session: AsyncSession, principal: Principal, account_id: str | None) -> Overview:
    """Today's cards for one account (an account key: always its own), or for all (admin)."""
    scoped = principal.scope(account_id)
    plan: PlanType | None = None
    tzname = "UTC"
    if scoped is not None:
        plan, tzname = await _plan_and_timezone(session, scoped)
    now = clock.now()
    start, end = local_day_bounds(now, ZoneInfo(tzname))
    stats, totals = await queries.overview_figures(session, scoped, start, end)
    outcomes = {o: c for o, c, _s, _u in stats}
    calls = sum(outcomes.values())
    answered = sum(c for o, c in outcomes.items() if o in ANSWERED)
    seconds = sum(s for _o, _c, s, _u in stats)
    cost = sum(u for _o, _c, _s, u in stats)
    return Overview(
        account_id=scoped,
        date=now.astimezone(ZoneInfo(tzname)).date(),
        timezone=tzname,
        jobs_today=totals["jobs_today"],
        calls_today=calls,
        answered_calls_today=answered,
        success_rate_percentage=round(100 * answered / calls, 2) if calls else 0.0,
        outcomes_today=outcomes,
        active_batches=totals["active_batches"],
        pending_jobs=totals["pending_jobs"],
        calls_in_progress=totals["calls_in_progress"],
        minutes_used_today=round(seconds / 60, 2),
        credits_used_today=(
            round(cost / CREDIT_UNITS, 2) if plan == PlanType.CREDIT_BASED else None
        ),
        right_party_contacts_today=totals.get("right_party", 0),
        contact_rate_today=(round(100 * totals.get("right_party", 0) / calls, 2) if calls else 0.0),
        promises_today=totals.get("promises", 0),
        promised_amount_today=totals.get("promised_amount", 0),
        promises_kept_today=totals.get("kept", 0),
        promises_broken_today=totals.get("broken", 0),
        payments_today=totals.get("payments", 0),
        recovered_amount_today=totals.get("recovered_amount", 0),
    )
