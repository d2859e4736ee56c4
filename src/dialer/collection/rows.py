"""Payment rows from a JSON list or a CSV/XLSX sheet, validated. Pure.

Columns (any case, accents ignored; Spanish or English): debtor id (``rut``, ``dni``,
``cuit``, ``rut_deudor``, ``documento``, ``debtor_id``), ``monto`` / ``amount`` /
``importe`` / ``pago``, ``fecha`` / ``fecha_pago`` / ``date`` / ``paid_on``,
``referencia`` / ``reference`` / ``comprobante`` / ``n_operacion``, and optionally
``moneda`` / ``currency``. Every problem is reported with its row and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from dialer.ingestion.normalize import normalize_id, parse_date
from dialer.job.outcomes import CURRENCY_EXPONENT, ParseError, norm_key, parse_amount

FIELDS: dict[str, tuple[str, ...]] = {
    "debtor_id": ("debtor_id", "rut", "dni", "cuit", "cuil", "rut_deudor", "documento",
                  "id_deudor", "rut_cliente", "nro_documento"),
    "amount": ("amount", "monto", "importe", "pago", "monto_pago", "monto_pagado", "valor"),
    "paid_on": ("paid_on", "date", "fecha", "fecha_pago", "fecha_de_pago", "payment_date"),
    "reference": ("reference", "referencia", "ref", "comprobante", "n_operacion",
                  "numero_operacion", "nro_operacion", "id_pago", "payment_id", "folio"),
    "currency": ("currency", "moneda"),
}  # fmt: skip
REQUIRED = ("debtor_id", "amount", "paid_on", "reference")
_SYNONYM = {syn: name for name, syns in FIELDS.items() for syn in syns}


@dataclass(frozen=True)
class PaymentRow:
    row: int
    debtor_id: str
    amount: int  # smallest unit of ``currency``
    currency: str
    paid_on: date
    reference: str


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}


def header_map(headers: list[object]) -> tuple[dict[str, int], list[RowError]]:
    """Column index of each field, or errors naming the missing columns (row 1)."""
    found: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = _SYNONYM.get(norm_key(str(h or "")))
        if name is not None and name not in found:
            found[name] = i
    missing = [f for f in REQUIRED if f not in found]
    return found, [
        RowError(1, f, f"no '{f}' column (accepted headers: {', '.join(FIELDS[f])})")
        for f in missing
    ]


def sheet_records(
    rows: Iterable[tuple[int, list[object]]],
) -> tuple[list[tuple[int, dict[str, object]]], list[RowError]]:
    """``(row number, {field: cell})`` for each data row of a sheet (first row: headers)."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        return [], [RowError(1, "", "the file is empty")]
    columns, errors = header_map(first[1])
    if errors:
        return [], errors
    out = []
    for number, cells in it:
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        out.append((number, {f: cells[i] if i < len(cells) else None for f, i in columns.items()}))
    return out, []


def validate(
    records: Iterable[tuple[int, Mapping[str, object]]], *, country: str, currency: str
) -> tuple[list[PaymentRow], list[RowError]]:
    """Typed rows and every error (row, column, message)."""
    rows: list[PaymentRow] = []
    errors: list[RowError] = []
    for number, rec in records:
        got = _one(number, rec, country=country, currency=currency)
        if isinstance(got, PaymentRow):
            rows.append(got)
        else:
            errors.extend(got)
    return rows, errors


def _one(
    number: int, raw: Mapping[str, object], *, country: str, currency: str
) -> PaymentRow | list[RowError]:
    rec = {_SYNONYM.get(norm_key(str(k)), str(k)): v for k, v in raw.items()}
    errors: list[RowError] = []

    def value(field: str) -> object:
        v = rec.get(field)
        if v is None or (isinstance(v, str) and not v.strip()):
            errors.append(RowError(number, field, "missing"))
            return None
        return v

    debtor, amount_raw, paid_raw = value("debtor_id"), value("amount"), value("paid_on")
    reference = value("reference")
    cur = currency
    if (c := rec.get("currency")) not in (None, ""):
        cur = str(c).strip().upper()
        if cur not in CURRENCY_EXPONENT:
            errors.append(RowError(number, "currency", f"unknown currency '{c}'"))
    debtor_id = amount = paid_on = None
    if debtor is not None:
        try:
            debtor_id = normalize_id(debtor, country)
        except ValueError as exc:
            errors.append(RowError(number, "debtor_id", str(exc)))
    if amount_raw is not None and cur in CURRENCY_EXPONENT:
        try:
            amount, cur = parse_amount(amount_raw, cur)
            if amount <= 0:
                errors.append(RowError(number, "amount", "must be more than zero"))
        except ParseError as exc:
            errors.append(RowError(number, "amount", f"'{amount_raw}': {exc}"))
    if paid_raw is not None:
        try:
            paid_on = parse_date(paid_raw)
        except ValueError as exc:
            errors.append(RowError(number, "paid_on", str(exc)))
    if isinstance(reference, float) and reference.is_integer():
        reference = int(reference)  # a number cell: 1234.0 -> "1234"
    ref = str(reference).strip() if reference is not None else ""
    if len(ref) > 200:
        errors.append(RowError(number, "reference", "longer than 200 characters"))
    if errors or debtor_id is None or amount is None or paid_on is None:
        return errors
    return PaymentRow(number, debtor_id, amount, cur, paid_on, ref)
