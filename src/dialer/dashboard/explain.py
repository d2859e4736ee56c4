"""A compliance profile's rules in words, built from the profile the dispatcher enforces
(days, hours, holidays, contact limit), so the page can never say other than the rule. Pure."""

from __future__ import annotations

from dialer.compliance.profiles import PROFILES, Profile

_DAYS = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_PLURAL_DAYS = {
    "es": ("los lunes", "los martes", "los miércoles", "los jueves", "los viernes",
           "los sábados", "los domingos"),
    "en": ("on Mondays", "on Tuesdays", "on Wednesdays", "on Thursdays", "on Fridays",
           "on Saturdays", "on Sundays"),
}  # fmt: skip
# A citation written in English in the profile, in Spanish (the laws are the same).
_CITATION = {
    "es": {
        "ar_cobranza": "Ley 24.240 art. 8 bis; Ley 6.171 CABA (Argentina); criterio "
        "conservador: no hay horario legal nacional",
    },
}
_COUNTRY = {"es": {"CL": "Chile", "AR": "Argentina"}, "en": {"CL": "Chile", "AR": "Argentina"}}

_TEXT = {
    "es": {
        "days": "Solo de {first} a {last}.",
        "days_list": "Solo {days}.",
        "hours": "Solo entre las {start} y las {end}, en la hora local del deudor (zona por "
        "defecto: {zone}).",
        "narrower": "{day} solo de {start} a {end}.",
        "holidays": "Nunca en feriados de {country}, nacionales y de la región del deudor.",
        "contacts": "Como máximo {n} llamada(s) contestada(s) por deudor cada {days} días, "
        "sumando todas las campañas de la cuenta; los intentos no contestados no cuentan.",
        "refused": "Un día, horario, zona o feriado que contradiga estas reglas se rechaza "
        "al guardar, junto al campo.",
        "source": "Fuente: {citation}.",
    },
    "en": {
        "days": "Only from {first} to {last}.",
        "days_list": "Only {days}.",
        "hours": "Only between {start} and {end}, on the debtor's local clock (default "
        "zone: {zone}).",
        "narrower": "{day} only from {start} to {end}.",
        "holidays": "Never on public holidays of {country}, national and of the debtor's region.",
        "contacts": "At most {n} answered call(s) per debtor every {days} days, across all "
        "the account's batches; unanswered attempts do not count.",
        "refused": "A day, hours, zone or holiday choice that breaks these rules is refused "
        "on saving, beside the field.",
        "source": "Source: {citation}.",
    },
}


def _days(profile: Profile, lang: str) -> str:
    names, t = _DAYS[lang], _TEXT[lang]
    days = sorted(profile.weekdays)
    if days == list(range(days[0], days[-1] + 1)):
        return t["days"].format(first=names[days[0]], last=names[days[-1]])
    return t["days_list"].format(days=", ".join(names[d] for d in days))


def profile_rules(name: str, lang: str) -> list[str]:
    """The rules of profile ``name`` as sentences (none for ``none``)."""
    profile = PROFILES.get(name)
    if profile is None:
        return []
    lang = lang if lang in _TEXT else "es"
    t = _TEXT[lang]
    rules = [
        _days(profile, lang),
        t["hours"].format(
            start=f"{profile.earliest:%H:%M}",
            end=f"{profile.latest:%H:%M}",
            zone=profile.timezone or "UTC",
        ),
    ]
    for wd, start, end in profile.day_limits:
        day = _PLURAL_DAYS[lang][wd]
        rules.append(
            t["narrower"].format(
                day=day[0].upper() + day[1:], start=f"{start:%H:%M}", end=f"{end:%H:%M}"
            )
        )
    if profile.skip_holidays and profile.holiday_country:
        country = _COUNTRY[lang].get(profile.holiday_country, profile.holiday_country)
        rules.append(t["holidays"].format(country=country))
    if profile.contacts_per_debtor and profile.contact_period:
        rules.append(
            t["contacts"].format(n=profile.contacts_per_debtor, days=profile.contact_period.days)
        )
    rules.append(t["refused"])
    citation = _CITATION.get(lang, {}).get(profile.name, profile.citation)
    rules.append(t["source"].format(citation=citation))
    return rules


def all_profile_rules(lang: str) -> dict[str, list[str]]:
    return {name: profile_rules(name, lang) for name in PROFILES}
