"""Calling windows. Pure: given settings, a timezone and an instant, is dialing allowed,
and if not, when does it next open?

All checks are done on local wall-clock time obtained by converting the UTC instant to
the zone, so DST changes are handled by zoneinfo, not by arithmetic on offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from dialer.batch.settings import CallSettings
from dialer.compliance.profiles import effective_timezone, profile_for


@dataclass(frozen=True)
class Schedule:
    """The effective weekly schedule after applying the compliance profile."""

    tz: ZoneInfo
    days: tuple[tuple[time, time] | None, ...]  # index 0 = Monday
    holiday_country: str | None

    def window_on(self, d: date) -> tuple[time, time] | None:
        if self.holiday_country and is_holiday(self.holiday_country, d):
            return None
        return self.days[d.weekday()]


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, years=year).keys())


def is_holiday(country: str, d: date) -> bool:
    return d in _holidays(country, d.year)


def schedule_for(settings: CallSettings, *, default_timezone: str, country: str | None) -> Schedule:
    """Combine call_settings and its compliance profile into one Schedule."""
    profile = profile_for(settings.compliance_profile)
    tzname = effective_timezone(profile, settings.timezone or default_timezone)
    days: list[tuple[time, time] | None] = []
    for wd in range(7):
        w = settings.hours_for(wd)
        span: tuple[time, time] | None = (w.start_time, w.end_time) if w else None
        if span and profile:
            if wd not in profile.weekdays:
                span = None
            else:
                start, end = max(span[0], profile.earliest), min(span[1], profile.latest)
                span = (start, end) if start < end else None
        days.append(span)
    holiday_country = None
    if settings.skip_holidays:
        holiday_country = settings.holiday_country or country
    if profile and profile.skip_holidays:
        holiday_country = profile.holiday_country
    return Schedule(tz=ZoneInfo(tzname), days=tuple(days), holiday_country=holiday_country)


def is_open(schedule: Schedule, now: datetime) -> bool:
    local = now.astimezone(schedule.tz)
    span = schedule.window_on(local.date())
    if span is None:
        return False
    t = local.time().replace(tzinfo=None)
    return span[0] <= t < span[1]


def _local_to_utc(d: date, t: time, tz: ZoneInfo) -> datetime:
    # Round-trip through UTC so a wall time inside a DST gap moves to the first real
    # instant after it (e.g. 00:30 on a night that skips 00:00-01:00 becomes 01:00... ).
    naive = datetime.combine(d, t)
    aware = naive.replace(tzinfo=tz)
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        # Nonexistent local time: take the instant the gap ends.
        aware = naive.replace(tzinfo=tz, fold=1)
    return aware.astimezone(UTC)


def next_open(schedule: Schedule, now: datetime, *, horizon_days: int = 400) -> datetime | None:
    """``now`` when open, else the first instant the window opens; None if never (horizon)."""
    if is_open(schedule, now):
        return now
    local_today = now.astimezone(schedule.tz).date()
    for offset in range(horizon_days):
        d = local_today + timedelta(days=offset)
        span = schedule.window_on(d)
        if span is None:
            continue
        start = _local_to_utc(d, span[0], schedule.tz)
        if start > now:
            return start
        # Window already started today but we are past its end (or in a DST gap edge).
        end = _local_to_utc(d, span[1], schedule.tz) if span[1] != time.max else None
        if end is None or now < end:
            if is_open(schedule, now):
                return now
    return None


def close_of_current_window(schedule: Schedule, now: datetime) -> datetime | None:
    """When the window that is open at ``now`` closes (None if closed now)."""
    if not is_open(schedule, now):
        return None
    local = now.astimezone(schedule.tz)
    span = schedule.window_on(local.date())
    assert span is not None
    if span[1] == time.max:
        return _local_to_utc(local.date() + timedelta(days=1), time(0, 0), schedule.tz)
    return _local_to_utc(local.date(), span[1], schedule.tz)
