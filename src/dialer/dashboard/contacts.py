"""The campaign's contact table: its filters as a query string, and localised exports.

The filters live in the URL (``?status=scheduled&q=12.345&sort=name&dir=desc&skip=25``)
so the pager, the column headers, the live refresh and the export links all carry
them; the export writes exactly the rows the table lists (in file order).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query

from dialer.dashboard.codes import code_label
from dialer.dashboard.i18n import translator
from dialer.errors import InvalidInput
from dialer.ingestion.export import COLUMNS, Localisation
from dialer.job.filters import NO_VALUE, PROMISE_FILTERS, SORT_KEYS, JobFilter
from dialer.job.outcomes import (
    CALLBACK_KEYS,
    CURRENCY_EXPONENT,
    CURRENCY_KEYS,
    METHOD_KEYS,
    PAID_AMOUNT_KEYS,
    PAID_DATE_KEYS,
    PROMISE_AMOUNT_KEYS,
    PROMISE_DATE_KEYS,
    RESULT_KEYS,
)
from dialer.job.states import BusinessResult, JobStatus, Outcome

PAGE = 25

OUTCOMES = tuple(str(o) for o in Outcome)
BUSINESS = tuple(str(b) for b in BusinessResult)
STATUSES = tuple(str(s) for s in JobStatus)


def _pick(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise InvalidInput(f"'{value}' is not one of: {', '.join(allowed)}", field=field)
    return value


def job_filter(
    status: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    business: Annotated[str | None, Query(max_length=32)] = None,
    promise: Annotated[str | None, Query(max_length=16)] = None,
    region: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[str | None, Query(max_length=16)] = None,
    dir: Annotated[str | None, Query(max_length=4)] = None,
) -> JobFilter:
    """The contact table's filters from the query string (empty fields: no filter);
    a value outside the lists is a 422 naming the field."""
    status_code = _pick(status, STATUSES, "status")
    region_code = (region or "").strip().upper() or None
    if region_code is not None and region_code != NO_VALUE.upper() and not region_code.isalnum():
        raise InvalidInput("a region code is letters and digits", field="region")
    return JobFilter(
        status=JobStatus(status_code) if status_code else None,
        outcome=_pick(outcome, (*OUTCOMES, NO_VALUE), "outcome"),
        business=_pick(business, (*BUSINESS, NO_VALUE), "business"),
        promise=_pick(promise, PROMISE_FILTERS, "promise"),  # type: ignore[arg-type]
        region=NO_VALUE if region_code == NO_VALUE.upper() else region_code,
        q=(q or "").strip() or None,
        sort=_pick(sort, SORT_KEYS, "sort") or "row",  # type: ignore[arg-type]
        desc=_pick(dir, ("asc", "desc"), "dir") == "desc",
    )


def query_of(flt: JobFilter, **override: Any) -> str:
    """The query string of ``flt`` (without empty fields), with ``override`` applied."""
    values: dict[str, Any] = {
        "status": flt.status.value if flt.status else None,
        "outcome": flt.outcome,
        "business": flt.business,
        "promise": flt.promise,
        "region": flt.region,
        "q": flt.q,
        "sort": flt.sort if flt.sort != "row" else None,
        "dir": "desc" if flt.desc else None,
    }
    values.update(override)
    return urlencode({k: v for k, v in values.items() if v not in (None, "", 0)})


def _promise_of(job: Any) -> dict[str, Any] | None:
    """The promise the job's last answered call made (amount in the main unit)."""
    outcome = (job.result or {}).get("outcome") or {}
    p = outcome.get("promise_to_pay") if isinstance(outcome, dict) else None
    if not isinstance(p, dict):
        return None
    amount = p.get("amount")
    currency = str(p.get("currency") or "CLP")
    if isinstance(amount, int) and not isinstance(amount, bool):
        amount = amount / 10 ** CURRENCY_EXPONENT.get(currency, 0)
    else:
        amount = None
    return {"amount": amount, "currency": currency, "date": p.get("date")}


def table_context(
    batch_id: str,
    flt: JobFilter,
    jobs: Any,
    total: int,
    skip: int,
    regions: list[str],
    stops: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``_jobs.html`` and ``_job_filters.html`` need; ``stops``: why compliance
    ended listed jobs (``batch.service.job_stops``), by job id."""
    return {
        "batch_id": batch_id,
        "flt": flt,
        "jobs": jobs,
        "promises": {j.id: _promise_of(j) for j in jobs},
        "stops": stops or {},
        "jobs_total": total,
        "skip": skip,
        "page": PAGE,
        "regions": regions,
        "query": query_of(flt, skip=skip),
        "filter_query": query_of(flt),
        "query_of": query_of,
        "statuses": STATUSES,
        "outcome_codes": OUTCOMES,
        "business_codes": BUSINESS,
        "promise_filters": PROMISE_FILTERS,
        "no_value": NO_VALUE,
    }


# -- exports ----------------------------------------------------------------------

_HEADERS: dict[str, dict[str, str]] = {
    "es": {
        "row": "Fila",
        "job_id": "ID contacto",
        "contact_name": "Nombre",
        "dni": "RUT/DNI",
        "phones": "Teléfonos",
        "email": "Correo",
        "amount": "Monto deuda",
        "amount_original": "Monto original",
        "paid_amount": "Monto pagado",
        "currency": "Moneda",
        "instalments": "Cuotas",
        "instalments_detail": "Detalle de cuotas",
        "fecha_limite": "Fecha límite",
        "status": "Estado",
        "attempts": "Intentos",
        "last_outcome": "Último resultado",
        "business_result": "Resultado de la gestión",
        "promise_date": "Fecha de la promesa",
        "promise_amount": "Monto prometido",
        "promise_method": "Medio de pago",
        "promise_status": "Estado de la promesa",
        "callback_at": "Volver a llamar (hora del deudor)",
        "last_payment_on": "Último pago",
        "needs_review": "Requiere revisión",
        "recording_url": "Grabación",
        "minutes": "Minutos",
        "cost": "Costo",
        "completed_at": "Terminado (hora del deudor)",
        "provider_cost": "Costo del proveedor",
        "collected_variables": "Datos recogidos",
        "timezone": "Zona horaria del deudor",
        "region": "Región",
        "place_source": "Origen de la zona",
        "compliance_stop": "Detenido por",
        "compliance_stop_reason": "Motivo de la detención",
        "compliance_stop_detail": "Detalle de la detención",
    },
    "en": {
        "row": "Row",
        "job_id": "Contact ID",
        "contact_name": "Name",
        "dni": "RUT/DNI",
        "phones": "Phones",
        "email": "E-mail",
        "amount": "Amount owed",
        "amount_original": "Original amount",
        "paid_amount": "Amount paid",
        "currency": "Currency",
        "instalments": "Instalments",
        "instalments_detail": "Instalment detail",
        "fecha_limite": "Due date",
        "status": "Status",
        "attempts": "Attempts",
        "last_outcome": "Last outcome",
        "business_result": "Business result",
        "promise_date": "Promise date",
        "promise_amount": "Promised amount",
        "promise_method": "Payment method",
        "promise_status": "Promise status",
        "callback_at": "Call back at (debtor's time)",
        "last_payment_on": "Last payment",
        "needs_review": "Needs review",
        "recording_url": "Recording",
        "minutes": "Minutes",
        "cost": "Cost",
        "completed_at": "Finished (debtor's time)",
        "provider_cost": "Provider cost",
        "collected_variables": "Collected data",
        "timezone": "Debtor's timezone",
        "region": "Region",
        "place_source": "Zone taken from",
        "compliance_stop": "Stopped by",
        "compliance_stop_reason": "Why it was stopped",
        "compliance_stop_detail": "Stop detail",
    },
}
assert all(set(h) == set(COLUMNS) for h in _HEADERS.values())

_TOTALS: dict[str, dict[str, str]] = {
    "es": {
        "contacts": "Contactos",
        "amount": "Monto deuda",
        "amount_original": "Monto original",
        "paid_amount": "Monto pagado",
        "promises": "Promesas de pago",
        "promise_amount": "Monto prometido",
        "minutes": "Minutos",
        "cost": "Costo",
        "by_status": "Por estado",
        "by_outcome": "Por último resultado",
    },
    "en": {
        "contacts": "Contacts",
        "amount": "Amount owed",
        "amount_original": "Original amount",
        "paid_amount": "Amount paid",
        "promises": "Promises to pay",
        "promise_amount": "Promised amount",
        "minutes": "Minutes",
        "cost": "Cost",
        "by_status": "By status",
        "by_outcome": "By last outcome",
    },
}


# Payload fields the import writes, named for the job page (others show as imported).
_PAYLOAD_EXTRA = {
    "es": {
        "fecha_vencimiento": "Fecha de vencimiento",
        "company": "Empresa",
        "empresa": "Empresa",
        "cuotas": "Cuotas",
        "comuna": "Comuna",
        "region": "Región",
        "producto": "Producto",
    },
    "en": {
        "fecha_vencimiento": "Due on",
        "company": "Company",
        "empresa": "Company",
        "cuotas": "Instalments",
        "comuna": "Commune",
        "region": "Region",
        "producto": "Product",
    },
}
MONEY_FIELDS = frozenset({"amount", "amount_original", "paid_amount"})
# Money kept in the currency's smallest unit (collection.payments: ``paid_amount``).
MINOR_UNIT_FIELDS = frozenset({"paid_amount"})


# What the agents report (job.outcomes reads these names), named for the job page.
_EXTRACTED: dict[str, tuple[tuple[str, ...], str, str]] = {
    "result": (RESULT_KEYS, "Resultado informado", "Reported result"),
    "promise_date": (PROMISE_DATE_KEYS, "Fecha prometida", "Promised date"),
    "promise_amount": (PROMISE_AMOUNT_KEYS, "Monto prometido", "Promised amount"),
    "method": (METHOD_KEYS, "Medio de pago", "Payment method"),
    "currency": (CURRENCY_KEYS, "Moneda", "Currency"),
    "callback": (CALLBACK_KEYS, "Volver a llamar", "Call back"),
    "paid_amount": (PAID_AMOUNT_KEYS, "Monto pagado", "Amount paid"),
    "paid_date": (PAID_DATE_KEYS, "Fecha del pago", "Payment date"),
}
_EXTRACTED_LABEL = {
    lang: {k: names[i] for keys, *names in _EXTRACTED.values() for k in keys}
    for i, lang in enumerate(("es", "en"))
}


def payload_label(lang: str, key: str) -> str:
    """A payload (or reported) field's name in words (``amount`` -> ``Monto deuda``,
    ``call_back_on`` -> ``Volver a llamar``); else as imported."""
    lang = lang if lang in _HEADERS else "es"
    return (
        _HEADERS[lang].get(key)
        or _PAYLOAD_EXTRA[lang].get(key)
        or _EXTRACTED_LABEL[lang].get(key)
        or key
    )


def localisation(lang: str) -> Localisation:
    """es: Chilean Excel's shape (semicolons, decimal comma, dd-mm-yyyy); en: ISO."""
    lang = lang if lang in _HEADERS else "es"
    t = translator(lang)
    spanish = lang == "es"
    return Localisation(
        headers=_HEADERS[lang],
        code=lambda kind, value: code_label(lang, kind, value),
        decimal_comma=spanish,
        sheet_title=t.get("export_sheet", "Contactos" if spanish else "Contacts"),
        totals_title=t.get("export_totals", "Totales" if spanish else "Totals"),
        total_labels=_TOTALS[lang],
        date_format="%d-%m-%Y" if spanish else "%Y-%m-%d",
        datetime_format="%d-%m-%Y %H:%M" if spanish else "%Y-%m-%d %H:%M",
    )


def delimiter(lang: str) -> str:
    """Chilean (and most continental) Excel splits CSV on semicolons."""
    return ";" if lang == "es" else ","


_UNSAFE = set('/\\:*?"<>|')


def file_name(campaign: str, ext: str, *, filtered: bool, lang: str) -> str:
    """``Cobranza marzo.xlsx``: the campaign's name without what file systems refuse."""
    text = unicodedata.normalize("NFC", campaign)
    text = "".join(
        "_" if c in _UNSAFE or unicodedata.category(c).startswith("C") else c for c in text
    )
    text = " ".join(text.split()).strip(" .")[:80] or "campaña"
    if filtered:
        text += " (filtrado)" if lang == "es" else " (filtered)"
    return f"{text}.{ext}"


def disposition(name: str) -> str:
    """An attachment header for any name: an ASCII ``filename`` for old clients and the
    exact UTF-8 name in ``filename*`` (RFC 6266 / RFC 5987)."""
    ascii_name = (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace('"', "")
    )
    ascii_name = "".join(c if c.isalnum() or c in " .-_()" else "_" for c in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
