"""Reading do-not-call files. Pure: bytes in, numbered phone cells out; no database.

Two shapes are accepted, in CSV (comma, semicolon or tab; UTF-8 or Latin-1) or XLSX:

* a sheet with a header row, where the phone column is found by header synonyms
  (Teléfono, Celular, Fono, Número, Phone, MSISDN...), case and accent insensitive;
* the Argentine Registro Nacional "No Llame" export: no header, one number per row
  (area code + subscriber number, digits only). Any extra columns are ignored.

Row numbers are 1-based spreadsheet rows, so an operator can find a rejected line.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from dialer.compliance.schemas import RowProblem
from dialer.errors import AppError, InvalidInput
from dialer.kit import phone, workbook_guard
from dialer.kit.cells import cell_text

PHONE_HEADERS = frozenset(
    {
        "telefono", "telefonos", "tel", "fono", "celular", "cel", "movil", "numero",
        "nro", "numero de telefono", "numero telefono", "telefono celular", "linea",
        "phone", "phones", "phone number", "phone_number", "mobile", "cell", "number",
        "msisdn", "e164", "whatsapp",
    }
)  # fmt: skip
XLSX_MAGIC = b"PK\x03\x04"
MAX_ROWS = 5_000_000


class DncFileInvalid(InvalidInput):
    """The do-not-call file cannot be read."""


class DncFileTooLarge(AppError):
    """The do-not-call file unpacks or counts beyond what we accept."""

    status_code = 413


@dataclass(frozen=True)
class Cell:
    row: int  # 1-based row in the sheet
    column: str  # header text, or "A" for header-less files
    value: str


@dataclass(frozen=True)
class PhoneColumn:
    index: int
    name: str
    has_header: bool


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().replace(".", " ").replace("-", " ").split())


def _is_phone_header(text: str) -> bool:
    folded = _fold(text)
    if folded in PHONE_HEADERS:
        return True
    # "Fono 1", "Telefono 2", "Celular1": a synonym followed by a number.
    stripped = folded.rstrip("0123456789 ")
    return stripped in PHONE_HEADERS and stripped != folded


def _looks_like_number(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return digits >= 6 and all(c.isdigit() or c in "+()-. /" for c in text.strip())


def find_phone_column(first_row: list[str]) -> PhoneColumn | None:
    """The phone column from the header row; a header-less ("No Llame") file uses its
    first column. None when the first row is neither a header nor a number."""
    for i, cell in enumerate(first_row):
        if cell and _is_phone_header(cell):
            return PhoneColumn(index=i, name=cell.strip(), has_header=True)
    non_empty = [c for c in first_row if c.strip()]
    if non_empty and _looks_like_number(first_row[0]):
        return PhoneColumn(index=0, name="A", has_header=False)
    return None


def _rows_csv(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sample = text[:4096]
    delimiter = max((";", ",", "\t"), key=sample.count) if any(d in sample for d in ";,\t") else ","
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        yield [c.strip() for c in row]


def _rows_xlsx(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    # Same guards as spreadsheet uploads: refuse zip bombs, absurd row counts and sheets
    # spanning far more cells than they hold before openpyxl unpacks anything.
    try:
        workbook_guard.check_archive(io.BytesIO(data), "xlsx", MAX_ROWS)
    except workbook_guard.WorkbookTooLarge as exc:
        raise DncFileTooLarge(f"file: {exc}", field="file") from None
    except workbook_guard.WorkbookDamaged as exc:
        raise DncFileInvalid(f"file: {exc}", field="file") from None
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt archives
        raise DncFileInvalid(f"file: not a readable .xlsx workbook ({exc})", field="file") from exc
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield [cell_text(v) for v in row]
    finally:
        wb.close()


def read_rows(data: bytes, filename: str | None) -> Iterator[list[str]]:
    """All rows of the first sheet as text cells."""
    if not data.strip():
        raise DncFileInvalid("file: the file is empty", field="file")
    name = (filename or "").lower()
    if data.startswith(XLSX_MAGIC) or name.endswith((".xlsx", ".xlsm")):
        if not data.startswith(XLSX_MAGIC):
            raise DncFileInvalid("file: not a readable .xlsx workbook", field="file")
        return _rows_xlsx(data)
    if name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DncFileInvalid(
            "file: legacy .xls workbooks are not supported; save as .xlsx or .csv", field="file"
        )
    if b"\x00" in data[:4096]:
        raise DncFileInvalid("file: binary content; expected .csv or .xlsx", field="file")
    return _rows_csv(data)


def phone_cells(data: bytes, filename: str | None) -> Iterator[Cell]:
    """The phone cell of every data row; raises DncFileInvalid when no column is found."""
    rows = read_rows(data, filename)
    column: PhoneColumn | None = None
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise DncFileInvalid(f"file: more than {MAX_ROWS} rows", field="file")
        if column is None:
            if not any(c.strip() for c in row):
                continue  # leading blank lines
            column = find_phone_column(row)
            if column is None:
                raise DncFileInvalid(
                    f"file: row {number}: no phone column found; name it Teléfono, Celular, "
                    "Fono, Número or Phone, or upload one number per row without a header",
                    field="file",
                )
            if column.has_header:
                continue
        value = row[column.index] if column.index < len(row) else ""
        if not value.strip() and not any(c.strip() for c in row):
            continue  # blank line
        yield Cell(row=number, column=column.name, value=value)
    if column is None:
        raise DncFileInvalid("file: the file has no rows", field="file")


def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 for a number written in ``region``'s national or any international form, by
    the one normaliser (``kit.phone``); None when it cannot be a callable number."""
    try:
        return phone.e164(raw, region)
    except phone.PhoneInvalid:
        return None


REPORT_ROWS = 1000  # rows listed per kind of problem; the counts are always complete


@dataclass
class ImportPlan:
    """What a do-not-call file holds, read and normalised: the numbers to add (first row
    of each) and what was refused."""

    format: str = "header"
    column: str = ""
    total: int = 0
    row_of: dict[str, int] = field(default_factory=dict)  # E.164 -> first row
    invalid: list[RowProblem] = field(default_factory=list)
    n_invalid: int = 0
    duplicate_rows: list[int] = field(default_factory=list)
    n_dup_in_file: int = 0


def plan_import(data: bytes, filename: str | None, region: str) -> ImportPlan:
    """Read, normalise and dedupe a do-not-call file. Pure and CPU-bound (the service
    runs it in a child process); raises DncFileInvalid / DncFileTooLarge."""
    plan = ImportPlan()
    for cell in phone_cells(data, filename):
        plan.total += 1
        if not plan.column:
            plan.column = cell.column
            plan.format = "no_llame" if cell.column == "A" else "header"
        try:
            e164 = phone.e164(cell.value, region)
        except phone.PhoneInvalid as exc:
            plan.n_invalid += 1
            if len(plan.invalid) < REPORT_ROWS:
                reason_text = "empty" if exc.reason == "empty" else str(exc)
                plan.invalid.append(
                    RowProblem(
                        row=cell.row, column=cell.column, value=cell.value[:64], reason=reason_text
                    )
                )
            continue
        if e164 in plan.row_of:
            plan.n_dup_in_file += 1
            if len(plan.duplicate_rows) < REPORT_ROWS:
                plan.duplicate_rows.append(cell.row)
            continue
        plan.row_of[e164] = cell.row
    if plan.total == 0:
        raise InvalidInput("file: the file has no data rows", field="file")
    return plan


def plan_in_child(data: bytes, filename: str | None, region: str) -> ImportPlan | tuple[str, str]:
    """``plan_import`` for a child process: a refusal comes back as (class name, message)
    (the errors' field would not survive pickling)."""
    try:
        return plan_import(data, filename, region)
    except AppError as exc:
        return (type(exc).__name__, exc.message)
