"""One spreadsheet row -> a ``ContactRow`` ready to become a job, or the row's errors.

Pure: no database, no clock (dynamic dates arrive already resolved). Errors name the row
number the spreadsheet shows and the column header as written in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

from dialer.ingestion import normalize as nz
from dialer.ingestion.headers import HeaderMapping
from dialer.job.schemas import NewJob

ProcessingType = Literal["basic", "acquisition"]
# Column sizes of the jobs table: longer values are row errors, not database errors.
MAX_NAME = 200
MAX_EMAIL = 320


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row_number, "column": self.column, "message": self.message}


@dataclass(slots=True)
class ContactRow:
    """A valid row: the same fields as ``NewJob``."""

    row_number: int
    contact_name: str | None
    dni: str | None
    phones: list[str]
    email: str | None
    payload: dict[str, Any]
    # Problems that did not reject the row (an unreadable second phone, a DNC number).
    warnings: list[RowError] = field(default_factory=list)

    def to_new_job(self) -> NewJob:
        return NewJob(
            contact_name=self.contact_name,
            dni=self.dni,
            phones=self.phones,
            email=self.email,
            payload=self.payload,
            row_number=self.row_number,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row_number,
            "contact_name": self.contact_name,
            "dni": self.dni,
            "phones": self.phones,
            "email": self.email,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class RowOptions:
    country: nz.Country
    processing_type: ProcessingType = "basic"
    # Resolved dynamic dates (today in the account's timezone + N); None: use the file.
    fecha_limite: date | None = None
    fecha_maxima: date | None = None


def _empty(value: object) -> bool:
    # Cheap checks first: this runs for every cell of every row.
    if value is None or value == "":
        return True
    return type(value) is str and not value.strip()


def _extra_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float | bool):
        return value
    return str(value).strip()


class RowValidator:
    """Validates rows against a header mapping; build once per file."""

    def __init__(self, mapping: HeaderMapping, options: RowOptions) -> None:
        self.options = options
        self.country = options.country
        self.currency = nz.CURRENCY[options.country]
        cols = {c.field: c for c in mapping.columns if c.field and c.field != "phone"}
        self._dni = cols.get("dni")
        self._dv = cols.get("dv")
        self._name = cols.get("name")
        self._first = cols.get("first_name")
        self._last = [c for c in mapping.columns if c.field == "last_name"]
        self._email = cols.get("email")
        self._amount = cols.get("amount")
        self._currency = cols.get("currency")
        self._company = cols.get("company")
        self._limite = None if options.fecha_limite else cols.get("fecha_limite")
        self._maxima = None if options.fecha_maxima else cols.get("fecha_maxima")
        self._phones = [c for c in mapping.columns if c.field == "phone"]
        self._extras = [c for c in mapping.columns if c.field is None]
        self._fixed: dict[str, Any] = {}
        if options.fecha_limite:
            self._fixed["fecha_limite"] = options.fecha_limite.isoformat()
        if options.fecha_maxima:
            self._fixed["fecha_maxima"] = options.fecha_maxima.isoformat()
        self._id_label = "RUT" if options.country == "CL" else "DNI/CUIT"
        self.width = max((c.index for c in mapping.columns), default=-1) + 1

    def validate(
        self, row_number: int, cells: Sequence[object]
    ) -> ContactRow | list[RowError] | None:
        """The row as a ContactRow, its errors, or None for an empty row (ignored)."""
        if not any(cells):
            return None
        if len(cells) < self.width:
            # Short rows (CSV lines with trailing cells missing) read as empty cells.
            cells = [*cells, *([None] * (self.width - len(cells)))]
        cell = cells.__getitem__
        errors: list[RowError] = []
        warnings: list[RowError] = []

        dni: str | None = None
        if self._dni is not None:
            raw = cell(self._dni.index)
            if _empty(raw):
                if self.options.processing_type == "basic":
                    errors.append(
                        RowError(row_number, self._dni.header, f"{self._id_label} is required")
                    )
            else:
                if self._dv is not None and not _empty(cell(self._dv.index)):
                    raw = f"{nz.cell_text(raw)}-{nz.cell_text(cell(self._dv.index))}"
                try:
                    dni = nz.normalize_id(raw, self.country)
                except ValueError as exc:
                    errors.append(RowError(row_number, self._dni.header, str(exc)))

        phones: list[str] = []
        first_bad: RowError | None = None
        for col in self._phones:
            raw = cell(col.index)
            if _empty(raw):
                continue
            for part in nz.split_phones(raw):
                try:
                    e164 = nz.normalize_phone(part, self.country)
                except ValueError as exc:
                    bad = RowError(row_number, col.header, str(exc))
                    first_bad = first_bad or bad
                    warnings.append(bad)
                    continue
                if e164 not in phones:
                    phones.append(e164)
        if not phones:
            if first_bad is not None:
                errors.append(first_bad)
            else:
                label = self._phones[0].header if self._phones else None
                errors.append(RowError(row_number, label, "no phone number"))
            warnings = []

        name: str | None = None
        if self._name is not None and not _empty(cell(self._name.index)):
            name = " ".join(nz.cell_text(cell(self._name.index)).split())
        elif self._first is not None or self._last:
            parts = [cell(self._first.index)] if self._first is not None else []
            parts += [cell(c.index) for c in self._last]
            joined = " ".join(nz.cell_text(p) for p in parts if not _empty(p))
            name = " ".join(joined.split()) or None

        if name is not None and len(name) > MAX_NAME:
            errors.append(
                RowError(
                    row_number,
                    self._name.header if self._name else None,
                    f"name is longer than {MAX_NAME} characters",
                )
            )
        email: str | None = None
        if self._email is not None and not _empty(cell(self._email.index)):
            try:
                email = nz.normalize_email(cell(self._email.index))
                if len(email) > MAX_EMAIL:
                    raise ValueError(f"email is longer than {MAX_EMAIL} characters")
            except ValueError as exc:
                errors.append(RowError(row_number, self._email.header, str(exc)))

        payload: dict[str, Any] = dict(self._fixed)
        if self._amount is not None and not _empty(cell(self._amount.index)):
            try:
                raw = cell(self._amount.index)
                if type(raw) is float and raw.is_integer() and raw >= 0:
                    payload["amount"] = int(raw)  # the usual case: a number cell of pesos
                else:
                    payload["amount"] = nz.amount_json(nz.parse_amount(raw))
            except ValueError as exc:
                errors.append(RowError(row_number, self._amount.header, str(exc)))
        if self._amount is not None or self._currency is not None:
            cur = cell(self._currency.index) if self._currency is not None else None
            payload["currency"] = nz.cell_text(cur).upper() if not _empty(cur) else self.currency
        for key, date_col in (("fecha_limite", self._limite), ("fecha_maxima", self._maxima)):
            if date_col is None or _empty(cell(date_col.index)):
                continue
            try:
                payload[key] = nz.parse_date(cell(date_col.index)).isoformat()
            except ValueError as exc:
                errors.append(RowError(row_number, date_col.header, str(exc)))
        if self._company is not None and not _empty(cell(self._company.index)):
            payload["company"] = nz.cell_text(cell(self._company.index))
        for col in self._extras:
            raw = cell(col.index)
            if not _empty(raw) and col.key not in payload:
                payload[col.key] = _extra_value(raw)

        if errors:
            # Whitespace-only rows are empty rows, not errors; only checked on this path.
            if all(_empty(c) for c in cells):
                return None
            return errors
        if warnings:
            return ContactRow(row_number, name, dni, phones, email, payload, warnings)
        return ContactRow(row_number, name, dni, phones, email, payload)
