"""Calling windows. Pure: given settings, a timezone and an instant, is dialing allowed,
and if not, when does it next open?

All checks are done on local wall-clock time obtained by converting the UTC instant to
the zone, so DST changes are handled by zoneinfo, not by arithmetic on offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from dialer.batch.settings import CallSettings
from dialer.compliance.profiles import effective_timezone, profile_for
from dialer.kit.localtime import first_instant


@dataclass(frozen=True)
class Schedule:
    """The effective weekly schedule after applying the compliance profile."""

    tz: ZoneInfo
    days: tuple[tuple[time, time] | None, ...]  # index 0 = Monday
    holiday_country: str | None
    # The debtor's region (a ``holidays`` subdivision code, e.g. "AP" Arica y Parinacota):
    # its regional holidays close the window too.
    holiday_region: str | None = None
    # The debtor's commune when known (``compliance.place.commune_of``): a holiday the law
    # gives to some communes of a region only (``COMMUNAL_HOLIDAYS``) closes it there only.
    holiday_commune: str | None = None

    def window_on(self, d: date) -> tuple[time, time] | None:
        if self.holiday_country and is_holiday(
            self.holiday_country, d, self.holiday_region, self.holiday_commune
        ):
            return None
        return self.days[d.weekday()]

    def at_place(self, tz: ZoneInfo, region: str | None, commune: str | None = None) -> Schedule:
        """The same hours and days, read on the debtor's own clock and calendar."""
        if tz == self.tz and region == self.holiday_region and commune == self.holiday_commune:
            return self
        return replace(self, tz=tz, holiday_region=region, holiday_commune=commune)


# Holidays the ``holidays`` calendar files under a region but the law gives to some of
# its communes only: (country, region) -> (month, day) -> the communes (as
# ``compliance.place.commune_of`` names them). Chile, Ley 20.768 (2014), single article:
# "Declárase feriado el día 20 de agosto de cada año para las comunas de Chillán y
# Chillán Viejo" - not for the rest of Ñuble, and no law extends it to the region.
COMMUNAL_HOLIDAYS: dict[tuple[str, str], dict[tuple[int, int], frozenset[str]]] = {
    ("CL", "NB"): {(8, 20): frozenset({"chillan", "chillan viejo"})},
}


def needs_commune(country: str | None, region: str | None) -> bool:
    """Whether the debtor's commune decides some holiday of ``region``."""
    return country is not None and region is not None and (country, region) in COMMUNAL_HOLIDAYS


@lru_cache(maxsize=256)
def _holidays(country: str, year: int, region: str | None, commune: str | None) -> frozenset[date]:
    if region is not None and region not in _subdivisions(country):
        region = None  # a region the calendar does not know has only national holidays
    days = frozenset(holidays_lib.country_holidays(country, subdiv=region, years=year).keys())
    communal = COMMUNAL_HOLIDAYS.get((country, region or ""))
    if not communal:
        return days
    national = _holidays(country, year, None, None)
    return frozenset(
        d
        for d in days
        if d in national or commune in communal.get((d.month, d.day), frozenset({commune}))
    )


@lru_cache(maxsize=8)
def _subdivisions(country: str) -> frozenset[str]:
    return frozenset(holidays_lib.country_holidays(country).subdivisions)


def is_holiday(
    country: str, d: date, region: str | None = None, commune: str | None = None
) -> bool:
    """National holiday of ``country``, or a holiday of its subdivision ``region`` (one
    the law gives to some communes only when ``commune`` is one of them)."""
    if not needs_commune(country, region):
        commune = None  # one cache entry per region where the commune decides nothing
    return d in _holidays(country, d.year, region, commune)


def schedule_for(settings: CallSettings, *, default_timezone: str, country: str | None) -> Schedule:
    """Combine call_settings and its compliance profile into one Schedule."""
    profile = profile_for(settings.compliance_profile)
    tzname = effective_timezone(profile, settings.timezone or default_timezone)
    days: list[tuple[time, time] | None] = []
    for wd in range(7):
        w = settings.hours_for(wd)
        span: tuple[time, time] | None = (w.start_time, w.end_time) if w else None
        if span and profile:
            limits = profile.limits(wd)
            if limits is None:
                span = None
            else:
                start, end = max(span[0], limits[0]), min(span[1], limits[1])
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
    # A window opening inside a skipped hour opens at the jump (kit.localtime).
    return first_instant(d, t, tz)


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
    """When the window that is open at ``now`` closes (None if closed now, or open
    without a break for more than a week).

    A window ending at 24:00 followed by one starting at 00:00 the next day is one
    window: a call may run across midnight."""
    if not is_open(schedule, now):
        return None
    d = now.astimezone(schedule.tz).date()
    span = schedule.window_on(d)
    for _ in range(8):
        assert span is not None
        if span[1] != time.max:
            return _local_to_utc(d, span[1], schedule.tz)
        d += timedelta(days=1)
        span = schedule.window_on(d)
        if span is None or span[0] != time(0, 0):
            return _local_to_utc(d, time(0, 0), schedule.tz)
    return None


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def for_debtor(
    schedule: Schedule,
    profile_name: str,
    timezone: str | None,
    region: str | None,
    commune: str | None = None,
) -> Schedule:
    """The batch's schedule on a debtor's own clock and regional calendar (and commune,
    for the holidays the law gives to some communes only).

    ``timezone`` None (the debtor's place is unknown) keeps the batch's zone. Under a
    profile, a zone where the profile does not apply falls back to the profile's zone.
    """
    if timezone is None:
        return schedule.at_place(schedule.tz, region, commune)
    tzname = effective_timezone(profile_for(profile_name), timezone)
    return schedule.at_place(zone(tzname), region, commune)


def open_anywhere(schedule: Schedule, zones: frozenset[str], now: datetime) -> bool:
    """Whether the window is open in the batch's zone or in any of ``zones`` (where the
    batch's debtors may be): the batch-level gate before per-debtor checks."""
    if is_open(schedule, now):
        return True
    return any(is_open(schedule.at_place(zone(z), None), now) for z in zones)


def next_open_anywhere(schedule: Schedule, zones: frozenset[str], now: datetime) -> datetime | None:
    """The first opening in the batch's zone or any of ``zones``."""
    found = [next_open(schedule, now)]
    found += [next_open(schedule.at_place(zone(z), None), now) for z in zones]
    times = [t for t in found if t is not None]
    return min(times) if times else None
