"""The import's row and column messages in Spanish. Pure.

Ingestion words its messages in English for the API (``errors[].message``,
``warnings[].message``), built from a fixed set of templates in ``ingestion.normalize``,
``ingestion.rows``, ``ingestion.service`` and ``kit.phone``. Each template is matched
here once, as a whole, and its values are carried into the Spanish sentence; a message
no template matches is shown as the API words it. ``tests/dashboard/test_ingest_messages``
feeds real bad cells through the real parsers, so a changed English template fails there
instead of silently staying English.
"""

from __future__ import annotations

import re

_V = r"'(?P<v>.*)'"  # a quoted cell value (may itself contain quotes)

# (English template as a regex, Spanish template); first match wins, specific first.
_MAIN: tuple[tuple[str, str], ...] = (
    (r"(?P<l>RUT|DNI/CUIT|DNI|CUIT) is required", "falta el {l}"),
    (r"(?P<l>RUT|DNI/CUIT) is empty", "el {l} está vacío"),
    (r"(?P<l>RUT|CUIT) '(?P<v>.*)' has a wrong check digit",
     "el {l} '{v}' tiene mal el dígito verificador"),
    (_V + r" is not a valid RUT \(expected e\.g\. 12\.345\.678-5\)",
     "'{v}' no es un RUT válido (por ejemplo 12.345.678-5)"),
    (_V + r" is not a valid CUIT/CUIL", "'{v}' no es un CUIT/CUIL válido"),
    (_V + r" is not a valid DNI \(7-8 digits\) or CUIT \(11 digits\)",
     "'{v}' no es un DNI (7 u 8 dígitos) ni un CUIT (11 dígitos) válido"),
    (r"no phone number", "sin teléfono"),
    (r"name is longer than (?P<n>\d+) characters", "el nombre tiene más de {n} caracteres"),
    (r"email is longer than (?P<n>\d+) characters", "el correo tiene más de {n} caracteres"),
    (_V + r" is not an email address", "'{v}' no es un correo electrónico"),
    (r"dropped do-not-call number\(s\) (?P<v>.*)",
     "se quitaron número(s) de la lista de no llamar: {v}"),
    (_V + r" is not an amount \(expected e\.g\. \$1\.234\.567 or 1234567,50\)",
     "'{v}' no es un monto (por ejemplo $1.234.567 o 1234567,50)"),
    (_V + r" is not an amount", "'{v}' no es un monto"),
    (r"amount '(?P<v>.*)' is negative", "el monto '{v}' es negativo"),
    (r"amount '(?P<v>.*)' is too large", "el monto '{v}' es demasiado grande"),
    (_V + r" is not a whole number of days", "'{v}' no es un número entero de días"),
    (_V + r" is not a number of days", "'{v}' no es un número de días"),
    (r"days late '(?P<v>.*)' is negative", "los días de atraso '{v}' son negativos"),
    (r"days late '(?P<v>.*)' is more than a hundred years",
     "los días de atraso '{v}' son más de cien años"),
    (_V + r" is not a date \(expected dd/mm/yyyy\)", "'{v}' no es una fecha (se espera dd/mm/aaaa)"),
    (_V + r" is not a valid date", "'{v}' no es una fecha válida"),
    (_V + r" is not a date", "'{v}' no es una fecha"),
    (r"Excel serial 60 is 29 February 1900, a date that did not exist",
     "el número de serie 60 de Excel es el 29 de febrero de 1900, un día que no existió"),
    (_V + r" is not a number", "'{v}' no es un número"),
    (_V + r" is not a valid (?P<c>CL|AR) phone number: (?P<why>.*)",
     "'{v}' no es un teléfono válido de {c}: {why}"),
    (_V + r" read as (?P<e>\+\d+): (?P<notes>.*)", "'{v}' se leyó como {e}: {notes}"),
)  # fmt: skip

# The reasons and notes inside a phone message (kit.phone).
_PHONE: tuple[tuple[str, str], ...] = (
    (r"empty", "vacío"),
    (r"it contains characters other than digits", "tiene caracteres que no son dígitos"),
    (r"only (?P<n>\d+) digit\(s\)", "solo {n} dígito(s)"),
    (r"(?P<n>\d+) digits, more than any phone number", "{n} dígitos, más que cualquier teléfono"),
    (r"a toll-free or shared-cost number", "un número gratuito o de costo compartido"),
    (r"(?P<n>\d+) digits; Chilean numbers have 9", "{n} dígitos; los números chilenos tienen 9"),
    (r"(?P<n>\d+) digits; Argentine numbers have 10 with the area code",
     "{n} dígitos; los números argentinos tienen 10 con el código de área"),
    (r"no Chilean mobile \(9\.\.\.\) or landline area code starts (?P<n>\d+)",
     "ningún móvil chileno (9...) ni código de área de red fija empieza con {n}"),
    (r"no Argentine area code starts (?P<n>\d+)",
     "ningún código de área argentino empieza con {n}"),
    (r"not a phone number", "no es un número de teléfono"),
    (r"not a valid number of country code \+(?P<n>\d+)",
     "no es un número válido del código de país +{n}"),
    (r"a toll-free number", "un número gratuito"),
    (r"a premium-rate number", "un número de tarificación adicional"),
    (r"a shared-cost number", "un número de costo compartido"),
    (r"a company's universal access number", "un número de acceso universal de empresa"),
    (r"a pager number", "un número de buscapersonas"),
    (r"a voicemail access number", "un número de acceso a buzón de voz"),
    (r"a personal-number service", "un servicio de número personal"),
    (r"not a line", "no es una línea"),
    (r"a number stored as text with a decimal '\.0'",
     "un número guardado como texto con decimal '.0'"),
    (r"dropped the trunk prefix 0 \(not dialed since 2016\)",
     "se quitó el prefijo 0 (no se marca desde 2016)"),
    (r"8-digit mobile from before 2012: added the leading 9",
     "móvil de 8 dígitos anterior a 2012: se agregó el 9 inicial"),
    (r"8-digit Santiago landline from before 2013: added the 2",
     "fijo de Santiago de 8 dígitos anterior a 2013: se agregó el 2"),
    (r"well-formed (?P<k>mobile|landline|fixed-line|[\w -]+?) number in a range "
     r"(?P<lib>libphonenumber [\d.]+) does not list",
     "número {k} bien formado, en un rango que {lib} no registra"),
)  # fmt: skip
_KIND = {"mobile": "móvil", "landline": "fijo", "fixed-line": "fijo"}

_MAIN_RE = [(re.compile(rx + r"\Z", re.S), es) for rx, es in _MAIN]
_PHONE_RE = [(re.compile(rx + r"\Z"), es) for rx, es in _PHONE]


def _phone_part(text: str) -> str | None:
    for rx, es in _PHONE_RE:
        if m := rx.match(text):
            values = m.groupdict()
            if "k" in values:
                values["k"] = _KIND.get(values["k"], values["k"])
            return es.format(**values)
    return None


def _phone_parts(text: str) -> str | None:
    """A reason (which may contain '; ') or notes joined with '; '."""
    whole = _phone_part(text)
    if whole is not None:
        return whole
    parts = [_phone_part(p) for p in text.split("; ")]
    return None if any(p is None for p in parts) else "; ".join(p for p in parts if p)


def spanish(message: str) -> str | None:
    """The Spanish sentence of an ingestion message, or None when no template matches."""
    for rx, es in _MAIN_RE:
        m = rx.match(message)
        if m is None:
            continue
        values = m.groupdict()
        for key in ("why", "notes"):
            if key in values:
                translated = _phone_parts(values[key])
                if translated is None:
                    return None
                values[key] = translated
        if "c" in values:
            values["c"] = {"CL": "Chile", "AR": "Argentina"}[values["c"]]
        return es.format(**values)
    return None


def row_message(message: str, lang: str) -> str:
    """What the page shows for an ingestion message in ``lang`` (the API's own words in
    English, or when no template matches)."""
    if lang != "es":
        return message
    return spanish(message) or message
