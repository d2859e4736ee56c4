"""The import's row messages and column notes in Spanish, by their codes. Pure.

Each message of an import report carries a stable ``code`` and its ``params`` besides the
English text the API gives (ingestion.codes, docs/ingestion.md "Message codes"); the
Spanish sentence is chosen by the code and filled with the params, never by matching the
English words. A message without a code (a report stored before codes existed) is shown
as the API words it. ``tests/dashboard/test_ingest_messages`` checks that every code
ingestion lists has its sentence here, and feeds real bad cells through the parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Row errors and warnings (ingestion.codes.ROW_CODES): the Spanish sentence of each code,
# with its params in braces; {why} and {notes} are composed below.
ROW: dict[str, str] = {
    "id_required": "falta el {label}",
    "id_empty": "el {label} está vacío",
    "id_check_digit": "el {label} '{value}' tiene mal el dígito verificador",
    "rut_invalid": "'{value}' no es un RUT válido (por ejemplo 12.345.678-5)",
    "cuit_invalid": "'{value}' no es un CUIT/CUIL válido",
    "dni_invalid": "'{value}' no es un DNI (7 u 8 dígitos) ni un CUIT (11 dígitos) válido",
    "no_phone": "sin teléfono",
    "phone_invalid": "'{value}' no es un teléfono válido de {country_name}: {why}",
    "phone_repaired": "'{original}' se leyó como {result}: {notes}",
    "phone_unlisted_range": "'{original}' se leyó como {result}: {notes}",
    "dnc_dropped": "se quitaron número(s) de la lista de no llamar: {phone_list}",
    "name_too_long": "el nombre tiene más de {max} caracteres",
    "email_invalid": "'{value}' no es un correo electrónico",
    "email_too_long": "el correo tiene más de {max} caracteres",
    "amount_unreadable": "'{value}' no es un monto (por ejemplo $1.234.567 o 1234567,50)",
    "amount_invalid": "'{value}' no es un monto",
    "amount_negative": "el monto '{value}' es negativo",
    "amount_too_large": "el monto '{value}' es demasiado grande",
    "days_invalid": "'{value}' no es un número de días",
    "days_not_whole": "'{value}' no es un número entero de días",
    "days_negative": "los días de atraso '{value}' son negativos",
    "days_too_large": "los días de atraso '{value}' son más de cien años",
    "date_unreadable": "'{value}' no es una fecha (se espera dd/mm/aaaa)",
    "date_impossible": "'{value}' no es una fecha válida",
    "date_invalid": "'{value}' no es una fecha",
    "date_excel_serial_60": (
        "el número de serie 60 de Excel es el 29 de febrero de 1900, un día que no existió"
    ),
    "number_invalid": "'{value}' no es un número",
    "invalid_value": "valor no válido: {message}",
}

# Why a phone number is refused (kit.phone.DETAILS).
PHONE_DETAILS: dict[str, str] = {
    "empty": "vacío",
    "non_digits": "tiene caracteres que no son dígitos",
    "too_few_digits": "solo {digits} dígito(s)",
    "too_many_digits": "{digits} dígitos, más que cualquier teléfono",
    "toll_free_or_shared_cost": "un número gratuito o de costo compartido",
    "cl_digits": "{digits} dígitos; los números chilenos tienen 9",
    "ar_digits": "{digits} dígitos; los números argentinos tienen 10 con el código de área",
    "cl_no_prefix": "ningún móvil chileno (9...) ni código de área de red fija empieza con {prefix}",
    "ar_no_area_code": "ningún código de área argentino empieza con {prefix}",
    "ar_local_15": (
        "15 es el prefijo local de los móviles: escriba antes el código de área (11 15 2345 6789)"
    ),
    "not_a_phone": "no es un número de teléfono",
    "foreign_invalid": "no es un número válido del código de país +{country_code}",
    "number_kind": "{kind_name}",
}
# The kinds of number a dialer does not call (kit.phone.KIND_NAMES).
PHONE_KINDS: dict[str, str] = {
    "toll_free": "un número gratuito",
    "premium_rate": "un número de tarificación adicional",
    "shared_cost": "un número de costo compartido",
    "uan": "un número de acceso universal de empresa",
    "pager": "un número de buscapersonas",
    "voicemail": "un número de acceso a buzón de voz",
    "personal_number": "un servicio de número personal",
    "not_a_line": "no es una línea",
}
# What was done to a number accepted with a warning (kit.phone.NOTES).
PHONE_NOTES: dict[str, str] = {
    "text_float": "un número guardado como texto con decimal '.0'",
    "trunk_zero": "se quitó el prefijo 0 (no se marca desde 2016)",
    "old_mobile": "móvil de 8 dígitos anterior a 2012: se agregó el 9 inicial",
    "old_santiago_landline": "fijo de Santiago de 8 dígitos anterior a 2013: se agregó el 2",
    "unlisted_mobile": "número móvil bien formado, en un rango que {library} no registra",
    "unlisted_landline": "número fijo bien formado, en un rango que {library} no registra",
}
# Columns of the header the import did not read (ingestion.codes.IGNORED_CODES).
IGNORED: dict[str, str] = {
    "ignored_by_mapping": "column_mapping pide ignorarla",
    "empty_not_read": "vacía en las primeras filas; no se leyó como {field}",
    "kept_as_extra": "{field} se leyó de '{read_from}' ({because_es}); se guarda como dato extra",
}
_BECAUSE = {"empty": "esta está vacía en las primeras filas", "another_column": "otra columna"}
_COUNTRIES = {"CL": "Chile", "AR": "Argentina"}


class _Missing(KeyError):
    """A code or a parameter this table does not know: the English is shown instead."""


def _fill(template: str, params: Mapping[str, Any]) -> str:
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        raise _Missing(template) from None


def _phone_why(params: Mapping[str, Any]) -> str:
    detail = PHONE_DETAILS.get(str(params.get("detail")))
    if detail is None:
        raise _Missing(params.get("detail"))
    values = dict(params)
    if params.get("detail") == "number_kind":
        kind = PHONE_KINDS.get(str(params.get("kind")))
        if kind is None:
            raise _Missing(params.get("kind"))
        values["kind_name"] = kind
    return _fill(detail, values)


def _phone_notes(params: Mapping[str, Any]) -> str:
    notes = []
    for note in params.get("notes") or ():
        text = PHONE_NOTES.get(str(note))
        if text is None:
            raise _Missing(note)
        notes.append(_fill(text, params))
    return "; ".join(notes)


def spanish(code: str, params: Mapping[str, Any]) -> str | None:
    """The Spanish sentence of a row message's code, or None for an unknown code."""
    template = ROW.get(code)
    if template is None:
        return None
    values = dict(params)
    try:
        if code == "phone_invalid":
            values["why"] = _phone_why(params)
            values["country_name"] = _COUNTRIES.get(
                str(params.get("country")), params.get("country")
            )
        elif code in ("phone_repaired", "phone_unlisted_range"):
            values["notes"] = _phone_notes(params)
        elif code == "dnc_dropped":
            values["phone_list"] = ", ".join(str(p) for p in params.get("phones") or ())
        return _fill(template, values)
    except _Missing:
        return None


def _as_mapping(entry: object) -> Mapping[str, Any] | None:
    """A report entry as stored (a dict) or as the service returns it (a model)."""
    if isinstance(entry, Mapping):
        return entry
    dump = getattr(entry, "model_dump", None)
    return dump() if callable(dump) else None


def row_message(entry: object, lang: str) -> str:
    """What the page shows for a report's error or warning (``{"message", "code",
    "params"}``, or its model) in ``lang``: the API's own English words in English, or
    when the entry has no code this table knows."""
    entry = _as_mapping(entry)
    if entry is None:
        return ""
    message = str(entry.get("message") or "")
    if lang != "es" or not entry.get("code"):
        return message
    return spanish(str(entry["code"]), entry.get("params") or {}) or message


def ignored_reason(entry: object, lang: str) -> str:
    """Why a column was not read (``ignored_columns[]``, or its model), in ``lang``."""
    entry = _as_mapping(entry)
    if entry is None:
        return ""
    reason = str(entry.get("reason") or "")
    template = IGNORED.get(str(entry.get("code")))
    if lang != "es" or template is None:
        return reason
    params = dict(entry.get("params") or {})
    params["because_es"] = _BECAUSE.get(str(params.get("because")), params.get("because"))
    try:
        return _fill(template, params)
    except _Missing:
        return reason
