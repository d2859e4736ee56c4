"""Stream one worksheet of an .xlsx, row by row, in memory bounded by a block of XML.

A workbook reader that builds the sheet (python-calamine: a dense grid of 32-byte cells
plus every string) holds ~250 MB for a 100,000-row, 45-column portfolio export before
the first row is validated. This reader decompresses the sheet XML a block at a time and
turns each block's cells into rows, so what it holds is the block, the rows of that
block and the shared-string table (which every reader must keep: cells refer to it by
position). Columns the import does not read (``keep_columns``: no header, or ignored by
the mapping) are skipped while parsing.

The values are the ones python-calamine gives for the same file, so the two readers are
interchangeable (tests/ingestion/test_xlsx_stream.py compares them cell by cell): numbers
are floats, a number whose cell style is a date or time format becomes a ``date``
(whole days), ``datetime``, ``time`` (under one day) or ``timedelta`` (elapsed-time
formats such as ``[h]:mm``), booleans are bools, error cells (``#N/A``) and empty cells
are ``""``, text is decoded (XML entities, Excel's ``_xHHHH_`` escapes, line ends
normalised) and trimmed unless ``xml:space="preserve"``. Rows are numbered as a
spreadsheet program shows them and yielded from row 1, a row without values as ``[]``
(only before a row that has some: trailing empty rows end the sheet, as in calamine).
Unlike calamine's, cell positions are the sheet's own columns (A is 0) even when column A
is empty, and a row is only as long as its last value.

Speed: the cells of the forms Excel, LibreOffice and the usual libraries write
(``<c r="B7" s="1" t="s"><v>12</v></c>``) are matched by one regular expression per
block; a block holding anything else (no ``r`` references, other attribute orders,
namespace prefixes, formulas, rich text) is parsed by a general, slower path. The
regular expressions only ever see text inside ``<sheetData>``, cut at element
boundaries, and never expand entities beyond XML's own and character references.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from collections.abc import Collection, Iterator
from datetime import date, datetime, time, timedelta
from typing import IO
from xml.etree import ElementTree

BLOCK_BYTES = 1 << 20  # decompressed sheet XML handled per step

_OTHER, _DATETIME, _TIMEDELTA = 0, 1, 2
# Built-in number formats (ECMA-376 18.8.30) that are dates/times, and the elapsed one.
_BUILTIN_DATETIME = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47})
_BUILTIN_TIMEDELTA = 46
_EPOCH = datetime(1899, 12, 30)
_DATE_MEMO = 20_000  # distinct date cells remembered; then the memo starts over
_DAYS_1900_1904 = 1462
_MS_PER_DAY = 86_400_000

# The usual cell: reference, optional style and type, then a value, inline text, nothing,
# or (last group) any other content for the general path. Possessive quantifiers: no
# part of a cell matches in two ways, so nothing is given back (a sixth less time).
_FAST_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}+)(\d{1,7}+)"(?: s="(\d{1,9}+)")?+(?: t="([a-zA-Z]{1,9}+)")?+'
    rb"(?:><v>([^<]*+)</v></c>|><is><t>([^<]*+)</t></is></c>|/>|></c>|(>.*?</c>))",
    re.S,
)
_ANY = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix
_ROW_OR_CELL = re.compile(
    rb"<" + _ANY + rb"row\b([^>]*?)(/?)>|<" + _ANY + rb"c\b([^>]*?)(?:/>|>(.*?)</" + _ANY + rb"c>)",
    re.S,
)
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_V = re.compile(rb"<" + _ANY + rb"v(?:\s[^>]*)?(?:/>|>(.*?)</" + _ANY + rb"v>)", re.S)
_IS = re.compile(rb"<" + _ANY + rb"is(?:\s[^>]*)?(?:/>|>(.*?)</" + _ANY + rb"is>)", re.S)
_PHONETIC = re.compile(rb"<" + _ANY + rb"rPh\b.*?</" + _ANY + rb"rPh>", re.S)
_T = re.compile(rb"<" + _ANY + rb"t(\s[^>]*)?(?:/>|>(.*?)</" + _ANY + rb"t>)", re.S)
_CDATA = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.S)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_SHEET_DATA = re.compile(rb"<" + _ANY + rb"sheetData\b[^>]*?(/?)>")
_SHEET_DATA_END = re.compile(rb"</" + _ANY + rb"sheetData>")
_ROW_END = re.compile(rb"</" + _ANY + rb"row>")
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?\bref="([^"]*)"')
_SI = re.compile(rb"<" + _ANY + rb"si(?:\s[^>]*)?(?:/>|>(.*?)</" + _ANY + rb"si>)", re.S)
_SI_END = re.compile(rb"</" + _ANY + rb"si>")
_XML_SPACE = re.compile(rb"""xml:space\s*=\s*["']preserve["']""")
_WORKSHEET_TYPE = "/worksheet"


class XlsxError(ValueError):
    """The archive is not a workbook this reader can read (damaged, or not .xlsx)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def column_index(letters: str | bytes) -> int:
    """``A`` -> 0, ``Z`` -> 25, ``AA`` -> 26."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def format_kind(code: str) -> int:
    """Whether a custom number format shows a date/time (1), an elapsed time (2, ``[h]``)
    or something else (0): the first section only, ignoring quoted and escaped text and
    bracketed colours/conditions. The same classification calamine makes."""
    escaped = quoted = ampm = elapsed = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":  # the next character is a literal (or a fill/width)
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return _OTHER
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and elapsed:
            return _TIMEDELTA
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif brackets == 0 and not ampm and ch in "aA":
            ampm = True
        elif brackets == 0 and ampm and ch in "pmPM/":
            return _DATETIME
        elif brackets == 0 and not ampm and ch in "dmhysDMHYS":
            return _DATETIME
        elif not (elapsed and ch.lower() == prev.lower()):
            elapsed = prev == "[" and ch in "mhsMHS"
        prev = ch
    return _OTHER


def excel_datetime(value: float, kind: int, is_1904: bool) -> object:
    """A date-formatted number as python-calamine converts it (the float if out of range)."""
    try:
        if kind == _TIMEDELTA:
            return timedelta(milliseconds=round(value * _MS_PER_DAY))
        serial = value + _DAYS_1900_1904 if is_1904 else value
        if serial < 60:
            serial += 1  # Excel's fictitious 29 February 1900
        moment = _EPOCH + timedelta(milliseconds=round(serial * _MS_PER_DAY))
    except (OverflowError, ValueError):
        return value
    if value < 1.0:
        return moment.time()
    if value == int(value):
        return moment.date()
    return moment


def _text(raw: bytes, *, trim: bool) -> str:
    """XML character data as a string: line ends normalised, entities decoded, Excel's
    ``_xHHHH_`` escapes decoded, trimmed of ASCII whitespace unless preserved."""
    if b"<![CDATA[" in raw:
        raw = _CDATA.sub(lambda m: html.escape(m.group(1).decode("utf-8")).encode(), raw)
    text = raw.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if trim:
        text = text.strip(" \t\r\n")
    if "&" in text:
        text = html.unescape(text)
    if "_x" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _rich_text(inner: bytes) -> str:
    """The text of an ``<si>`` / ``<is>`` element: its ``<t>`` runs joined, phonetic
    (``<rPh>``) runs left out."""
    if b"rPh" in inner:
        inner = _PHONETIC.sub(b"", inner)
    parts = []
    for attrs, body in _T.findall(inner):
        if body:
            parts.append(_text(body, trim=not _XML_SPACE.search(attrs)))
    return "".join(parts)


class XlsxSheet:
    """The rows of one worksheet: ``rows()`` yields ``(row_number, cells)``."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        member: str,
        strings: list[str],
        formats: list[int],
        is_1904: bool,
    ) -> None:
        self._archive = archive
        self._member = member
        self._strings = strings
        # Style index (as written in s="...") -> date/time kind, for the date styles only.
        self._date_styles = {str(i).encode(): k for i, k in enumerate(formats) if k}
        self._date_values: dict[tuple[bytes, bytes], object] = {}
        self._is_1904 = is_1904
        # Column letters -> index, or -1 for a column that is skipped.
        self._columns: dict[bytes, int] = {}
        self._keep: frozenset[int] | None = None
        self._width = 0  # rows are built at this width once the kept columns are known
        self.total_rows: int | None = None
        self._prefixed = False
        # Read in parts (``split``): this reader's rows are those of every n-th block.
        self.block = 0  # the block of the sheet XML the last row came from
        self._part: tuple[int, int] | None = None

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> XlsxSheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keep_columns(self, indices: Collection[int]) -> None:
        """Read only these columns (0-based) from now on; the others are skipped."""
        self._keep = frozenset(indices)
        self._width = max(self._keep, default=-1) + 1
        self._columns.clear()

    def _column(self, letters: bytes) -> int:
        idx = column_index(letters)
        if self._keep is not None and idx not in self._keep:
            idx = -1
        self._columns[letters] = idx
        return idx

    def split(self, part: int, parts: int) -> None:
        """From now on, yield only the rows of the blocks ``part``, ``part + parts``, ...
        (blocks of the sheet XML, the same for every reader of the file); the others'
        rows are not parsed. A row without values (``[]``) is of the block of the next
        row that has some. Every reader of the parts together yields each row of
        ``rows()`` exactly once."""
        self._part = (part, parts)

    def _owns(self) -> bool:
        part = self._part
        return part is None or self.block % part[1] == part[0]

    def rows(self) -> Iterator[tuple[int, list[object]]]:
        expected = 1  # the next row number to yield
        for number, cells in self._value_rows():
            # (A row of another part's block is not yielded, but it is a row: the rows
            # without values before the next one of ours start after it.)
            while expected < number and self._owns():
                yield expected, []
                expected += 1
            if self._owns():
                yield number, cells
            expected = number + 1

    def has_data(self) -> bool:
        """Whether any cell of the sheet has a value (streams until the first one)."""
        return next(iter(self._value_rows()), None) is not None

    def _blocks(self) -> Iterator[bytes]:
        """The XML inside ``<sheetData>``, in blocks that end after a complete row."""
        try:
            with self._archive.open(self._member) as stream:
                tail = b""
                started = False
                while True:
                    chunk = stream.read(BLOCK_BYTES)
                    data = tail + chunk
                    if not started:
                        dim = _DIMENSION.search(data)
                        if dim is not None and self.total_rows is None:
                            self.total_rows = _dimension_rows(dim.group(1))
                        found = _SHEET_DATA.search(data)
                        if found is None:
                            if not chunk:
                                return
                            # Keep the end: the tag may be cut in two.
                            tail = data[-256:]
                            continue
                        if found.group(1):  # <sheetData/>
                            return
                        started = True
                        # Namespace-prefixed elements (<x:c>): the general path only.
                        self._prefixed = not found.group(0).startswith(b"<sheetData")
                        data = data[found.end() :]
                    end = (
                        _SHEET_DATA_END.search(data, max(data.find(b"sheetData>") - 40, 0))
                        if b"sheetData>" in data
                        else None
                    )
                    if end is not None:
                        yield data[: end.start()]
                        return
                    if not chunk:
                        if data.strip():
                            raise XlsxError("the sheet XML ends inside its data (truncated)")
                        return
                    cut = _after_last_end(data, b"row", _ROW_END)
                    if cut <= 0:
                        tail = data  # no complete row yet: read more
                        continue
                    yield data[:cut]
                    tail = data[cut:]
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise XlsxError(f"the sheet could not be decompressed ({exc})") from None

    def _value_rows(self) -> Iterator[tuple[int, list[object]]]:
        """The rows that have at least one cell with a value (``""`` included); of a block
        of another part (``split``), only its last such row, unparsed (``[]``)."""
        for index, block in enumerate(self._blocks()):
            self.block = index
            part = self._part
            if part is not None and index % part[1] != part[0]:
                last = self._last_value_row(block)
                if last is not None:
                    yield last, []
                continue
            rows = None if self._prefixed else self._fast(block)
            if rows is None:
                rows = self._general(block)
            yield from rows

    def _last_value_row(self, block: bytes) -> int | None:
        """The number of the block's last row with a value, parsing as little as possible:
        the rows from the end, one at a time (the whole block when it is not in the usual
        form)."""
        end = len(block)
        while not self._prefixed:
            start = block.rfind(b"<row ", 0, end)
            if start < 0:
                break
            rows = self._fast(block[start:end])
            if rows is None:
                break
            if rows:
                return rows[-1][0]
            end = start
        rows = None if self._prefixed else self._fast(block)
        if rows is None:
            rows = self._general(block)
        return rows[-1][0] if rows else None

    def _fast(self, block: bytes) -> list[tuple[int, list[object]]] | None:
        """The block's rows through the usual-form expression; None when some cell of the
        block has another form (then the general path reads the whole block).

        Every ``<c`` inside ``<sheetData>`` opens a cell (or, rarely, a ``<color>`` of
        rich text), so a count that differs from the matches means another form."""
        matches = _FAST_CELL.findall(block)
        if len(matches) != block.count(b"<c"):
            return None
        # Inline text needs decoding beyond UTF-8 only where it holds an entity, an
        # ``_xHHHH_`` escape or a carriage return: checked once for the whole block
        # (three searches per cell were a fifth of the loop).
        plain = b"&" not in block and b"_x" not in block and b"\r" not in block
        if self._width:
            return self._wide(matches, plain)
        return self._narrow(matches, plain)

    def _wide(
        self, matches: list[tuple[bytes, ...]], plain: bool
    ) -> list[tuple[int, list[object]]]:
        """``_fast``'s rows once the kept columns are known: each row a copy of a blank
        row of that width, each value stored at its column (the loop of the import, two
        million cells for a 45-column export: every step per cell counts)."""
        columns = self._columns
        dates = self._date_styles
        date_values = self._date_values
        strings = self._strings
        n_strings = len(strings)
        blank: list[object] = [""] * self._width
        out: list[tuple[int, list[object]]] = []
        append = out.append
        current = b""
        row = blank
        for letters, number, style, kind, v, inline, other in matches:
            if number != current:
                current = number
                row = blank.copy()
                append((int(number), row))
            idx = columns.get(letters)
            if idx is None:
                idx = self._column(letters)
            if idx < 0:
                continue
            if v:
                if not kind:
                    if style and style in dates:
                        value = date_values.get((style, v))
                        if value is None:
                            value = self._number(v, style, kind, letters + number)
                        row[idx] = value
                    else:
                        try:
                            row[idx] = float(v)
                        except ValueError:
                            row[idx] = _text(v, trim=False)  # calamine: text when untyped
                elif kind == b"s":
                    # _shared, inlined: a position in the table, digits only.
                    if v.isdigit() and (i := int(v)) < n_strings:
                        row[idx] = strings[i]
                    else:
                        row[idx] = self._shared(v, letters + number)
                else:
                    row[idx] = self._typed(kind, v, style, letters + number)
            elif inline:
                if plain or not (b"&" in inline or b"_x" in inline or b"\r" in inline):
                    row[idx] = inline.decode().strip(" \t\n")
                else:
                    row[idx] = _text(inline, trim=True)
            elif other:
                value = self._content(other, style, kind, letters + number)
                if value is not None:
                    row[idx] = value
            # else: no value (a styled empty cell)
        return out

    def _narrow(
        self, matches: list[tuple[bytes, ...]], plain: bool
    ) -> list[tuple[int, list[object]]]:
        """``_fast``'s rows before the kept columns are known (the rows the header is
        looked for in): every column, each row as long as its last value."""
        columns = self._columns
        dates = self._date_styles
        date_values = self._date_values
        strings = self._strings
        n_strings = len(strings)
        out: list[tuple[int, list[object]]] = []
        append = out.append
        current = b""
        row: list[object] = []
        for letters, number, style, kind, v, inline, other in matches:
            if number != current:
                if row:
                    append((int(current), row))
                current = number
                row = []
            idx = columns.get(letters)
            if idx is None:
                idx = self._column(letters)
            if idx < 0:
                continue
            value: object
            if v:
                if kind == b"s":
                    if v.isdigit() and (i := int(v)) < n_strings:
                        value = strings[i]
                    else:
                        value = self._shared(v, letters + number)
                elif not kind:
                    if style and style in dates:
                        value = date_values.get((style, v))
                        if value is None:
                            value = self._number(v, style, kind, letters + number)
                    else:
                        try:
                            value = float(v)
                        except ValueError:
                            value = _text(v, trim=False)  # calamine: text when untyped
                else:
                    value = self._typed(kind, v, style, letters + number)
            elif inline:
                if plain or not (b"&" in inline or b"_x" in inline or b"\r" in inline):
                    value = inline.decode().strip(" \t\n")
                else:
                    value = _text(inline, trim=True)
            elif other:
                value = self._content(other, style, kind, letters + number)
                if value is None:
                    continue
            else:
                continue  # no value (a styled empty cell)
            n = len(row)
            if idx == n:
                row.append(value)
            elif idx > n:
                row.extend([""] * (idx - n))
                row.append(value)
            else:
                row[idx] = value
        if row:
            append((int(current), row))
        return out

    def _number(self, v: bytes, style: bytes, kind: bytes, ref: bytes) -> object:
        """A number cell's value: a float, or a date/time when its style says so."""
        try:
            number_value = float(v)
        except ValueError:
            if kind:
                raise XlsxError(
                    f"cell {ref.decode()}: '{v.decode(errors='replace')}' is not a number"
                ) from None
            return _text(v, trim=False)  # calamine: an untyped value that is not a number
        fmt = self._date_styles.get(style) if style else None
        if not fmt:
            return number_value
        value = excel_datetime(number_value, fmt, self._is_1904)
        if len(self._date_values) >= _DATE_MEMO:
            self._date_values.clear()
        self._date_values[(style, v)] = value
        return value

    def _general(self, block: bytes) -> list[tuple[int, list[object]]]:
        """Any well-formed cell: references optional, any attribute order, prefixes."""
        out: list[tuple[int, list[object]]] = []
        width = self._width
        row_number = 0  # the current row, 1-based (a row without r follows the previous)
        column = 0  # the next cell's column when it has no reference
        row: dict[int, object] = {}

        def flush() -> None:
            if row:
                cells: list[object] = [""] * (width or max(row) + 1)
                for i, val in row.items():
                    cells[i] = val
                out.append((row_number, cells))
                row.clear()

        for m in _ROW_OR_CELL.finditer(block):
            if m.group(3) is None:  # <row ...> or <row/>: a new row
                flush()
                r = _attributes(m.group(1)).get(b"r")
                row_number = int(r) if r and r.isdigit() else row_number + 1
                column = 0
                continue
            attrs = _attributes(m.group(3))
            ref = attrs.get(b"r")
            if ref:
                found = _REF.match(ref)
                if found is None:
                    raise XlsxError(f"a cell has the reference '{ref.decode(errors='replace')}'")
                number = int(found.group(2))
                if number != row_number:
                    flush()
                    row_number = number
                column = column_index(found.group(1))
            elif row_number == 0:
                row_number = 1
            idx = column
            column += 1
            if self._keep is not None and idx not in self._keep:
                continue
            inner = m.group(4)
            if not inner:
                continue
            value = self._content(
                inner,
                attrs.get(b"s", b""),
                attrs.get(b"t", b""),
                f"{_letters(idx)}{row_number}".encode(),
            )
            if value is not None:
                row[idx] = value
        flush()
        return out

    def _content(self, other: bytes, style: bytes, kind: bytes, ref: bytes) -> object | None:
        """The value of a cell from its content (``>...</c>``); None when it has none."""
        if kind in (b"inlineStr", b"is"):
            found = _IS.search(other)
            if found is None:
                return None
            return _rich_text(found.group(1) or b"")
        found = _V.search(other)
        if found is None or not found.group(1):
            return None  # no value (a formula without a cached result, an empty <v/>)
        v = found.group(1)
        if not kind:
            return self._number(v.strip(), style, kind, ref)
        if kind == b"s":
            return self._shared(v.strip(), ref)
        return self._typed(kind, v, style, ref)

    def _typed(self, kind: bytes, v: bytes, style: bytes, ref: bytes) -> object:
        """A ``<v>`` of a cell with a type other than shared string."""
        if kind == b"n":
            return self._number(v, style, kind, ref)
        if kind == b"str":
            return _text(v, trim=False)
        if kind == b"b":
            return v.strip() != b"0"
        if kind in (b"inlineStr", b"is"):
            return ""  # a <v> in an inline-string cell is redundant: it has no text
        if kind == b"e":
            return ""  # an error value (#N/A, #DIV/0!): python-calamine gives ""
        if kind == b"d":
            text = _text(v, trim=True)
            try:
                if "T" in text:
                    return datetime.fromisoformat(text)
                if ":" in text:
                    return time.fromisoformat(text)
                return date.fromisoformat(text)
            except ValueError:
                return text
        raise XlsxError(
            f"cell {ref.decode()} has the unknown type '{kind.decode(errors='replace')}'"
        )

    def _shared(self, v: bytes, ref: bytes) -> str:
        """The shared string a cell refers to by position."""
        if v.isdigit() and int(v) < len(self._strings):
            return self._strings[int(v)]
        raise XlsxError(
            f"cell {ref.decode()} refers to shared string {v.decode(errors='replace')}, "
            "which the workbook does not have"
        )


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    """A tag's attributes by local name (``x:r`` is ``r``)."""
    return {k.rsplit(b":", 1)[-1]: a or b for k, a, b in _ATTR.findall(raw)}


def _letters(index: int) -> str:
    n, out = index + 1, ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _dimension_rows(ref: bytes) -> int | None:
    last = ref.split(b":")[-1]
    m = _REF.match(last.replace(b"$", b""))
    return int(m.group(2)) if m else None


def _after_last_end(data: bytes, name: bytes, end: re.Pattern[bytes]) -> int:
    """The position just after the last end tag ``</name>`` (any prefix) in data, or -1."""
    pos = len(data)
    tail = name + b">"
    while True:
        i = data.rfind(tail, 0, pos)
        if i < 0:
            return -1
        lt = data.rfind(b"<", 0, i)
        if lt >= 0 and end.fullmatch(data, lt, i + len(tail)):
            return i + len(tail)
        pos = i


# ------------------------------------------------------------------ the workbook


def open_first_sheet(source: str | IO[bytes]) -> XlsxSheet | None:
    """The first visible worksheet that has a value, as calamine picks it; None when the
    workbook has none. Raises XlsxError for an archive that is not a readable .xlsx
    (including .xlsb, whose sheets are binary: the caller reads those with calamine)."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(f"the file is not a valid .xlsx workbook ({exc})") from None
    try:
        names = {n.lower(): n for n in archive.namelist()}
        workbook = _workbook_path(archive, names)
        if workbook is None:
            raise XlsxError("the archive has no workbook part (xl/workbook.xml)")
        base = posixpath.dirname(workbook)
        rels = _relationships(
            archive, names, posixpath.join(base, "_rels", posixpath.basename(workbook) + ".rels")
        )
        root = _parse(archive, names[workbook.lower()])
        is_1904 = False
        sheets: list[tuple[str, str]] = []
        for el in root.iter():
            tag = _local(el.tag)
            if tag == "workbookPr":
                is_1904 = el.get("date1904", "").lower() in ("1", "true")
            elif tag == "sheet":
                rid = next(
                    (v for k, v in el.attrib.items() if k.startswith("{") and _local(k) == "id"),
                    None,
                )
                state = el.get("state", "visible")
                target = rels.get(rid or "")
                if target is None or state != "visible":
                    continue
                kind, path = target
                if kind.endswith(_WORKSHEET_TYPE):
                    sheets.append((el.get("name", ""), path))
        formats = _formats(archive, names, rels, base)
        strings: list[str] | None = None
        for _name, path in sheets:
            member = names.get(path.lower())
            if member is None:
                continue
            if strings is None:
                strings = _shared_strings(archive, names, rels, base)
            sheet = XlsxSheet(archive, member, strings, formats, is_1904)
            if sheet.has_data():  # (which also read the sheet's declared dimension)
                return sheet
        archive.close()
        return None
    except XlsxError:
        archive.close()
        raise
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, EOFError, OSError) as exc:
        archive.close()
        raise XlsxError(f"the file is not a valid .xlsx workbook ({exc})") from None


def _workbook_path(archive: zipfile.ZipFile, names: dict[str, str]) -> str | None:
    rels = _relationships(archive, names, "_rels/.rels")
    for kind, path in rels.values():
        if kind.endswith("/officeDocument") and path.lower() in names:
            return names[path.lower()]
    return names.get("xl/workbook.xml")


def _parse(archive: zipfile.ZipFile, member: str) -> ElementTree.Element:
    # Small parts only (workbook, relationships, styles). The standard library's
    # expat refuses external entities and bounds entity expansion.
    with archive.open(member) as stream:
        return ElementTree.parse(stream).getroot()


def _relationships(
    archive: zipfile.ZipFile, names: dict[str, str], part: str
) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part path) of a .rels part ({} when absent)."""
    member = names.get(part.lower())
    if member is None:
        return {}
    base = posixpath.dirname(posixpath.dirname(part))  # the part the .rels belongs to
    out: dict[str, tuple[str, str]] = {}
    for el in _parse(archive, member).iter():
        if _local(el.tag) != "Relationship" or el.get("TargetMode") == "External":
            continue
        target = el.get("Target", "")
        path = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(base, target))
        )
        out[el.get("Id", "")] = (el.get("Type", ""), path)
    return out


def _related(rels: dict[str, tuple[str, str]], suffix: str, default: str) -> str:
    for kind, path in rels.values():
        if kind.endswith(suffix):
            return path
    return default


def _formats(
    archive: zipfile.ZipFile, names: dict[str, str], rels: dict[str, tuple[str, str]], base: str
) -> list[int]:
    """For each cell style (``s``), whether its number format is a date/time/elapsed one."""
    member = names.get(_related(rels, "/styles", posixpath.join(base, "styles.xml")).lower())
    if member is None:
        return []
    root = _parse(archive, member)
    custom: dict[str, int] = {}
    formats: list[int] = []
    for el in root:
        tag = _local(el.tag)
        if tag == "numFmts":
            for fmt in el:
                if _local(fmt.tag) == "numFmt" and fmt.get("numFmtId") is not None:
                    custom[fmt.get("numFmtId", "")] = format_kind(fmt.get("formatCode", ""))
        elif tag == "cellXfs":
            for xf in el:
                if _local(xf.tag) != "xf":
                    continue
                fid = xf.get("numFmtId")
                if fid is None:
                    formats.append(_OTHER)
                elif fid in custom:
                    formats.append(custom[fid])
                elif fid.isdigit() and int(fid) in _BUILTIN_DATETIME:
                    formats.append(_DATETIME)
                elif fid.isdigit() and int(fid) == _BUILTIN_TIMEDELTA:
                    formats.append(_TIMEDELTA)
                else:
                    formats.append(_OTHER)
    return formats


def _shared_strings(
    archive: zipfile.ZipFile, names: dict[str, str], rels: dict[str, tuple[str, str]], base: str
) -> list[str]:
    """The shared-string table, streamed (each ``<si>`` parsed and dropped in turn)."""
    member = names.get(
        _related(rels, "/sharedStrings", posixpath.join(base, "sharedStrings.xml")).lower()
    )
    if member is None:
        return []
    strings: list[str] = []
    with archive.open(member) as stream:
        tail = b""
        while True:
            chunk = stream.read(BLOCK_BYTES)
            data = tail + chunk
            cut = _after_last_end(data, b"si", _SI_END) if chunk else len(data)
            if cut <= 0:
                tail = data
                if not chunk:
                    break
                continue
            for inner in _SI.findall(data, 0, cut):
                strings.append(_rich_text(inner) if inner else "")
            tail = data[cut:]
            if not chunk:
                break
    return strings
