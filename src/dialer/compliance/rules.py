"""Per-debtor contact rules and phone identity. Pure: no database, no clock.

The contact limit of a profile (``cl_cobranza``: one answered call per debtor per rolling
7 days) is decided here from the debtor's answered-contact instants; the dispatcher does
the I/O (reading ``contact_log``) and applies the decision as a snooze that does not
spend an attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.compliance.profiles import Profile
from dialer.kit.localtime import first_instant
from dialer.kit.phone import line_variants

WEEKLY_LIMIT = "compliance_weekly_limit"
DEBTOR_KEY_MAX = 64  # contact_log.debtor_key column size


@dataclass(frozen=True)
class Allowed:
    """The debtor may be called now."""


@dataclass(frozen=True)
class SnoozeUntil:
    """The debtor may not be called before ``until`` (reason is a job ``wait_reason``)."""

    until: datetime
    reason: str = WEEKLY_LIMIT


ContactDecision = Allowed | SnoozeUntil


def contact_decision(
    profile: Profile | None, contacts: Iterable[datetime], now: datetime
) -> ContactDecision:
    """May a debtor with these answered-contact instants be called at ``now``?

    Rolling window: a contact counts while ``now - contact < period``. With a limit of N
    contacts per period, the debtor is free again when enough of the counted contacts
    have aged out; for N = 1 that is exactly ``last contact + period``.
    """
    if profile is None or profile.contacts_per_debtor is None or profile.contact_period is None:
        return Allowed()
    period = profile.contact_period
    recent = sorted(c for c in contacts if now - c < period)
    limit = profile.contacts_per_debtor
    if len(recent) < limit:
        return Allowed()
    # The window drops back to limit-1 contacts once the (len-limit)-th oldest ages out.
    return SnoozeUntil(until=recent[len(recent) - limit] + period)


def debtor_key(dni: str | None, phones: Sequence[str] | None) -> str | None:
    """Who the debtor is for contact limits: the national id (RUT/DNI) when known, else
    the first phone. Ingestion normalises RUT/DNI, so the id is used as is: the webhook
    handler logs contacts under exactly this key."""
    if dni:
        return dni[:DEBTOR_KEY_MAX]
    if phones:
        return phones[0][:DEBTOR_KEY_MAX]
    return None


def phone_variants(e164: str) -> tuple[str, ...]:
    """Every E.164 spelling of the same line, for do-not-call matching (``kit.phone``)."""
    return line_variants(e164)


# -- per-contact attempt caps -------------------------------------------------------------

DAILY_CAP = "compliance_daily_cap"
WEEKLY_CAP = "compliance_weekly_cap"


def local_day_start(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 of ``at``'s calendar day on the debtor's clock, as a UTC instant."""
    d = at.astimezone(tz).date()
    return _first_instant(d, tz)


def local_week_start(at: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of ``at``'s ISO week on the debtor's clock, as a UTC instant."""
    d = at.astimezone(tz).date()
    return _first_instant(d - timedelta(days=d.weekday()), tz)


def _first_instant(d: date, tz: ZoneInfo) -> datetime:
    # Midnight may not exist (a spring change at 00:00): the day starts at the jump.
    return first_instant(d, time(0, 0), tz)


def cap_decision(
    attempts: Iterable[datetime],
    now: datetime,
    tz: ZoneInfo,
    *,
    per_day: int | None,
    per_week: int | None,
) -> SnoozeUntil | None:
    """May one more attempt start at ``now``, given the debtor's attempt instants?

    Calendar definitions, on the debtor's own clock: a day runs 00:00-24:00 local; a
    week runs Monday 00:00 to Sunday 24:00 local (ISO week). None: allowed; else the
    start of the next day (or week) when a new attempt may start.
    """
    if per_day is None and per_week is None:
        return None
    day0 = local_day_start(now, tz)
    week0 = local_week_start(now, tz)
    today = this_week = 0
    for at in attempts:
        if at >= week0 and at <= now:
            this_week += 1
            if at >= day0:
                today += 1
    if per_week is not None and this_week >= per_week:
        d = week0.astimezone(tz).date() + timedelta(days=7)
        return SnoozeUntil(until=_first_instant(d, tz), reason=WEEKLY_CAP)
    if per_day is not None and today >= per_day:
        d = now.astimezone(tz).date() + timedelta(days=1)
        return SnoozeUntil(until=_first_instant(d, tz), reason=DAILY_CAP)
    return None
