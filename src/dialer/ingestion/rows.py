"""One spreadsheet row -> a ``ContactRow`` ready to become a job, or the row's errors.

Pure: no database, no clock (dynamic dates arrive already resolved). Errors name the row
number the spreadsheet shows and the column header as written in the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

from dialer.ingestion import normalize as nz
from dialer.ingestion.headers import HeaderMapping
from dialer.job.schemas import NewJob
from dialer.kit import phone

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


# The JSON the jobs table stores, encoded once here rather than by the ORM per row.
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_encoder is not None:
    # The same C encoder ``dumps`` ends up in, built once instead of once per call.
    _encode = _c_encoder(
        None, json.JSONEncoder().default, json.encoder.encode_basestring,
        None, ":", ",", False, False, True,
    )  # fmt: skip

    def dumps_payload(obj: dict[str, Any]) -> str:
        return "".join(_encode(obj, 0))
else:  # pragma: no cover - interpreters without the C accelerator

    def dumps_payload(obj: dict[str, Any]) -> str:
        return dumps(obj)


def json_member(key: str, value: object) -> str:
    """``"key":value`` exactly as ``dumps_payload`` writes it inside an object."""
    return dumps_payload({key: value})[1:-1]


@dataclass(slots=True)
class ContactRow:
    """A valid row: the same fields as ``NewJob``, the payload as its stored JSON."""

    row_number: int
    contact_name: str | None
    dni: str | None
    phones: list[str]
    email: str | None
    payload_json: str
    # Problems that did not reject the row (an unreadable second phone, a DNC number).
    warnings: list[RowError] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)  # type: ignore[no-any-return]

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
        # The country's normaliser itself (normalize_id only dispatches on the country).
        self._normalize_id: Callable[[object], str] = (
            nz.normalize_rut if options.country == "CL" else nz.normalize_ar_id
        )
        # One memo per column and per file: values repeat within a column, not across.
        self._memo_email = _memoized(_email_value)
        self._memo_amount = _memoized(_amount_value)
        self._memo_text = _memoized(nz.cell_text)
        self._memo_extra = _memoized(_extra_value)
        self._dates = [
            (key, col, _memoized(_date_value))
            for key, col in (("fecha_limite", self._limite), ("fecha_maxima", self._maxima))
            if col is not None
        ]
        self.width = max((c.index for c in mapping.columns), default=-1) + 1
        # The payload is written as JSON directly, member by member, each member of a
        # repeating cell (date, company, currency, extra columns) encoded once per file.
        # Exactly dumps_payload of the dict the reference path builds, as long as no
        # extra column's key can meet another key of the payload (the dict keeps the
        # first); otherwise that path is used (and tests compare the two).
        standard = [*self._fixed, "amount", "currency", *(k for k, _, _ in self._dates)]
        standard.append("company")
        extra_keys = [c.key for c in self._extras]
        self._json_direct = len(set(extra_keys)) == len(extra_keys) and not (
            set(extra_keys) & set(standard)
        )
        self._fixed_json = [json_member(k, v) for k, v in self._fixed.items()]
        self._member_currency = _memoized(_member("currency", _currency))
        self._member_default_currency = json_member("currency", self.currency)
        self._member_amount = _memoized(_member("amount", _amount_value))
        self._member_company = _memoized(_member("company", nz.cell_text))
        self._member_dates = [
            (col, _memoized(_member(key, _date_value))) for key, col, _ in self._dates
        ]
        self._member_extras = [
            (c.index, c.key, _memoized(_member(c.key, _extra_value))) for c in self._extras
        ]
        # Plain (index, header) pairs for the per-row loop: no attribute lookups there.
        self._phone_cols = [(c.index, c.header) for c in self._phones]
        self._extra_cols = [(c.index, c.key) for c in self._extras]

    def validate(
        self, row_number: int, cells: Sequence[object]
    ) -> ContactRow | list[RowError] | None:
        """The row as a ContactRow, its errors, or None for an empty row (ignored)."""
        if not any(cells):
            return None
        if len(cells) < self.width:
            # Short rows (CSV lines with trailing cells missing) read as empty cells.
            cells = [*cells, *([None] * (self.width - len(cells)))]
        errors: list[RowError] = []
        warnings: list[RowError] = []

        dni: str | None = None
        if self._dni is not None:
            raw = cells[self._dni.index]
            if _empty(raw):
                if self.options.processing_type == "basic":
                    errors.append(
                        RowError(row_number, self._dni.header, f"{self._id_label} is required")
                    )
            else:
                if self._dv is not None and not _empty(cells[self._dv.index]):
                    raw = f"{nz.cell_text(raw)}-{nz.cell_text(cells[self._dv.index])}"
                try:
                    dni = self._normalize_id(raw)
                except ValueError as exc:
                    errors.append(RowError(row_number, self._dni.header, str(exc)))

        phones: list[str] = []
        first_bad: RowError | None = None
        for index, header in self._phone_cols:
            raw = cells[index]
            if raw is None or raw == "":
                continue
            if type(raw) is str and (text := raw.strip()) and nz.single_phone(text):
                # The usual cell, one number as text: no list, no exception.
                e164 = nz.phone_text_e164(text, self.country)
                if e164 is not None:
                    if e164 not in phones:
                        phones.append(e164)
                    continue
            parsed = self._phone_cell(raw)
            if parsed is None:
                continue  # whitespace only
            for e164, message in parsed:
                if e164 is None:
                    bad = RowError(row_number, header, message)
                    first_bad = first_bad or bad
                    warnings.append(bad)
                    continue
                if message:
                    # Repaired (legacy spelling) or in a range libphonenumber does not list.
                    warnings.append(RowError(row_number, header, message))
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
        raw = cells[self._name.index] if self._name is not None else None
        if type(raw) is str and (name := " ".join(raw.split())):
            pass  # the usual text cell: the same as cell_text + whitespace collapse
        elif raw is not None and not _empty(raw):
            name = " ".join(nz.cell_text(raw).split())
        elif self._first is not None or self._last:
            name = None
            parts = [cells[self._first.index]] if self._first is not None else []
            parts += [cells[c.index] for c in self._last]
            joined = " ".join(nz.cell_text(p) for p in parts if not _empty(p))
            name = " ".join(joined.split()) or None
        else:
            name = None

        if name is not None and len(name) > MAX_NAME:
            errors.append(
                RowError(
                    row_number,
                    self._name.header if self._name else None,
                    f"name is longer than {MAX_NAME} characters",
                )
            )
        email: str | None = None
        if self._email is not None and not _empty(cells[self._email.index]):
            ok, value = self._memo_email(cells[self._email.index])
            if ok:
                email = value
            else:
                errors.append(RowError(row_number, self._email.header, value))

        if self._json_direct:
            payload_json = self._payload_json(row_number, cells, errors)
        else:
            payload_json = dumps_payload(self._payload_dict(row_number, cells, errors))

        if errors:
            # Whitespace-only rows are empty rows, not errors; only checked on this path.
            if all(_empty(c) for c in cells):
                return None
            return errors
        if warnings:
            return ContactRow(row_number, name, dni, phones, email, payload_json, warnings)
        return ContactRow(row_number, name, dni, phones, email, payload_json)

    def _payload_dict(
        self, row_number: int, cells: Sequence[object], errors: list[RowError]
    ) -> dict[str, Any]:
        """The row's payload (amount, currency, dates, company, other columns)."""
        payload: dict[str, Any] = dict(self._fixed)
        if self._amount is not None:
            raw = cells[self._amount.index]
            if type(raw) is float and raw.is_integer() and raw >= 0:
                payload["amount"] = int(raw)  # the usual case: a number cell of pesos
            elif not _empty(raw):
                ok, value = self._memo_amount(raw)
                if ok:
                    payload["amount"] = value
                else:
                    errors.append(RowError(row_number, self._amount.header, value))
        if self._amount is not None or self._currency is not None:
            cur = cells[self._currency.index] if self._currency is not None else None
            payload["currency"] = _currency(cur) if not _empty(cur) else self.currency
        for key, date_col, memo in self._dates:
            raw = cells[date_col.index]
            if _empty(raw):
                continue
            ok, value = memo(raw)
            if ok:
                payload[key] = value
            else:
                errors.append(RowError(row_number, date_col.header, value))
        if self._company is not None and not _empty(cells[self._company.index]):
            payload["company"] = self._memo_text(cells[self._company.index])[1]
        for index, key in self._extra_cols:
            raw = cells[index]
            if not _empty(raw) and key not in payload:
                payload[key] = self._memo_extra(raw)[1]
        return payload

    def _payload_json(
        self, row_number: int, cells: Sequence[object], errors: list[RowError]
    ) -> str:
        """``dumps_payload(self._payload_dict(...))``, written member by member."""
        members = list(self._fixed_json)
        if self._amount is not None:
            raw = cells[self._amount.index]
            if type(raw) is float and raw.is_integer() and raw >= 0:
                members.append(f'"amount":{int(raw)}')  # as the encoder writes an int
            elif not _empty(raw):
                ok, value = self._member_amount(raw)
                if ok:
                    members.append(value)
                else:
                    errors.append(RowError(row_number, self._amount.header, value))
        if self._amount is not None or self._currency is not None:
            cur = cells[self._currency.index] if self._currency is not None else None
            members.append(
                self._member_currency(cur)[1] if not _empty(cur) else self._member_default_currency
            )
        for date_col, member in self._member_dates:
            raw = cells[date_col.index]
            if _empty(raw):
                continue
            ok, value = member(raw)
            if ok:
                members.append(value)
            else:
                errors.append(RowError(row_number, date_col.header, value))
        if self._company is not None and not _empty(cells[self._company.index]):
            members.append(self._member_company(cells[self._company.index])[1])
        for index, key, member in self._member_extras:
            raw = cells[index]
            if not _empty(raw):
                ok, value = member(raw)
                # Not ok: the dict path stores the error text as the value; so here.
                members.append(value if ok else json_member(key, value))
        return "{" + ",".join(members) + "}"

    def _phone_cell(self, raw: object) -> list[tuple[str | None, str]] | None:
        """Each number in a phone cell as (E.164, warning or "") or (None, error); None
        when blank. One ``kit.phone.normalize`` per number."""
        if type(raw) is str and not raw.strip():
            return None
        out: list[tuple[str | None, str]] = []
        for part in nz.split_phones(raw):
            try:
                found = phone.normalize(part, self.country)
            except phone.PhoneInvalid as exc:
                out.append((None, str(exc)))
            else:
                out.append((found.e164, found.warning or ""))
        return out


_MISS = object()
_MEMO_MAX = 20_000  # distinct values remembered per column; then the memo starts over


def _memoized(fn: Callable[[Any], Any]) -> Callable[[object], tuple[bool, Any]]:
    """``fn`` per distinct cell value: (True, result) or (False, the ValueError message).

    Names, amounts, dates and companies repeat a lot within a file, and the cells of a
    column are compared by value *and* type (1, 1.0 and True are equal as dict keys but
    are different cells).
    """
    memo: dict[object, tuple[bool, Any]] = {}

    def call(raw: object) -> tuple[bool, Any]:
        key = raw if type(raw) is str else (type(raw), raw)
        hit = memo.get(key, _MISS)
        if hit is _MISS:
            try:
                hit = (True, fn(raw))
            except ValueError as exc:
                hit = (False, str(exc))
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[key] = hit
        return hit  # type: ignore[return-value]

    return call


def _email_value(raw: object) -> str:
    email = nz.normalize_email(raw)
    if len(email) > MAX_EMAIL:
        raise ValueError(f"email is longer than {MAX_EMAIL} characters")
    return email


def _amount_value(raw: object) -> int | float:
    if type(raw) is float and raw.is_integer() and raw >= 0:
        return int(raw)
    return nz.amount_json(nz.parse_amount(raw))


def _member(key: str, fn: Callable[[Any], object]) -> Callable[[object], str]:
    """The JSON member ``"key":fn(raw)``; fn's ValueError propagates (to the memo)."""

    def member(raw: object) -> str:
        return json_member(key, fn(raw))

    return member


def _currency(raw: object) -> str:
    return nz.cell_text(raw).upper()


def _date_value(raw: object) -> str:
    return nz.parse_date(raw).isoformat()
