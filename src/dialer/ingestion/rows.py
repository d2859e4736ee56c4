"""One spreadsheet row -> a ``ContactRow`` ready to become a job, or the row's errors.

Pure: no database, no clock (dynamic dates arrive already resolved). Errors name the row
number the spreadsheet shows and the column header as written in the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal

from dialer.compliance.place import Place, place_keys, resolve_place
from dialer.ingestion import normalize as nz
from dialer.ingestion.headers import PLACE_FIELDS, HeaderMapping
from dialer.kit import phone
from dialer.kit.cells import CellError

ProcessingType = Literal["basic", "acquisition"]
# Column sizes of the jobs table: longer values are row errors, not database errors.
MAX_NAME = 200
MAX_EMAIL = 320


@dataclass(slots=True)
class RowError:
    """A row's error or warning: the English ``message`` the API has always given, and
    a stable ``code`` with its ``params`` (docs/ingestion.md, "Message codes") that a
    client words in its own language.

    Not frozen (nothing changes one once made): an export makes one per repaired phone,
    tens of thousands, in the reader and again when unpickled, and a frozen dataclass
    sets each field through ``object.__setattr__`` (over three times the cost). It was never
    hashable either way (``params`` is a dict)."""

    row_number: int
    column: str | None
    message: str
    code: str = "invalid_value"
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row_number: int, column: str | None, exc: ValueError) -> RowError:
        """The error a cell's ValueError stands for (its code when it carries one)."""
        if isinstance(exc, CellError):
            return cls(row_number, column, str(exc), exc.code, exc.params)
        return cls(row_number, column, str(exc), "invalid_value", {"message": str(exc)})

    @classmethod
    def phone_warning(
        cls, row_number: int, column: str | None, original: str, found: phone.Phone
    ) -> RowError:
        """A number accepted with a warning (repaired, or in an unlisted range)."""
        assert found.warning is not None
        notes = found.notes
        params = {"original": original, "result": found.e164, "notes": list(notes)}
        if notes[-1] in phone.UNLISTED_NOTES:  # the range is judged last (kit.phone)
            params["library"] = phone.LIBRARY
            if len(notes) == 1:
                return cls(row_number, column, found.warning, "phone_unlisted_range", params)
        return cls(row_number, column, found.warning, found.message_code, params)

    def __reduce__(self) -> tuple[type[RowError], tuple[Any, ...]]:
        # Rows' warnings cross the pipe from the reader process by the tens of thousands:
        # rebuilt by the constructor, not by the dataclass's generic __setstate__ (which
        # lists the fields again for every instance: most of the unpickling time).
        return (RowError, (self.row_number, self.column, self.message, self.code, self.params))

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row_number,
            "column": self.column,
            "message": self.message,
            "code": self.code,
            "params": dict(self.params),
        }


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
    # Consolidating: the row has no usable phone (this error) but its debtor may.
    phone_error: RowError | None = None
    # Where the debtor is (compliance.place), resolved at upload and stored on the job.
    place: Place | None = None

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)  # type: ignore[no-any-return]

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row_number,
            "contact_name": self.contact_name,
            "dni": self.dni,
            "phones": self.phones,
            "email": self.email,
            "payload": self.payload,
            "timezone": self.place.timezone if self.place else None,
            "region": self.place.region if self.place else None,
            "place_source": self.place.source if self.place else None,
        }


@dataclass(frozen=True)
class RowOptions:
    country: nz.Country
    processing_type: ProcessingType = "basic"
    # Resolved dynamic dates (today in the account's timezone + N); None: use the file.
    fecha_limite: date | None = None
    fecha_maxima: date | None = None
    # One job per debtor: rows of the same RUT/DNI are merged by the reader, and every
    # job carries ``cuotas`` and its ``instalments``. Off: one job per row, as filed.
    consolidate: bool = False
    # Values every job's payload carries, over the file's own (an operator's constants:
    # the company a campaign is for, an offer), as (key, value) pairs.
    constants: tuple[tuple[str, str | int | float], ...] = ()


def _empty(value: object) -> bool:
    # Cheap checks first: this runs for every cell of every row.
    if value is None or value == "":
        return True
    return type(value) is str and not value.strip()


def _extra_value(value: object) -> object:
    if type(value) is float and not math.isfinite(value):
        # JSON has no inf/nan: a spreadsheet error value, refused with the row.
        raise CellError("number_invalid", f"'{value}' is not a number", value=str(value))
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

    def __init__(
        self,
        mapping: HeaderMapping,
        options: RowOptions,
        sample: Sequence[Sequence[object]] = (),
    ) -> None:
        """``sample``: rows of the file (the first under the header), which only make
        validation faster for files shaped like them, never change its results."""
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
        self._due = cols.get("fecha_vencimiento")
        self._days = cols.get("dias_retraso")
        self._cuota = cols.get("cuota")
        self.consolidate = options.consolidate
        # fecha_limite / fecha_maxima derived from the due date where neither the
        # operator (dias_fecha_*) nor a column of the file gives them.
        self._derive_limite = not options.fecha_limite and self._limite is None
        self._derive_maxima = not options.fecha_maxima and self._maxima is None
        by_index = {c.index: c for c in mapping.columns}
        self._phones = [by_index[i] for i in mapping.phone_columns] or [
            c for c in mapping.columns if c.field == "phone"
        ]
        # Unknown columns and the place columns are kept in the payload under their key.
        self._extras = [c for c in mapping.columns if c.field is None or c.field in PLACE_FIELDS]
        # The columns the debtor's place is read from (the payload keys compliance.place
        # reads), in payload order; their values' places are remembered per file.
        wanted = set(place_keys([c.key for c in self._extras]))
        self._place_cols = [(c.key, c.index) for c in self._extras if c.key in wanted]
        self._place_memo: dict[tuple[object, ...], Place] = {}
        self._place_values = _tuple_getter([i for _, i in self._place_cols])
        self._fixed: dict[str, Any] = {}
        if options.fecha_limite:
            self._fixed["fecha_limite"] = options.fecha_limite.isoformat()
        if options.fecha_maxima:
            self._fixed["fecha_maxima"] = options.fecha_maxima.isoformat()
        self._fixed.update(options.constants)
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
        self._read = sorted(c.index for c in mapping.columns)
        # The payload is written as JSON directly, member by member, each member of a
        # repeating cell (date, company, currency, extra columns) encoded once per file.
        # Exactly dumps_payload of the dict the reference path builds, as long as no
        # extra column's key can meet another key of the payload (the dict keeps the
        # first); otherwise that path is used (and tests compare the two).
        standard = [*self._fixed, "amount", "currency", *(k for k, _, _ in self._dates)]
        standard += [*DUE_KEYS, "company", "cuota", "cuotas", "instalments"]
        extra_keys = [c.key for c in self._extras]
        self._json_direct = len(set(extra_keys)) == len(extra_keys) and not (
            set(extra_keys) & set(standard)
        )
        self._fixed_json = [json_member(k, v) for k, v in self._fixed.items()]
        self._member_currency = _memoized(_member("currency", _currency))
        self._member_default_currency = json_member("currency", self.currency)
        self._member_amount = _memoized(_member("amount", _amount_value))
        self._member_company = _memoized(_member("company", nz.cell_text))
        self._memo_due: dict[object, tuple[bool, Any]] = {}
        self._memo_cuota = _memoized(_cuota_value)
        self._member_dates = [
            (col, _memoized(_member(key, _date_value))) for key, col, _ in self._dates
        ]
        # (header, '"key":', the member function, a memo of its date cells) per column
        self._member_extras: list[tuple[str, str, Callable[[object], Any], dict[Any, Any]]]
        self._member_extras = [
            (c.header, json_member(c.key, 0)[:-1], _extra_member(c.key), {}) for c in self._extras
        ]
        self._extra_values = _tuple_getter([c.index for c in self._extras])
        # The extra columns blank in every sampled row (the rows under the header): as
        # long as a row has them blank too, only the others need encoding.
        sparse = {
            c.index
            for c in self._extras
            if sample and all(_blank_cell(row, c.index) for row in sample)
        }
        self._sparse_values = _tuple_getter(sorted(sparse)) if sparse else None
        self._sparse_blank = ("",) * len(sparse)
        dense = [(c, m) for c, m in zip(self._extras, self._member_extras, strict=True)
                 if c.index not in sparse]  # fmt: skip
        self._dense_plan = [m for _, m in dense]
        self._dense_values = _tuple_getter([c.index for c, _ in dense])
        # Plain (index, header) pairs for the per-row loop: no attribute lookups there.
        self._phone_cols = [(c.index, c.header) for c in self._phones]
        self._extra_cols = [(c.index, c.key, c.header) for c in self._extras]

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
                        RowError(
                            row_number,
                            self._dni.header,
                            f"{self._id_label} is required",
                            "id_required",
                            {"label": self._id_label},
                        )
                    )
            else:
                if self._dv is not None and not _empty(cells[self._dv.index]):
                    raw = f"{nz.cell_text(raw)}-{nz.cell_text(cells[self._dv.index])}"
                try:
                    dni = self._normalize_id(raw)
                except ValueError as exc:
                    errors.append(RowError.of(row_number, self._dni.header, exc))

        phones: list[str] = []
        first_bad: RowError | None = None
        country = self.country
        normalize_text = phone.normalize_text
        for index, header in self._phone_cols:
            raw = cells[index]
            if raw is None or raw == "":
                continue
            if type(raw) is str and (text := raw.strip()) and nz.single_phone(text):
                # The usual cell, one number as text: what _phone_cell gives, without
                # the list (kit.phone answers the usual number with one regex).
                try:
                    found = normalize_text(text, country)
                except phone.PhoneInvalid as exc:
                    bad = RowError.of(row_number, header, exc)
                    first_bad = first_bad or bad
                    warnings.append(bad)
                    continue
                if found.warning is not None:
                    warnings.append(RowError.phone_warning(row_number, header, text, found))
                if found.e164 not in phones:
                    phones.append(found.e164)
                continue
            parsed = self._phone_cell(raw)
            if parsed is None:
                continue  # whitespace only
            for part, outcome in parsed:
                if isinstance(outcome, phone.PhoneInvalid):
                    bad = RowError.of(row_number, header, outcome)
                    first_bad = first_bad or bad
                    warnings.append(bad)
                    continue
                if outcome.warning is not None:
                    # Repaired (legacy spelling) or in a range libphonenumber does not list.
                    warnings.append(RowError.phone_warning(row_number, header, part, outcome))
                if outcome.e164 not in phones:
                    phones.append(outcome.e164)
        phone_error: RowError | None = None
        if not phones:
            if first_bad is not None:
                phone_error = first_bad
            else:
                label = self._phones[0].header if self._phones else None
                phone_error = RowError(row_number, label, "no phone number", "no_phone", {})
            errors.append(phone_error)
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
                    "name_too_long",
                    {"max": MAX_NAME},
                )
            )
        email: str | None = None
        if self._email is not None and not _empty(cells[self._email.index]):
            ok, value = self._memo_email(cells[self._email.index])
            if ok:
                email = value
            else:
                errors.append(RowError.of(row_number, self._email.header, value))

        if self._json_direct:
            payload_json = self._payload_json(row_number, cells, errors)
        else:
            payload_json = dumps_payload(self._payload_dict(row_number, cells, errors))

        if errors:
            # Rows with nothing in the columns the import reads (whitespace, or a note in
            # a column without a header) are empty rows, not errors; only checked on this
            # path. The same whether or not the reader skipped the other columns.
            if all(_empty(cells[i]) for i in self._read):
                return None
            if self.consolidate and dni is not None and errors == [phone_error]:
                # An instalment row without a phone still belongs to its debtor, whose
                # other rows may have one: the reader decides (the error stands if not).
                return ContactRow(
                    row_number, name, dni, [], email, payload_json, phone_error=phone_error
                )
            return errors
        place = self.place(cells, phones)
        if warnings:
            return ContactRow(
                row_number, name, dni, phones, email, payload_json, warnings, place=place
            )
        return ContactRow(row_number, name, dni, phones, email, payload_json, place=place)

    def place(self, cells: Sequence[object], phones: Sequence[str]) -> Place:
        """The debtor's place from the row's place columns, else its phones' area codes,
        else the batch's timezone: what compliance.place.resolve_place gives for the
        job's payload and phones, resolved here so the job carries it from the upload."""
        if self._place_cols:
            raw = self._place_values(cells)
            hit = self._place_memo.get(raw)
            if hit is None:
                given: dict[str, object] = {}
                for (key, _), value in zip(self._place_cols, raw, strict=True):
                    if not _empty(value):
                        try:
                            given[key] = _extra_value(value)
                        except ValueError:
                            continue
                hit = resolve_place(country=self.country, payload=given, phones=())
                if len(self._place_memo) >= _MEMO_MAX:
                    self._place_memo.clear()
                self._place_memo[raw] = hit
            if hit.timezone is not None or hit.region is not None:
                return hit
        if self.country == "CL":
            # Only Chilean landlines name a place (compliance.place): a row whose numbers
            # are all mobiles (the usual row) is at the batch's timezone.
            for number in phones:
                if number.startswith("+56") and not number.startswith("+569"):
                    break
            else:
                return _BATCH_PLACE
        return resolve_place(country=self.country, payload=None, phones=phones)

    def merged_place(self, payload: str | dict[str, Any], phones: Sequence[str]) -> Place:
        """The place of a consolidated debtor (``payload``: its merged payload, as JSON
        or as ``merged`` gives it): its first row's place columns (the base of the
        merged payload), else any of its phones."""
        if self._place_cols:
            merged: dict[str, Any] = json.loads(payload) if isinstance(payload, str) else payload
            given = {k: merged[k] for k, _ in self._place_cols if k in merged}
            hit = resolve_place(country=self.country, payload=given, phones=())
            if hit.timezone is not None or hit.region is not None:
                return hit
        return resolve_place(country=self.country, payload=None, phones=phones)

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
                    errors.append(RowError.of(row_number, self._amount.header, value))
        if self._amount is not None or self._currency is not None:
            cur = cells[self._currency.index] if self._currency is not None else None
            if not _empty(cur):
                payload["currency"] = _currency(cur)
            else:
                marked = self._amount_currency(cells)
                payload["currency"] = marked or self.currency
        for key, date_col, memo in self._dates:
            raw = cells[date_col.index]
            if _empty(raw):
                continue
            ok, value = memo(raw)
            if ok:
                payload[key] = value
            else:
                errors.append(RowError.of(row_number, date_col.header, value))
        due = self._due_fields(row_number, cells, errors)
        if due is not None:
            payload.update(due[0])
        if self._company is not None and not _empty(cells[self._company.index]):
            payload["company"] = self._memo_text(cells[self._company.index])[1]
        cuota = self._cuota_field(row_number, cells, errors)
        if self.consolidate:
            payload["cuotas"] = 1
            payload["instalments"] = [
                instalment(
                    cuota, payload.get("amount"), due[0].get("fecha_vencimiento") if due else None
                )
            ]
        elif cuota is not None:
            payload["cuota"] = cuota
        for index, key, header in self._extra_cols:
            raw = cells[index]
            if not _empty(raw) and key not in payload:
                ok, value = self._memo_extra(raw)
                if ok:
                    payload[key] = value
                else:
                    errors.append(RowError.of(row_number, header, value))
        return payload

    def _payload_json(
        self, row_number: int, cells: Sequence[object], errors: list[RowError]
    ) -> str:
        """``dumps_payload(self._payload_dict(...))``, written member by member."""
        members = list(self._fixed_json)
        amount_value: int | float | None = None
        if self._amount is not None:
            raw = cells[self._amount.index]
            if type(raw) is float and raw.is_integer() and raw >= 0:
                amount_value = int(raw)
                members.append(f'"amount":{amount_value}')  # as the encoder writes an int
            elif not _empty(raw):
                ok, value = self._memo_amount(raw)
                if ok:
                    amount_value = value
                    members.append(self._member_amount(raw)[1])
                else:
                    errors.append(RowError.of(row_number, self._amount.header, value))
        if self._amount is not None or self._currency is not None:
            cur = cells[self._currency.index] if self._currency is not None else None
            if not _empty(cur):
                members.append(self._member_currency(cur)[1])
            elif (marked := self._amount_currency(cells)) is not None:
                members.append(json_member("currency", marked))
            else:
                members.append(self._member_default_currency)
        for date_col, member in self._member_dates:
            raw = cells[date_col.index]
            if _empty(raw):
                continue
            ok, value = member(raw)
            if ok:
                members.append(value)
            else:
                errors.append(RowError.of(row_number, date_col.header, value))
        due = self._due_fields(row_number, cells, errors)
        if due is not None and due[1]:
            members.append(due[1])
        if self._company is not None and not _empty(cells[self._company.index]):
            members.append(self._member_company(cells[self._company.index])[1])
        cuota = self._cuota_field(row_number, cells, errors)
        if self.consolidate:
            amount = amount_value if self._amount is not None else None
            members.append(
                _instalment_members(cuota, amount, due[0].get("fecha_vencimiento") if due else None)
            )
        elif cuota is not None:
            members.append(json_member("cuota", cuota))
        if self._member_extras:
            self._extra_members(row_number, cells, members, errors)
        return "{" + ",".join(members) + "}"

    def _extra_members(
        self,
        row_number: int,
        cells: Sequence[object],
        members: list[str],
        errors: list[RowError],
    ) -> None:
        """The extra columns' members (``_extra_member`` of each cell), in column order.

        This runs for every extra cell of every row, and many are empty in an export
        (columns nobody fills): the columns that were empty in the rows under the
        header are compared with blanks in one step (a tuple comparison, in C) and,
        while they still are, only the other columns are looked at; otherwise every
        column is, in order. The usual cells (a text, a whole or finite number, a date
        of a column of dates) are encoded inline.
        """
        if self._sparse_values is not None and self._sparse_values(cells) == self._sparse_blank:
            plan, values = self._dense_plan, self._dense_values(cells)
        else:
            plan, values = self._member_extras, self._extra_values(cells)
        append = members.append
        for (header, prefix, extra, seen), raw in zip(plan, values, strict=True):
            t = type(raw)
            if t is str:
                text = raw.strip()
                if text:
                    append(prefix + _encode_str(text))
                continue
            if t is float:
                if raw.is_integer():
                    append(prefix + int.__repr__(int(raw)))
                    continue
                if _FINITE_LOW < raw < _FINITE_HIGH:
                    append(prefix + float.__repr__(raw))
                    continue
            elif raw is None:
                continue
            elif t is date or t is datetime:
                # Dates repeat within a column: each one encoded once per file.
                hit = seen.get(raw, _MISS)
                if hit is _MISS:
                    hit = seen[raw] = extra(raw)
                    if len(seen) >= _MEMO_MAX:
                        seen.clear()
                if hit is not None and hit[0]:
                    append(hit[1])
                    continue
            encoded = extra(raw)
            if encoded is None:
                continue
            if encoded[0]:
                append(encoded[1])
            else:
                errors.append(RowError.of(row_number, header, encoded[1]))

    def merge(self, payloads: Sequence[str]) -> str:
        """The payload of one debtor from the payloads of its rows (file order), as JSON.

        The first row's payload is the base (name, company, extra columns); on top:
        ``amount`` summed, ``cuotas`` counted, ``instalments`` listed in file order,
        ``fecha_vencimiento`` the earliest due date and ``ultimo_vencimiento`` the latest,
        ``dias_retraso`` the most days late, and ``fecha_limite``/``fecha_maxima``
        derived from all instalments (``derived_dates``) unless the operator or the file
        gave them (then the latest of the file's).
        """
        return dumps_payload(self.merged(payloads))

    def merged(self, payloads: Sequence[str]) -> dict[str, Any]:
        """``merge`` before encoding (the dict ``merged_place`` also takes)."""
        rows = [json.loads(p) for p in payloads]
        merged: dict[str, Any] = dict(rows[0])
        amounts = [r["amount"] for r in rows if "amount" in r]
        if amounts:
            merged["amount"] = nz.amount_json(sum((Decimal(str(a)) for a in amounts), Decimal(0)))
        merged["cuotas"] = len(rows)
        merged["instalments"] = [i for r in rows for i in r.get("instalments", ())]
        dues = [
            (date.fromisoformat(r["fecha_vencimiento"]), r.get("dias_retraso"))
            for r in rows
            if "fecha_vencimiento" in r
        ]
        if dues:
            merged["fecha_vencimiento"] = min(d for d, _ in dues).isoformat()
            merged["ultimo_vencimiento"] = max(d for d, _ in dues).isoformat()
            limite, maxima = derived_dates(dues)
            if self._derive_limite:
                merged["fecha_limite"] = limite.isoformat()
            if self._derive_maxima and maxima is not None:
                merged["fecha_maxima"] = maxima.isoformat()
        days = [r["dias_retraso"] for r in rows if "dias_retraso" in r]
        if days:
            merged["dias_retraso"] = max(days)
        for key, derive in (
            ("fecha_limite", self._derive_limite),
            ("fecha_maxima", self._derive_maxima),
        ):
            if not derive and not self._fixed.get(key):
                given = [r[key] for r in rows if key in r]
                if given:
                    merged[key] = max(given)
        return merged

    def _amount_currency(self, cells: Sequence[object]) -> str | None:
        """The currency written in the amount cell (``USD 100``), if any."""
        if self._amount is None:
            return None
        raw = cells[self._amount.index]
        return nz.amount_currency(raw) if type(raw) is str else None

    def _due_fields(
        self, row_number: int, cells: Sequence[object], errors: list[RowError]
    ) -> tuple[dict[str, Any], str] | None:
        """The due-date members (``fecha_vencimiento``, ``dias_retraso`` and the derived
        ``fecha_limite``/``fecha_maxima``) as a dict and as JSON; None when the file has
        neither column. Memoized on the pair of cells; a bad cell is a row error."""
        if self._due is None and self._days is None:
            return None
        due_raw = cells[self._due.index] if self._due is not None else None
        days_raw = cells[self._days.index] if self._days is not None else None
        # Cells compared by value and type, as in _memoized.
        key = (
            due_raw if type(due_raw) is str else (type(due_raw), due_raw),
            days_raw if type(days_raw) is str else (type(days_raw), days_raw),
        )
        hit = self._memo_due.get(key)
        if hit is None:
            hit = self._due_compute(due_raw, days_raw)
            if len(self._memo_due) >= _MEMO_MAX:
                self._memo_due.clear()
            self._memo_due[key] = hit
        ok, value = hit
        if ok:
            return value  # type: ignore[no-any-return]
        column, exc = value
        errors.append(RowError.of(row_number, column, exc))
        return None

    def _due_compute(self, due_raw: object, days_raw: object) -> tuple[bool, Any]:
        due: date | None = None
        days: int | None = None
        if self._due is not None and not _empty(due_raw):
            try:
                due = nz.parse_date(due_raw)
            except ValueError as exc:
                return False, (self._due.header, exc)
        if self._days is not None:
            days = 0
            if not _empty(days_raw):
                try:
                    days = nz.parse_days(days_raw)
                except ValueError as exc:
                    return False, (self._days.header, exc)
        fields: dict[str, Any] = {}
        if due is not None:
            fields["fecha_vencimiento"] = due.isoformat()
        if days is not None:
            fields["dias_retraso"] = days
        if due is not None:
            limite, maxima = derived_dates([(due, days)])
            if self._derive_limite:
                fields["fecha_limite"] = limite.isoformat()
            if self._derive_maxima and maxima is not None:
                fields["fecha_maxima"] = maxima.isoformat()
        return True, (fields, dumps_payload(fields)[1:-1])

    def _cuota_field(
        self, row_number: int, cells: Sequence[object], errors: list[RowError]
    ) -> int | str | None:
        if self._cuota is None:
            return None
        raw = cells[self._cuota.index]
        if type(raw) is float and raw.is_integer() and 0 <= raw < 1e9:
            return int(raw)  # the usual cell (a number): what _cuota_value makes of it
        if _empty(raw):
            return None
        return self._memo_cuota(raw)[1]  # type: ignore[no-any-return]

    def _phone_cell(self, raw: object) -> list[tuple[str, phone.Phone | phone.PhoneInvalid]] | None:
        """Each number in a phone cell, as written, with what ``kit.phone.normalize``
        made of it (the number, or the refusal); None when blank."""
        if type(raw) is str and not raw.strip():
            return None
        out: list[tuple[str, phone.Phone | phone.PhoneInvalid]] = []
        for part in nz.split_phones(raw):
            try:
                out.append((part.strip(), phone.normalize(part, self.country)))
            except phone.PhoneInvalid as exc:
                # (Without its traceback: that holds this frame, whose ``out`` holds the
                # error, a reference cycle only the garbage collector would free.)
                out.append((part.strip(), exc.with_traceback(None)))
        return out


# The place of a Chilean row without place columns or landlines (the batch's timezone).
_BATCH_PLACE = resolve_place(country="CL", payload=None, phones=())

# Payload keys the due-date columns produce (see RowValidator._due_fields).
DUE_KEYS = ("fecha_vencimiento", "dias_retraso", "fecha_limite", "fecha_maxima")
# Days added to the due date when the file gives days late (the replaced system's rule).
LIMITE_EXTRA_DAYS = 3
MAXIMA_EXTRA_DAYS = 7


def derived_dates(instalments: Sequence[tuple[date, int | None]]) -> tuple[date, date | None]:
    """``fecha_limite`` and ``fecha_maxima`` of a debtor from its instalments' (due date,
    days late), when the operator gave no ``dias_fecha_*`` and the file no such column.

    With days late (the file has the column): the latest due date + its days late + 3,
    and the earliest due date + its days late + 7, as the replaced system computed them.
    Without: the latest due date, and no fecha_maxima. Ties keep the first instalment.
    """
    latest = earliest = instalments[0]
    for item in instalments[1:]:
        if item[0] > latest[0]:
            latest = item
        if item[0] < earliest[0]:
            earliest = item
    if latest[1] is None:
        return latest[0], None
    limite = latest[0] + timedelta(days=latest[1] + LIMITE_EXTRA_DAYS)
    maxima = earliest[0] + timedelta(days=(earliest[1] or 0) + MAXIMA_EXTRA_DAYS)
    return limite, maxima


def instalment(number: int | str | None, amount: object, due: object) -> dict[str, Any]:
    """One instalment of a debtor's payload: its number, amount and due date (ISO)."""
    item: dict[str, Any] = {}
    if number is not None:
        item["number"] = number
    if amount is not None:
        item["amount"] = amount
    if due is not None:
        item["due_date"] = due
    return item


def _cuota_value(raw: object) -> int | str:
    text = nz.cell_text(raw)
    # isdecimal, not isdigit: int() refuses "²", a digit that is not a decimal one.
    return int(text) if text.isdecimal() and len(text) < 10 else text


_MISS = object()
_MEMO_MAX = 20_000  # distinct values remembered per column; then the memo starts over


def _memoized(fn: Callable[[Any], Any]) -> Callable[[object], tuple[bool, Any]]:
    """``fn`` per distinct cell value: (True, result) or (False, the ValueError).

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
                # Kept without its traceback, which holds this frame and so ``hit``: a
                # reference cycle per remembered error (freed only by a full collection).
                hit = (False, exc.with_traceback(None))
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[key] = hit
        return hit  # type: ignore[return-value]

    return call


def _email_value(raw: object) -> str:
    email = nz.normalize_email(raw)
    if len(email) > MAX_EMAIL:
        raise CellError(
            "email_too_long", f"email is longer than {MAX_EMAIL} characters", max=MAX_EMAIL
        )
    return email


def _amount_value(raw: object) -> int | float:
    if type(raw) is float and raw.is_integer() and raw >= 0:
        return int(raw)
    return nz.amount_json(nz.parse_amount(raw))


_encode_str = json.encoder.encode_basestring  # what dumps_payload's encoder uses
# Bounds of the finite floats (nan compares false with both).
_FINITE_LOW, _FINITE_HIGH = -math.inf, math.inf


def _tuple_getter(indices: Sequence[int]) -> Callable[[Sequence[object]], tuple[Any, ...]]:
    """The cells at ``indices`` as a tuple (``itemgetter``, a tuple for one or none)."""
    if len(indices) <= 1:
        picked = list(indices)
        return lambda cells: tuple(cells[i] for i in picked)
    return itemgetter(*indices)


def _blank_cell(row: Sequence[object], index: int) -> bool:
    return index < len(row) and type(row[index]) is str and row[index] == ""


def _encoded(value: object) -> str:
    """``value`` as dumps_payload writes it, without a dict for the usual types."""
    if type(value) is str:
        return _encode_str(value)
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float:
        return float.__repr__(value)
    return json_member("v", value)[4:]


def _extra_member(key: str) -> Callable[[object], tuple[bool, Any] | None]:
    """An extra column's JSON member: (True, ``"key":value``) or (False, the error).

    Not memoized: such columns are mostly distinct values (document numbers, amounts,
    dates), where a memo costs more than encoding.
    """
    prefix = json_member(key, 0)[:-1]  # '"key":'

    def member(raw: object) -> tuple[bool, Any] | None:
        # _extra_value then _encoded, with the two usual cell types inlined; None for a
        # whitespace-only text (an empty cell).
        t = type(raw)
        if t is str:
            text = raw.strip()  # type: ignore[attr-defined]
            return (True, prefix + _encode_str(text)) if text else None
        if t is float and raw.is_integer():  # type: ignore[attr-defined]
            return True, prefix + int.__repr__(int(raw))  # type: ignore[call-overload]
        try:
            return True, prefix + _encoded(_extra_value(raw))
        except ValueError as exc:
            return False, exc

    return member


def _instalment_members(number: int | str | None, amount: object, due: object) -> str:
    """``"cuotas":1,"instalments":[instalment(...)]`` as dumps_payload writes them."""
    if type(number) is int and type(amount) is int and type(due) is str:
        # The usual instalment, in one step (the encoder writes an int as its repr).
        return (
            f'"cuotas":1,"instalments":[{{"number":{number!r},"amount":{amount!r},'
            f'"due_date":{_encode_str(due)}}}]'
        )
    parts = []
    if number is not None:
        parts.append('"number":' + _encoded(number))
    if amount is not None:
        parts.append('"amount":' + _encoded(amount))
    if due is not None:
        parts.append('"due_date":' + _encoded(due))
    return '"cuotas":1,"instalments":[{' + ",".join(parts) + "}]"


def _member(key: str, fn: Callable[[Any], object]) -> Callable[[object], str]:
    """The JSON member ``"key":fn(raw)``; fn's ValueError propagates (to the memo)."""

    def member(raw: object) -> str:
        return json_member(key, fn(raw))

    return member


def _currency(raw: object) -> str:
    return nz.cell_text(raw).upper()


def _date_value(raw: object) -> str:
    return nz.parse_date(raw).isoformat()
