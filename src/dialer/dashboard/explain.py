"""A compliance profile's rules in words, built from the profile the dispatcher enforces
(days, hours, holidays, contact limit), so the page can never say other than the rule. Pure."""

from __future__ import annotations

import re

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


# A refusal of the settings in the reader's words, shown above the API's own text.
_REFUSALS: tuple[tuple[str, str], ...] = (
    (r"violates rule \w+\.weekdays", "El perfil de cumplimiento no permite llamar ese día."),
    (r"violates rule \w+\.hours",
     "Ese horario sale del permitido por el perfil de cumplimiento (ver sus reglas)."),
    (r"violates rule \w+\.timezone", "En esa zona horaria no rige el perfil elegido."),
    (r"violates rule \w+\.holidays", "El perfil exige los feriados de su propio país."),
    (r"must present a 600 number",
     "La cobranza en Chile debe mostrar un número 600 (SUBTEL Res. Exenta 286/2025)."),
    (r"must present an 809 number",
     "Las ventas en Chile deben mostrar un número 809 (SUBTEL Res. Exenta 286/2025)."),
    (r"Input should be greater than or equal to (?P<n>[\d.]+)", "Debe ser mayor o igual a {n}."),
    (r"Input should be less than or equal to (?P<n>[\d.]+)", "Debe ser menor o igual a {n}."),
    (r"Input should be a valid integer", "Debe ser un número entero."),
    (r"Input should be a valid number", "Debe ser un número (use punto para decimales)."),
    (r"is not a time in HH:MM format", "Escriba la hora como HH:MM."),
    (r"is not a valid time of day", "La hora debe estar entre 00:00 y 24:00."),
    (r"must be before end", "La hora de inicio debe ser anterior a la de término."),
    (r"unknown timezone",
     "Zona horaria desconocida: use un nombre IANA como America/Santiago."),
    (r"at least one weekday must be allowed", "Marque al menos un día."),
    (r"message is required to leave a message", "Escriba el mensaje que se dejará en el buzón."),
    (r"String should have at least 1 character", "No puede quedar vacío."),
    (r"cannot update", "La campaña terminó: ya no se puede cambiar."),
    (r"write the date as dd-mm-aaaa", "Escriba la fecha como dd-mm-aaaa, por ejemplo 07-12-2026."),
    (r"is not a date of the calendar", "Esa fecha no existe en el calendario."),
)  # fmt: skip
_REFUSAL_RE = [(re.compile(rx), es) for rx, es in _REFUSALS]


def refusal_in_words(message: str, lang: str) -> str | None:
    """The Spanish reading of an API refusal, or None (English pages, unknown texts)."""
    if lang != "es":
        return None
    for rx, es in _REFUSAL_RE:
        if m := rx.search(message):
            return es.format(**m.groupdict())
    return None
