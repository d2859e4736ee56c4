"""Checks on an .xlsx/.ods archive before any reader opens it: zip bombs, rows, extent.

A workbook reader builds each sheet as a dense grid from its first to its last cell
(calamine: 32 bytes per cell), so a 1.6 KB file with cells at A1 and XFD200000 asks for
a 200,000 x 16,384 grid (100 GB). The extent is therefore checked before opening: the
sheet's ``<dimension ref>`` and the farthest row and column any cell reference
(``<c r="...">``) or row (``<row r="...">``) names, found while streaming the sheet XML
once in constant memory.

Cheap on real files: the stream is scanned for byte patterns only, and the patterns that
find cell references only match a reference *beyond* the farthest row/column seen so far
(rebuilt when that grows), so a 100,000-row sheet yields a handful of matches instead
of one per cell.

Pure and dependency-free (``kit``): the spreadsheet import and the do-not-call import
both use it.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_UNZIPPED_BYTES = 1 << 30
MAX_ZIP_RATIO = 200  # real xlsx XML compresses 5-30:1; deflate bombs reach ~1000:1
_RATIO_MIN_BYTES = 8 << 20  # tiny parts may compress oddly well and are harmless
# Title rows and the header row may sit above the data: not counted against the limit.
ROW_ALLOWANCE = 31
# Cells of the grid a reader may build for one sheet (calamine: 32 bytes each, so
# ~512 MB); 200,000 rows of 80 columns fit.
MAX_SHEET_CELLS = 16_000_000
_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
# Literal-first patterns (the regex engine then skips ahead with a fast search; a
# leading optional namespace prefix or a word boundary makes it 5-10x slower).
_ROW_TAG = re.compile(rb"<row[\s>/]")
_PREFIXED_ROW_TAG = re.compile(rb"<[A-Za-z_][\w.-]*:row[\s>/]")
_ROW_NUMBER = re.compile(rb'row\s[^>]*?r="(\d+)"')
_DIMENSION = re.compile(_PREFIX + rb'dimension\s[^>]*?\bref="([^"]*)"')
_RANGE_END = re.compile(r"^\$?([A-Za-z]{1,3})?\$?(\d+)?$")
_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class WorkbookTooLarge(ValueError):
    """The file is within the byte limit but unpacks, counts or extends beyond the limits."""


class WorkbookDamaged(ValueError):
    """The archive is not a readable workbook."""


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27, ``XFD`` -> 16,384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(number: int) -> str:
    """The inverse of ``column_number``."""
    out = ""
    while number > 0:
        number, rem = divmod(number - 1, 26)
        out = chr(65 + rem) + out
    return out


def _greater_digits(n: int) -> str:
    """A regex for decimal numbers greater than ``n`` (no leading zeros)."""
    s = str(n)
    alts = [rf"[1-9]\d{{{len(s)},}}"]  # more digits
    for i, ch in enumerate(s):
        d = int(ch)
        if d < 9:
            rest = len(s) - i - 1
            alts.append(re.escape(s[:i]) + f"[{d + 1}-9]" + (rf"\d{{{rest}}}" if rest else ""))
    return "|".join(alts)


def _greater_letters(col: int) -> str:
    """A regex for column letters (1-3 of A-Z) naming a column greater than ``col``."""
    s = column_letters(max(col, 1))
    alts = [f"[A-Z]{{{len(s) + 1},3}}"] if len(s) < 3 else []
    for i, ch in enumerate(s):
        if ch != "Z":
            rest = len(s) - i - 1
            nxt = chr(ord(ch) + 1)
            alts.append(s[:i] + f"[{nxt}-Z]" + (f"[A-Z]{{{rest}}}" if rest else ""))
    return "|".join(alts) or "(?!)"


@dataclass
class SheetExtent:
    """What one sheet's XML claims and contains."""

    name: str
    row_tags: int = 0
    max_row: int = 0  # farthest row named by a <row r> or a cell reference
    max_column: int = 0  # farthest column named by a cell reference (0: none beyond Z)
    far_cell: str | None = None  # the reference that set max_row or max_column
    dimension: str | None = None

    def cells(self) -> int:
        # Columns A-Z need no scan (26 at most): the grid is bounded conservatively.
        return max(self.max_row, self.row_tags) * max(self.max_column, 26)


def _refs_beyond(max_row: int, max_col: int) -> re.Pattern[bytes]:
    pattern = (
        rf'r="(?:({_greater_letters(max_col)})(\d+)|([A-Z]{{1,3}})({_greater_digits(max_row)}))"'
    )
    return re.compile(pattern.encode())


def scan_sheet(stream: IO[bytes], name: str, max_rows: int) -> SheetExtent:
    """Stream one sheet's XML and return its extent; raise WorkbookTooLarge as soon as
    the rows or the grid exceed the limits."""
    ext = SheetExtent(name=name)
    row_limit = max_rows + ROW_ALLOWANCE
    beyond = _refs_beyond(0, 26)
    tail = b""
    first = True
    while True:
        chunk = stream.read(1 << 20)
        data = tail + chunk
        if chunk:
            # Only complete tags are scanned: '<' cannot occur inside a tag of well-formed
            # XML, so nothing before the last '<' is cut in half.
            cut = data.rfind(b"<")
            if cut <= 0 and len(data) < (4 << 20):
                tail = data
                continue
            if cut <= 0:
                cut = len(data)
            part, tail = data[:cut], data[cut:]
        else:
            part, tail = data, b""
        if first:
            first = False
            dim = _DIMENSION.search(part)
            if dim is not None:
                ext.dimension = dim.group(1).decode("ascii", "replace")
                _check_dimension(ext, row_limit)
        ext.row_tags += len(_ROW_TAG.findall(part))
        if b":row" in part:
            ext.row_tags += len(_PREFIXED_ROW_TAG.findall(part))
        rows_before = ext.max_row
        for num in _ROW_NUMBER.findall(part):
            ext.max_row = max(ext.max_row, int(num[:10]))
        ext.max_row = max(ext.max_row, ext.row_tags)
        if ext.max_row != rows_before:
            # Cells of this part's rows are expected, not "beyond": rebuilt first.
            beyond = _refs_beyond(ext.max_row, max(ext.max_column, 26))
        grew = False
        for wide_col, wide_row, col, row in beyond.findall(part):
            letters, digits = (wide_col, wide_row) if wide_col else (col, row)
            c, r = column_number(letters.decode()), int(digits[:10])
            if c > ext.max_column or r > ext.max_row:
                ext.far_cell = (letters + digits[:10]).decode()
            ext.max_column = max(ext.max_column, c)
            ext.max_row = max(ext.max_row, r)
            grew = True
        _check_extent(ext, row_limit, max_rows)
        if grew:
            beyond = _refs_beyond(ext.max_row, max(ext.max_column, 26))
        if not chunk:
            return ext


def _check_dimension(ext: SheetExtent, row_limit: int) -> None:
    assert ext.dimension is not None
    ends = ext.dimension.split(":")
    parsed = [_RANGE_END.match(e.strip()) for e in ends[:2]]
    if not all(parsed):
        return  # an unreadable dimension is ignored by the readers too
    cols = [column_number(m.group(1)) if m.group(1) else 1 for m in parsed if m]
    rows = [int(m.group(2)[:10]) if m.group(2) else 1 for m in parsed if m]
    width = max(cols) - min(cols) + 1
    height = max(rows) - min(rows) + 1
    if height > row_limit and width <= 26:
        raise WorkbookTooLarge(
            f"the file has more than {row_limit - ROW_ALLOWANCE:,} rows, the limit per upload "
            f"(sheet {ext.name!r} spans {ext.dimension}); split it into several batches"
        )
    if height > row_limit or width * height > MAX_SHEET_CELLS:
        raise WorkbookTooLarge(
            f"sheet {ext.name!r} declares the range {ext.dimension} ({height:,} rows x "
            f"{width:,} columns), beyond the {row_limit - ROW_ALLOWANCE:,}-row / "
            f"{MAX_SHEET_CELLS:,}-cell limit; delete the cells far outside the data and "
            "save it again"
        )


def _check_extent(ext: SheetExtent, row_limit: int, max_rows: int) -> None:
    where = f" (the cell {ext.far_cell})" if ext.far_cell else ""
    if max(ext.max_row, ext.row_tags) > row_limit:
        if ext.far_cell is None and ext.max_row <= 2 * ext.row_tags:
            raise WorkbookTooLarge(
                f"the file has more than {max_rows:,} rows, the limit per upload; split it "
                "into several batches"
            )
        raise WorkbookTooLarge(
            f"sheet {ext.name!r} extends to row {ext.max_row:,}{where}, beyond the "
            f"{max_rows:,}-row limit per upload; delete the cells below the data or split "
            "the file"
        )
    if ext.cells() > MAX_SHEET_CELLS:
        raise WorkbookTooLarge(
            f"sheet {ext.name!r} extends to column {column_letters(ext.max_column)} and row "
            f"{max(ext.max_row, ext.row_tags):,}{where}: a grid of more than "
            f"{MAX_SHEET_CELLS:,} cells; delete the cells far outside the data and save it "
            "again"
        )


def check_archive(source: Path | IO[bytes], fmt: str, max_rows: int) -> None:
    """Refuse a zip bomb, a sheet of more than ``max_rows`` rows or a sheet whose extent
    is beyond the limits (WorkbookTooLarge), or a damaged archive (WorkbookDamaged)."""
    damaged = WorkbookDamaged(f"the file is not a valid .{fmt} workbook (damaged or truncated)")
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
                raise WorkbookTooLarge(
                    f"the workbook unpacks to more than {MAX_UNZIPPED_BYTES >> 20} MB"
                )
            for info in infos:
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > _RATIO_MIN_BYTES and ratio > MAX_ZIP_RATIO:
                    raise WorkbookTooLarge(
                        f"the workbook is compressed abnormally ({info.filename} unpacks "
                        f"{ratio:,.0f} times larger); it looks like a zip bomb"
                    )
            if fmt == "xlsx":
                for info in infos:
                    if _WORKSHEET.match(info.filename):
                        with archive.open(info) as stream:
                            scan_sheet(stream, info.filename.rsplit("/", 1)[-1], max_rows)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        if isinstance(exc, WorkbookTooLarge | WorkbookDamaged):
            raise
        raise damaged from None
