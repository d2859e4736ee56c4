"""Compliance profiles: named presets the dispatcher enforces on top of call_settings.

``cl_cobranza`` — Chile, debt collection. Ley 21.320 (2021) amending Ley 19.496
(consumer protection) art. 37: collection contacts only Monday to Saturday between
08:00 and 20:00, never on public holidays, and at most one phone contact per debtor
per week. We count an *answered* call as a contact, per account across all its batches,
over a rolling 7 days. Unanswered attempts are not contacts.

``none`` — no extra rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import TYPE_CHECKING

from dialer.errors import InvalidInput

if TYPE_CHECKING:
    from dialer.batch.settings import CallSettings


@dataclass(frozen=True)
class Profile:
    name: str
    citation: str
    weekdays: frozenset[int]  # 0 = Monday
    earliest: time
    latest: time
    skip_holidays: bool
    holiday_country: str | None
    contacts_per_debtor: int | None
    contact_period: timedelta | None
    timezone: str | None  # default timezone for windows


CL_COBRANZA = Profile(
    name="cl_cobranza",
    citation="Ley 21.320 / Ley 19.496 art. 37 (Chile)",
    weekdays=frozenset(range(6)),
    earliest=time(8, 0),
    latest=time(20, 0),
    skip_holidays=True,
    holiday_country="CL",
    contacts_per_debtor=1,
    contact_period=timedelta(days=7),
    timezone="America/Santiago",
)

PROFILES: dict[str, Profile | None] = {"none": None, "cl_cobranza": CL_COBRANZA}

CHILEAN_ZONES = frozenset(
    {
        "America/Santiago",
        "America/Punta_Arenas",
        "Pacific/Easter",
        "Chile/Continental",
        "Chile/EasterIsland",
    }
)


class ComplianceViolation(InvalidInput):
    """The call settings break the batch's compliance profile."""


def profile_for(name: str) -> Profile | None:
    return PROFILES.get(name)


def check_settings(settings: CallSettings) -> None:
    """Raise a ValueError (surfaced as 422 naming the rule) when settings conflict."""
    profile = profile_for(settings.compliance_profile)
    if profile is None:
        return
    from dialer.batch.settings import WEEKDAYS

    for day in settings.allowed_weekdays:
        idx = WEEKDAYS.index(day)
        if idx not in profile.weekdays:
            raise ValueError(
                f"allowed_weekdays: '{day}' is not allowed by {profile.name} "
                f"({profile.citation}: collection calls only Monday to Saturday)"
            )
        window = settings.hours_for(idx)
        if window is None:
            continue
        if window.start_time < profile.earliest or window.end_time > profile.latest:
            raise ValueError(
                f"allowed_call_hours: {window.start}-{window.end} on '{day}' is outside "
                f"{profile.earliest:%H:%M}-{profile.latest:%H:%M} required by {profile.name} "
                f"({profile.citation})"
            )
    if settings.timezone is not None and settings.timezone not in CHILEAN_ZONES:
        raise ValueError(
            f"timezone: {profile.name} applies Chilean local time; '{settings.timezone}' is not a "
            f"Chilean zone ({profile.citation})"
        )
