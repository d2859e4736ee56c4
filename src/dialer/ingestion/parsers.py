"""Readers: a spreadsheet file in, ``(row_number, cells)`` out, one row at a time.

* .xlsx through ``ingestion.xlsx``: the sheet XML is streamed and parsed a block at a
  time, skipping the columns the import does not read (``Sheet.keep_columns``), so
  memory stays bounded whatever the sheet's size (a 100,000-row, 45-column export: the
  whole-sheet reader held ~250 MB).
* .xls / .ods (and .xlsb) through python-calamine (Rust), which builds the whole sheet:
  .xls cannot exceed 65,536 rows, and .ods portfolios are rare and small.
* .csv: encoding sniffed (UTF-8, UTF-8 with BOM, else Windows-1252/Latin-1 as Excel
  writes it in Spanish locales) and delimiter sniffed (``;`` or ``,``, also tab/pipe).

Row numbers are the ones a spreadsheet program shows (1-based, title rows included),
so errors point the operator at the right line. The format is decided by the file's
bytes, not its name: a CSV renamed .xlsx still reads, a PDF renamed .csv is refused.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import python_calamine

from dialer.ingestion import xlsx
from dialer.kit import workbook_guard

Format = Literal["xlsx", "xls", "ods", "csv"]

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7z archive",
}
_SNIFF_BYTES = 64 * 1024
_CSV_DELIMITERS = (";", ",", "\t", "|")

# Zip-bomb, row and extent guards (kit/workbook_guard.py), checked on the archive's
# directory and a streamed pass over the sheet XML before any reader builds the sheet.
MAX_UNZIPPED_BYTES = workbook_guard.MAX_UNZIPPED_BYTES
MAX_ZIP_RATIO = workbook_guard.MAX_ZIP_RATIO
MAX_SHEET_CELLS = workbook_guard.MAX_SHEET_CELLS
ROW_ALLOWANCE = workbook_guard.ROW_ALLOWANCE
# The file is within the byte limit but unpacks, counts or extends beyond what we accept.
UploadLimitError = workbook_guard.WorkbookTooLarge


class FileFormatError(ValueError):
    """The file is not a spreadsheet we can read."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def sniff_format(head: bytes, filename: str | None = None) -> Format:
    """Decide the format from the first bytes (and the name only to tell xlsx from ods)."""
    if not head.strip():
        raise FileFormatError("the file is empty")
    if head.startswith(_ZIP):
        name = (filename or "").lower()
        if name.endswith(".ods") or b"application/vnd.oasis.opendocument" in head[:200]:
            return "ods"
        return "xlsx"
    if head.startswith(_OLE):
        return "xls"
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise FileFormatError(
                f"the file is {what}, not a spreadsheet (use .xlsx, .xls or .csv)",
                unsupported=True,
            )
    if b"\x00" in head:
        raise FileFormatError(
            "the file is binary and not a spreadsheet (use .xlsx, .xls or .csv)",
            unsupported=True,
        )
    return "csv"


def sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else cp1252/latin-1."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        # A full pass is cheap next to parsing and avoids guessing from a prefix that
        # happens to be ASCII while row 90,000 has "Peñalolén" in Latin-1.
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        f.seek(0)
        try:
            while chunk := f.read(1 << 20):
                chunk.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            # cp1252 leaves five bytes undefined; latin-1 maps every byte.
            return "latin-1"


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most consistent, widest rows."""
    lines = [ln for ln in sample.splitlines()[:30] if ln.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the last line of a sample may be cut in half
    best, best_score = ",", -1.0
    for delim in _CSV_DELIMITERS:
        widths = [len(r) for r in csv.reader(lines, delimiter=delim)]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        # Title rows may have fewer cells, so agreement counts, not unanimity.
        score = widths.count(common) / len(widths) * 1000 + common
        if score > best_score:
            best, best_score = delim, score
    return best


@dataclass
class Sheet:
    """An open sheet: ``rows()`` yields ``(row_number, cells)``; ``total_rows`` for progress."""

    format: Format
    total_rows: int | None
    _iter: Iterator[tuple[int, list[object]]]
    _handle: IO[bytes] | IO[str] | xlsx.XlsxSheet | None = None
    _keep: Callable[[Collection[int]], None] | None = None
    _xlsx: xlsx.XlsxSheet | None = None  # a streamed sheet, which can be read in parts

    def rows(self) -> Iterator[tuple[int, list[object]]]:
        return self._iter

    def keep_columns(self, indices: Collection[int]) -> None:
        """Only these columns (0-based) are read from now on: a streaming reader skips the
        others while parsing; the others ignore the hint (their cells are just unread)."""
        if self._keep is not None:
            self._keep(indices)

    def split(self, part: int, parts: int) -> bool:
        """Read only part ``part`` of ``parts`` of the rows from now on
        (``xlsx.XlsxSheet.split``); False when this sheet cannot be read in parts."""
        if self._xlsx is None:
            return False
        self._xlsx.split(part, parts)
        return True

    def block(self) -> int:
        """The part of the file the last row came from (see ``split``)."""
        return self._xlsx.block if self._xlsx is not None else 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sheet(path: Path, filename: str | None = None) -> Sheet:
    """Open the first worksheet with data (or the CSV) for row-by-row reading."""
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    fmt = sniff_format(head, filename or path.name)
    if fmt == "csv":
        return _open_csv(path)
    return _open_workbook(path, fmt)


def _open_workbook(path: Path, fmt: Format) -> Sheet:
    if fmt == "xlsx" and not is_xlsb(path):
        return _open_xlsx(path)
    return _open_calamine(path, fmt)


def _open_calamine(path: Path, fmt: Format) -> Sheet:
    handle = path.open("rb")
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(handle)
        sheet = None
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue
            candidate = workbook.get_sheet_by_name(meta.name)
            if candidate.height > 0:
                sheet = candidate
                break
    except FileFormatError:
        handle.close()
        raise
    except Exception as exc:  # calamine raises several unrelated types for corrupt files
        handle.close()
        raise FileFormatError(f"the file could not be read as {fmt}: {exc}") from None
    if sheet is None:
        handle.close()
        raise FileFormatError("the workbook has no worksheet with data")

    def rows() -> Iterator[tuple[int, list[object]]]:
        # iter_rows starts at the sheet's first row (row 1), so position = row number.
        yield from enumerate(sheet.iter_rows(), start=1)

    end = sheet.end
    total = end[0] + 1 if end else 0
    return Sheet(format=fmt, total_rows=total, _iter=rows(), _handle=handle)


def is_xlsb(path: Path) -> bool:
    """An .xlsb (binary sheets in the zip): calamine reads those."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith("workbook.bin") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False  # the xlsx reader reports the damage


def _open_xlsx(path: Path) -> Sheet:
    try:
        sheet = xlsx.open_first_sheet(str(path))
    except xlsx.XlsxError as exc:
        raise FileFormatError(f"the file could not be read as xlsx: {exc}") from None
    if sheet is None:
        raise FileFormatError("the workbook has no worksheet with data")

    def rows() -> Iterator[tuple[int, list[object]]]:
        try:
            yield from sheet.rows()
        except xlsx.XlsxError as exc:
            raise FileFormatError(f"the file could not be read as xlsx: {exc}") from None

    return Sheet(
        format="xlsx",
        total_rows=sheet.total_rows,
        _iter=rows(),
        _handle=sheet,
        _keep=sheet.keep_columns,
        _xlsx=sheet,
    )


def _open_csv(path: Path) -> Sheet:
    encoding = sniff_encoding(path)
    handle = path.open("r", encoding=encoding, newline="")
    sample = handle.read(_SNIFF_BYTES)
    handle.seek(0)
    if not sample.strip():
        handle.close()
        raise FileFormatError("the file is empty")
    delimiter = sniff_delimiter(sample)
    # Progress total: newlines are a close, cheap estimate of the record count.
    with path.open("rb") as f:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) + 1

    def rows() -> Iterator[tuple[int, list[object]]]:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for i, cells in enumerate(reader, start=1):
                row: list[object] = [c.strip() for c in cells]
                if any("\x00" in c for c in cells):  # PostgreSQL text cannot hold it
                    raise FileFormatError(f"row {i}: the CSV file contains a NUL character")
                yield i, row
        except csv.Error as exc:
            raise FileFormatError(f"the CSV file is malformed: {exc}") from None

    return Sheet(format="csv", total_rows=total, _iter=rows(), _handle=handle)


def check_limits(path: Path, filename: str | None, max_rows: int) -> Format:
    """Refuse, before reading, a file that is not a spreadsheet (FileFormatError), or one
    that decompresses abnormally or has more than ``max_rows`` rows (UploadLimitError).

    Constant memory: the archive directory is inspected and the sheet XML (or the CSV)
    is streamed once, stopping as soon as a limit is crossed.
    """
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    fmt = sniff_format(head, filename or path.name)
    if fmt in ("xlsx", "ods"):
        _check_archive(path, fmt, max_rows)
    elif fmt == "csv":
        _check_csv_rows(path, max_rows)
    # .xls (BIFF) cannot hold more than 65,536 rows and is not compressed.
    return fmt


def _too_many_rows(max_rows: int) -> UploadLimitError:
    return UploadLimitError(
        f"the file has more than {max_rows:,} rows, the limit per upload; split it into "
        "several batches"
    )


def _check_csv_rows(path: Path, max_rows: int) -> None:
    # Newlines bound the record count from above (quoted cells may hold newlines, which
    # only errs towards counting more); cheap and never holds more than a chunk.
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            if lines > max_rows + ROW_ALLOWANCE:
                raise _too_many_rows(max_rows)


def _check_archive(path: Path | IO[bytes], fmt: Format, max_rows: int) -> None:
    try:
        workbook_guard.check_archive(path, fmt, max_rows)
    except workbook_guard.WorkbookDamaged as exc:
        raise FileFormatError(str(exc)) from None


def read_all(path: Path) -> list[list[object]]:
    """Every row of a file (tests and small files only)."""
    with open_sheet(path) as sheet:
        return [cells for _, cells in sheet.rows()]
