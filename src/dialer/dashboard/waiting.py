"""When a waiting campaign goes on, in words a supervisor reads at a glance: "hoy a las
09:00", "mañana a las 09:00", "el lunes 7 a las 09:00", on the clock of the place whose
window opens (the campaign's zone, or a debtor's), naming that zone only when it is not
the account's own. Pure: the instant, ``now`` (the injectable clock's) and the zones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from dialer.batch.windows import Schedule

_DAYS = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
_TEXT = {
    "es": {
        "today": "hoy a las {time}",
        "tomorrow": "mañana a las {time}",
        "week": "el {weekday} {day} a las {time}",
        "later": "el {weekday} {day} de {month} a las {time}",
        "year": "el {weekday} {day} de {month} de {year} a las {time}",
        "zone": "{when} (hora de {zone})",
    },
    "en": {
        "today": "today at {time}",
        "tomorrow": "tomorrow at {time}",
        "week": "on {weekday} {day} at {time}",
        "later": "on {weekday} {day} {month} at {time}",
        "year": "on {weekday} {day} {month} {year} at {time}",
        "zone": "{when} ({zone} time)",
    },
}


def zone_name(tz: str | None) -> str:
    """``America/Punta_Arenas`` -> ``Punta Arenas``; no zone -> ``UTC``."""
    if not tz:
        return "UTC"
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def when_words(
    at: datetime, now: datetime, tz: str | None, lang: str, *, home_tz: str | None = None
) -> str:
    """``at`` on the clock of ``tz``, said against the local day of ``now`` there.

    Today and tomorrow by name; within the coming week the weekday and its date ("el
    lunes 7"); later the month too, and the year when it is not this one. The zone is
    named when it is not ``home_tz`` (the account's: the reader's own clock)."""
    lang = lang if lang in _TEXT else "es"
    text = _TEXT[lang]
    zone = ZoneInfo(tz or "UTC")
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    fields = {
        "time": f"{local:%H:%M}",
        "weekday": _DAYS[lang][local.weekday()],
        "day": local.day,
        "month": _MONTHS[lang][local.month - 1],
        "year": local.year,
    }
    if days == 0:
        when = text["today"].format(**fields)
    elif days == 1:
        when = text["tomorrow"].format(**fields)
    elif 1 < days < 7:
        when = text["week"].format(**fields)
    elif local.year == today.year:
        when = text["later"].format(**fields)
    else:
        when = text["year"].format(**fields)
    if (tz or "UTC") != (home_tz or tz or "UTC"):
        when = text["zone"].format(when=when, zone=zone_name(tz))
    return when


def opening_zone(schedule: Schedule, zones: Iterable[str], until: datetime) -> str:
    """The zone whose window opens at ``until``: the campaign's own when it does, else
    the first debtor zone (by name) whose day starts then. The claim records the
    earliest opening over all of them (``batch.windows.next_open_anywhere``)."""
    own = schedule.tz.key
    for name in (own, *sorted(set(zones) - {own})):
        zone = ZoneInfo(name)
        local = until.astimezone(zone)
        span = schedule.at_place(zone, None).window_on(local.date())
        if span is not None and span[0] == local.time().replace(tzinfo=None, microsecond=0):
            return name
    return own
