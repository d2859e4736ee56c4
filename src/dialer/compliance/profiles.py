"""Compliance profiles: named presets the dispatcher enforces on top of call_settings.

``cl_cobranza`` — Chile, debt collection. Ley 21.320 (2021) amending Ley 19.496
(consumer protection) art. 37: collection contacts only Monday to Saturday between
08:00 and 20:00, never on public holidays, and at most one phone contact per debtor
per week. We count an *answered* call as a contact, per account across all its batches,
over a rolling 7 days. Unanswered attempts are not contacts.

``ar_cobranza`` — Argentina, debt collection. No national statute fixes calling hours;
Ley 24.240 art. 8 bis (trato digno) forbids harassing practices and the City of Buenos
Aires' Ley 6.171 (as amended by Ley 6.271) regulates collection agencies. The profile is
a conservative default: Monday-Friday 09:00-20:00 and Saturday 09:00-13:00 local time,
never on Sundays or Argentine national holidays and non-working days.

``none`` — no extra rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from dialer.errors import Conflict, InvalidInput


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
    # Zones where the profile's hours may be read (the debtor's own zone); others get
    # ``timezone``.
    zones: frozenset[str] = frozenset()
    # Narrower hours on some weekdays: (weekday, earliest, latest).
    day_limits: tuple[tuple[int, time, time], ...] = ()

    def limits(self, weekday: int) -> tuple[time, time] | None:
        """The earliest start and latest end on ``weekday`` (0 = Monday), None if closed."""
        if weekday not in self.weekdays:
            return None
        for wd, earliest, latest in self.day_limits:
            if wd == weekday:
                return earliest, latest
        return self.earliest, self.latest


CHILEAN_ZONES = frozenset(
    {
        "America/Santiago",
        "America/Punta_Arenas",  # Magallanes: UTC-3 all year since 2017
        "America/Coyhaique",  # Aysén: UTC-3 all year since 2025 (tzdata 2025b)
        "Pacific/Easter",
        "Chile/Continental",
        "Chile/EasterIsland",
    }
)
ARGENTINE_ZONES = frozenset(
    {
        "America/Argentina/Buenos_Aires", "America/Buenos_Aires",
        "America/Argentina/Catamarca", "America/Argentina/Cordoba", "America/Cordoba",
        "America/Argentina/Jujuy", "America/Argentina/La_Rioja",
        "America/Argentina/Mendoza", "America/Mendoza", "America/Argentina/Rio_Gallegos",
        "America/Argentina/Salta", "America/Argentina/San_Juan",
        "America/Argentina/San_Luis", "America/Argentina/Tucuman",
        "America/Argentina/Ushuaia", "America/Catamarca", "America/Jujuy",
    }
)  # fmt: skip

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
    zones=CHILEAN_ZONES,
)

AR_COBRANZA = Profile(
    name="ar_cobranza",
    citation="Ley 24.240 art. 8 bis; Ley 6.171 CABA (Argentina), conservative default",
    weekdays=frozenset(range(6)),
    earliest=time(9, 0),
    latest=time(20, 0),
    skip_holidays=True,
    holiday_country="AR",
    contacts_per_debtor=None,
    contact_period=None,
    timezone="America/Argentina/Buenos_Aires",
    zones=ARGENTINE_ZONES,
    day_limits=((5, time(9, 0), time(13, 0)),),
)

PROFILES: dict[str, Profile | None] = {
    "none": None,
    "cl_cobranza": CL_COBRANZA,
    "ar_cobranza": AR_COBRANZA,
}
# The zones a country's debtors may be in (the batch gate opens when any is open).
COUNTRY_ZONES = {"CL": CHILEAN_ZONES, "AR": ARGENTINE_ZONES}


class ComplianceViolation(InvalidInput, ValueError):
    """The call settings break the batch's compliance profile.

    Also a ``ValueError`` so that, raised inside pydantic validation, it becomes a normal
    422 validation error on ``call_settings`` carrying this message.
    """

    def __init__(self, profile: Profile, rule: str, message: str, *, field: str) -> None:
        self.rule = f"{profile.name}.{rule}"
        super().__init__(
            f"{field}: {message} — violates rule {self.rule} ({profile.citation})",
            field=field,
            rule=self.rule,
        )


def profile_for(name: str) -> Profile | None:
    return PROFILES.get(name)


def effective_timezone(profile: Profile | None, tzname: str) -> str:
    """The zone a profile's hours are read in: the batch's own zone when the profile
    allows it (a Chilean zone for ``cl_cobranza``), else the profile's default zone.

    Batches inherit the account's timezone when they set none, so an Argentine account
    running ``cl_cobranza`` still gets Santiago hours.
    """
    if profile is None or profile.timezone is None:
        return tzname
    if tzname in profile.zones:
        return tzname
    return profile.timezone


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe(profile: Profile) -> list[dict[str, str]]:
    """The rules a profile enforces, as shown in the API and docs."""
    days = ", ".join(DAY_NAMES[d] for d in sorted(profile.weekdays))
    narrower = "".join(f"; {DAY_NAMES[wd]} {a:%H:%M}-{b:%H:%M}" for wd, a, b in profile.day_limits)
    rules = [
        {"rule": f"{profile.name}.weekdays", "text": f"calls only on {days}"},
        {
            "rule": f"{profile.name}.hours",
            "text": f"calls only between {profile.earliest:%H:%M} and {profile.latest:%H:%M}"
            f"{narrower}, on the debtor's local clock (default {profile.timezone})",
        },
    ]
    if profile.skip_holidays:
        rules.append(
            {
                "rule": f"{profile.name}.holidays",
                "text": f"no calls on public holidays of {profile.holiday_country}, "
                "national and of the debtor's region",
            }
        )
    if profile.contacts_per_debtor and profile.contact_period:
        rules.append(
            {
                "rule": f"{profile.name}.contacts_per_debtor",
                "text": f"at most {profile.contacts_per_debtor} answered call(s) per debtor "
                f"per rolling {profile.contact_period.days} days, across all the account's "
                "batches; unanswered attempts do not count",
            }
        )
    return rules


# -- starting a batch: caller ID and the No Llame registry ---------------------------------

CALLER_ID_RULE = "SUBTEL Res. Exenta N° 286/2025 (Chile)"
NO_LLAME_RULE = "Ley 26.951 (Argentina, Registro Nacional No Llame)"
NO_LLAME_MAX_AGE = timedelta(days=30)


class CallerIdRefused(InvalidInput):
    """The batch's caller ID breaks Chile's numbering rule for mass calls."""


class NoLlameOutdated(Conflict):
    """The account's No Llame import is missing or older than 30 days."""


@dataclass(frozen=True)
class CallerIdRule:
    """The numbering a batch's caller ID must have: ``prefix`` (E.164, digits after +)."""

    prefix: str
    rule: str
    text: str


CALLER_ID_600 = CallerIdRule(
    "+56600", "cl.caller_id_600", "collection calls in Chile must present a 600 number"
)
CALLER_ID_809 = CallerIdRule(
    "+56809", "cl.caller_id_809", "unsolicited sales calls in Chile must present an 809 number"
)


def caller_id_rule(
    *, profile_name: str, processing_type: str, country: str | None
) -> CallerIdRule | None:
    """Chile, SUBTEL Res. Exenta 286/2025: mass or automated calls must present a 600
    number when solicited (collection included) and an 809 number when they are
    unsolicited marketing. Under ``cl_cobranza`` the caller ID must be +56 600...; a
    Chilean sales batch (``acquisition``) needs +56 809.... None: no numbering rule."""
    if profile_name == "cl_cobranza":
        return CALLER_ID_600
    if processing_type == "acquisition" and country == "CL":
        return CALLER_ID_809
    return None


def caller_id_ok(rule: CallerIdRule, number: str) -> bool:
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    return digits.startswith(rule.prefix)


def check_caller_id(
    *,
    profile_name: str,
    processing_type: str,
    country: str | None,
    from_number: str | None,
    field: str = "provider_options.from_number",
) -> None:
    """Raise CallerIdRefused (422 citing the rule) when ``from_number`` breaks the
    batch's caller-ID rule (see ``caller_id_rule``). ``field`` says where the number
    comes from (the batch's ``provider_options`` or the account's provider configuration).
    No number: nothing to check here; the dispatcher checks the number each call presents."""
    rule = caller_id_rule(profile_name=profile_name, processing_type=processing_type,
                          country=country)  # fmt: skip
    if not from_number or rule is None or caller_id_ok(rule, from_number):
        return
    kind = rule.prefix[3:]
    raise CallerIdRefused(
        f"{field}: '{from_number}' is not a +56 {kind} number; {rule.text} — {CALLER_ID_RULE}",
        field=field,
        rule=rule.rule,
    )


def check_no_llame(
    *,
    processing_type: str,
    country: str | None,
    imported_at: datetime | None,
    now: datetime,
) -> None:
    """Argentina, Ley 26.951: a sales batch may start only when the account imported the
    No Llame registry within the last 30 days (the law requires consulting it every 30
    days); raises NoLlameOutdated (409) saying why."""
    if processing_type != "acquisition" or country != "AR":
        return
    if imported_at is None:
        raise NoLlameOutdated(
            "the account has never imported the Registro Nacional No Llame; import it at "
            "/api/v1/accounts/{id}/do-not-call/import before starting a sales batch — "
            f"{NO_LLAME_RULE}",
            rule="ar.no_llame_30_days",
        )
    age = now - imported_at
    if age > NO_LLAME_MAX_AGE:
        raise NoLlameOutdated(
            f"the account's last No Llame import is {age.days} days old (imported "
            f"{imported_at:%Y-%m-%d}); import the registry again before starting a sales "
            f"batch: it must be consulted every 30 days — {NO_LLAME_RULE}",
            rule="ar.no_llame_30_days",
        )


@dataclass(frozen=True)
class ProvincialRegistry:
    """An Argentine province's own do-not-call registry for telephone marketing, on top
    of the national Registro Nacional No Llame (Ley 26.951)."""

    code: str  # the ``source`` a do-not-call import of it is given
    province: str  # ``holidays`` subdivision code of the province (compliance.place)
    name: str
    law: str


# Provincial registries confirmed by a source (docs/compliance.md): for each, whoever
# advertises, offers or sells by telephone must not call the numbers registered there.
# Checked and not modelled (no law number or text confirmed): Buenos Aires province,
# Santa Fe, Mendoza and the other provinces.
PROVINCIAL_REGISTRIES: dict[str, ProvincialRegistry] = {
    "C": ProvincialRegistry(
        "no_llame_caba", "C", "Registro No Llame de la Ciudad de Buenos Aires",
        "Ciudad de Buenos Aires, Ley 2.014 (2006)",
    ),
    "X": ProvincialRegistry(
        "no_llame_cordoba", "X", "Registro de Bloqueo de Llamadas No Deseadas de Córdoba",
        "Córdoba, Ley 10.016 (2011), Decreto 301/2012",
    ),
}  # fmt: skip
REGISTRY_CODES = frozenset(r.code for r in PROVINCIAL_REGISTRIES.values())


def provincial_registry(
    *, processing_type: str, country: str | None, region: str | None
) -> ProvincialRegistry | None:
    """The provincial registry a sales call to a debtor placed in ``region`` must be
    checked against (Argentine ``acquisition`` batches only: the registries cover
    advertising and sales, not the collection of a debt); None when there is none."""
    if processing_type != "acquisition" or country != "AR" or region is None:
        return None
    return PROVINCIAL_REGISTRIES.get(region)
