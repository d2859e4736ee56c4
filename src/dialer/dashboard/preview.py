"""The upload preview as a supervisor checks it: each column of the file beside the
field it was recognised as, in words ("Saldo actualizado" -> "Monto deuda"), and the
first debtors with their values as the campaign will use them (RUT with dots and
hyphen, phones grouped, money with ``$`` and the locale's grouping, days as
dd-mm-aaaa). Pure: built from the ingestion's ``PreviewResponse``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialer.dashboard.codes import code_label
from dialer.dashboard.contacts import payload_label
from dialer.dashboard.rendering import (
    format_day,
    format_money,
    format_number,
    format_phone,
    format_rut,
    format_value,
    phone_kind,
    place_in_words,
    zone_label,
)
from dialer.ingestion.headers import normalize_header
from dialer.ingestion.schemas import PreviewResponse

_FIELDS = {
    "es": {
        "dni_CL": "RUT", "dni_AR": "DNI / CUIT", "dv": "Dígito verificador",
        "name": "Nombre", "first_name": "Nombres", "last_name": "Apellidos",
        "phone": "Teléfono", "phone_mobile": "Teléfono móvil", "phone_landline": "Teléfono fijo",
        "email": "Correo", "amount": "Monto deuda", "currency": "Moneda",
        "fecha_vencimiento": "Fecha de vencimiento", "dias_retraso": "Días de atraso",
        "cuota": "Número de cuota", "fecha_limite": "Fecha límite",
        "fecha_maxima": "Fecha máxima", "company": "Empresa", "comuna": "Comuna",
        "ciudad": "Ciudad / localidad", "region": "Región / provincia",
        "zona_horaria": "Zona horaria", "extra": "Dato adicional",
    },
    "en": {
        "dni_CL": "RUT", "dni_AR": "DNI / CUIT", "dv": "Check digit",
        "name": "Name", "first_name": "First names", "last_name": "Surnames",
        "phone": "Phone", "phone_mobile": "Mobile phone", "phone_landline": "Landline",
        "email": "E-mail", "amount": "Amount owed", "currency": "Currency",
        "fecha_vencimiento": "Due date", "dias_retraso": "Days late",
        "cuota": "Instalment number", "fecha_limite": "Payment deadline",
        "fecha_maxima": "Latest payment date", "company": "Company", "comuna": "Commune",
        "ciudad": "City / town", "region": "Region / province",
        "zona_horaria": "Timezone", "extra": "Additional data",
    },
}  # fmt: skip
# Words that make a phone column a mobile one (the ingestion names landlines itself).
_MOBILE_WORDS = frozenset("celular cel movil mobile cell cellphone whatsapp".split())
_TEXT = {
    "es": {
        "row": "Fila", "rows": "Filas", "name": "Nombre", "phones": "Teléfonos",
        "due": "Vencimiento", "instalments": "Cuotas", "zone": "Zona del deudor",
        "other": "Otros datos", "campaign_zone": "la de la campaña",
        "mobile": "móvil", "landline": "fijo", "kept_as": "se guarda como «{key}»",
    },
    "en": {
        "row": "Row", "rows": "Rows", "name": "Name", "phones": "Phones",
        "due": "Due date", "instalments": "Instalments", "zone": "Debtor's zone",
        "other": "Other data", "campaign_zone": "the campaign's",
        "mobile": "mobile", "landline": "landline", "kept_as": "kept as “{key}”",
    },
}  # fmt: skip
# Payload keys the sample shows in their own column (the rest go to "Otros datos").
_OWN_COLUMN = frozenset({"amount", "currency", "fecha_vencimiento", "instalments", "cuotas"})


@dataclass(frozen=True)
class MappedColumn:
    position: int
    header: str  # as the file writes it
    label: str  # the field it was recognised as, in words
    note: str = ""  # e.g. where an additional column is kept


@dataclass(frozen=True)
class Phone:
    text: str
    kind: str  # "móvil" / "fijo" / ""


@dataclass(frozen=True)
class SampleRow:
    rows: str
    name: str
    dni: str
    phones: list[Phone]
    amount: str
    due: str
    instalments: str
    zone: str
    zone_source: str
    other: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Heading:
    key: str
    label: str
    source: str  # the file's header(s) the column comes from ("" when computed)


@dataclass(frozen=True)
class SkipGroup:
    reason: str  # a skip code (dashboard.codes "skip")
    count: int
    rows: str  # "4, 5, 6 … 31" (the first and the last rows)


def skip_groups(skipped: list[Any], *, shown: int = 12) -> list[SkipGroup]:
    """The rows the import leaves out, one line per reason (a re-upload skips them all)."""
    by_reason: dict[str, list[int]] = {}
    for s in skipped:
        by_reason.setdefault(str(s.reason), []).append(int(s.row))
    groups = []
    for reason, rows in by_reason.items():
        text = ", ".join(str(r) for r in rows[:shown])
        if len(rows) > shown:
            text += f" … {rows[-1]}"
        groups.append(SkipGroup(reason=reason, count=len(rows), rows=text))
    return groups


@dataclass(frozen=True)
class PreviewView:
    mapped: list[MappedColumn]
    headings: list[Heading]
    rows: list[SampleRow]
    text: dict[str, str]
    ignored: list[str] = field(default_factory=list)  # headers of columns not read
    skipped: list[SkipGroup] = field(default_factory=list)


def field_label(lang: str, column: Any, country: str) -> str:
    """What a file column was recognised as (``report.columns`` item), in words."""
    words = _FIELDS.get(lang, _FIELDS["es"])
    name = column.field
    if name == "dni":
        return words[f"dni_{country}"]
    if name == "phone":
        if column.landline:
            return words["phone_landline"]
        if _MOBILE_WORDS & set(normalize_header(column.header).split()):
            return words["phone_mobile"]
        return words["phone"]
    return str(words.get(name, name))


def _headers_of(report: PreviewResponse) -> dict[str, list[str]]:
    """Field (or extra payload key) -> the file's headers read into it."""
    found: dict[str, list[str]] = {}
    for c in report.columns:
        found.setdefault(c.key if c.field == "extra" else c.field, []).append(c.header)
    return found


def preview_view(report: PreviewResponse, lang: str, batch_tz: str | None) -> PreviewView:
    lang = lang if lang in _TEXT else "es"
    text = _TEXT[lang]
    country = report.country
    mapped = [
        MappedColumn(
            position=c.column,
            header=c.header,
            label=field_label(lang, c, country),
            note=text["kept_as"].format(key=c.key) if c.field == "extra" else "",
        )
        for c in report.columns
        if c.field != "ignore"
    ]
    headers = _headers_of(report)

    def source(*names: str) -> str:
        return ", ".join(h for n in names for h in headers.get(n, []))

    headings = [
        Heading("rows", text["row"], ""),
        Heading("name", text["name"], source("name", "first_name", "last_name")),
        Heading("dni", _FIELDS[lang][f"dni_{country}"], source("dni", "dv")),
        Heading("phones", text["phones"], source("phone")),
        Heading("amount", _FIELDS[lang]["amount"], source("amount")),
        Heading("due", _FIELDS[lang]["fecha_vencimiento"], source("fecha_vencimiento")),
        Heading("instalments", text["instalments"], source("cuota")),
        Heading("zone", text["zone"], source("comuna", "ciudad", "region", "zona_horaria")),
        Heading("other", text["other"], ""),
    ]
    extra = {c.key: c.header for c in report.columns if c.field == "extra"}
    rows = [_row(item, lang, country, batch_tz, text, extra) for item in report.sample]
    ignored = [c.header for c in report.ignored_columns]
    return PreviewView(
        mapped=mapped,
        headings=headings,
        rows=rows,
        text=text,
        ignored=ignored,
        skipped=skip_groups(report.skipped),
    )


def _label(lang: str, key: str, extra: dict[str, str]) -> str:
    """A payload key in words; a column the import does not know by its file header."""
    label = payload_label(lang, key)
    return extra.get(key, label) if label == key else label


def _row(
    item: dict[str, Any],
    lang: str,
    country: str,
    batch_tz: str | None,
    text: dict[str, str],
    extra: dict[str, str],
) -> SampleRow:
    payload: dict[str, Any] = item.get("payload") or {}
    currency = str(payload.get("currency") or ("ARS" if country == "AR" else "CLP"))
    amount = payload.get("amount")
    instalments = payload.get("instalments") or []
    count = payload.get("cuotas") or len(instalments) or None
    numbers = item.get("rows") or [item.get("row")]
    dni = str(item.get("dni") or "")
    region = item.get("region")
    zone = zone_label(item.get("timezone") or batch_tz)
    if region:
        zone += f" ({code_label(lang, 'region', str(region)) or region})"
    return SampleRow(
        rows=", ".join(str(n) for n in numbers if n is not None),
        name=str(item.get("contact_name") or "—"),
        dni=(format_rut(dni) if country == "CL" else dni) or "—",
        phones=[
            Phone(format_phone(p), text.get(phone_kind(p) or "", ""))
            for p in item.get("phones") or []
        ],
        amount=format_money(amount, lang, currency)
        if isinstance(amount, int | float)
        else format_value("", amount, lang),
        due=format_day(payload.get("fecha_vencimiento"), lang),
        instalments=format_number(count, lang) if isinstance(count, int) else "—",
        zone=zone,
        zone_source=place_in_words(item.get("place_source"), lang),
        other=[
            (_label(lang, k, extra), format_value(k, v, lang, currency))
            for k, v in payload.items()
            if k not in _OWN_COLUMN
        ],
    )
