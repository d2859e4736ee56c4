"""The streaming .xlsx reader gives the same rows as python-calamine for the same file.

Files written by the libraries operators' tools resemble (xlsxwriter with shared strings
and with inline strings, openpyxl), and hand-written sheet XML for the forms other
writers use: shared strings with rich runs and phonetic runs, inline strings, dates as
serials under built-in and custom formats, times and elapsed times, the 1904 date
system, booleans, errors, formula results, empty and styled-empty cells, sparse cells
with ``r`` references, cells and rows without them, namespace prefixes, entities and
Excel's ``_xHHHH_`` escapes. calamine's rows start at its range's first column; the
comparison shifts them to the sheet's own columns (what the streaming reader gives) and
drops trailing empty cells (the streaming reader's rows end at their last value).
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
import python_calamine
import xlsxwriter  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.ingestion import parsers, reader, xlsx
from dialer.ingestion.reader import Chunk, Summary, parse_chunks
from dialer.ingestion.rows import RowOptions
from dialer.ingestion.samples import write_real_export_chile

Rows = list[tuple[int, list[object]]]


def _trim(cells: list[object]) -> list[object]:
    cells = list(cells)
    while cells and cells[-1] == "" and type(cells[-1]) is str:
        cells.pop()
    return cells


def calamine_rows(path: Path) -> Rows:
    with path.open("rb") as f:
        workbook = python_calamine.CalamineWorkbook.from_filelike(f)
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue
            sheet = workbook.get_sheet_by_name(meta.name)
            if sheet.height > 0:
                break
        else:
            return []
        shift = [""] * (sheet.start[1] if sheet.start else 0)
        rows = [(i, _trim(shift + list(r))) for i, r in enumerate(sheet.iter_rows(), start=1)]
    while rows and not rows[-1][1]:
        rows.pop()  # calamine's last row can be one of styled empty cells; ours ends before
    return rows


def stream_rows(path: Path) -> Rows:
    sheet = xlsx.open_first_sheet(str(path))
    if sheet is None:
        return []
    with sheet:
        rows = [(n, _trim(cells)) for n, cells in sheet.rows()]
    while rows and not rows[-1][1]:
        rows.pop()  # a last row whose only values are "" (both readers count it a row)
    return rows


def same_as_calamine(path: Path) -> Rows:
    ours = stream_rows(path)
    assert ours == calamine_rows(path)
    return ours


# ------------------------------------------------------------------ hand-written XML

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
STYLES = (
    f'<styleSheet {NS}><numFmts count="4">'
    '<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
    '<numFmt numFmtId="165" formatCode="[h]:mm"/>'
    '<numFmt numFmtId="166" formatCode="#,##0&quot;d&quot;"/>'
    '<numFmt numFmtId="167" formatCode="hh:mm"/></numFmts>'
    '<cellXfs count="7"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/>'
    '<xf numFmtId="165"/><xf numFmtId="166"/><xf numFmtId="167"/><xf numFmtId="22"/>'
    "</cellXfs></styleSheet>"
)


def write_xlsx(
    path: Path,
    sheets: list[tuple[str, str, str]],
    shared: list[str] | None = None,
    *,
    date1904: bool = False,
    prefix: str = "",
) -> Path:
    """A minimal .xlsx: sheets are (name, state, <sheetData> inner XML); shared are raw
    <si> inner XML strings."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS[7:-1]}"' if prefix else NS
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        rels = [
            f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/'
            f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(sheets))
        ]
        rels.append(
            '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/styles" Target="styles.xml"/>'
        )
        if shared is not None:
            rels.append(
                '<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            )
            z.writestr(
                "xl/sharedStrings.xml",
                f'<sst {NS} count="{len(shared)}">'
                + "".join(f"<si>{s}</si>" for s in shared)
                + "</sst>",
            )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels)
            + "</Relationships>",
        )
        entries = "".join(
            f'<sheet name="{name}" sheetId="{i + 1}" state="{state}" r:id="rId{i + 1}"/>'
            for i, (name, state, _) in enumerate(sheets)
        )
        pr = '<workbookPr date1904="1"/>' if date1904 else ""
        z.writestr(
            "xl/workbook.xml", f"<workbook {NS} {RNS}>{pr}<sheets>{entries}</sheets></workbook>"
        )
        z.writestr("xl/styles.xml", STYLES)
        for i, (_, _, data) in enumerate(sheets):
            z.writestr(
                f"xl/worksheets/sheet{i + 1}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet {xmlns}>'
                f'<{p}dimension ref="A1:AB9"/><{p}sheetData>{data}</{p}sheetData>'
                f'<{p}mergeCells count="0"/></{p}worksheet>',
            )
    return path


SHARED = [
    "<t>RUT</t>",
    "<t>Teléfono</t>",
    '<r><rPr><b/><color rgb="FFFF0000"/></rPr><t>Muñoz </t></r><r><t xml:space="preserve">&amp; Cía</t></r>',
    '<t>ヤマダ</t><rPh sb="0" eb="1"><t>やまだ</t></rPh>',
    '<t xml:space="preserve">  con espacios  </t>',
    "<t>  recortado  </t>",
    "<t>línea 1&#10;línea 2_x000D_</t>",
    "<t/>",
]


def test_shared_strings_dates_booleans_errors_sparse(tmp_path: Path) -> None:
    data = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="s"><v>5</v></c>'
        '<c r="C2" t="s"><v>6</v></c><c r="D2" t="s"><v>7</v></c></row>'
        # Dates as serials: custom dd/mm/yyyy, built-in 14, elapsed [h]:mm, a number
        # format with a quoted "d" (not a date), a time, a date-time, serial 59/61.
        '<row r="3"><c r="A3" s="1"><v>45941</v></c><c r="B3" s="2"><v>36526</v></c>'
        '<c r="C3" s="3"><v>1.5</v></c><c r="D3" s="4"><v>12</v></c>'
        '<c r="E3" s="5"><v>0.75</v></c><c r="F3" s="6"><v>45941.5</v></c>'
        '<c r="G3" s="1"><v>59</v></c><c r="H3" s="1"><v>61</v></c></row>'
        # Booleans, an error, a formula's cached results, ISO date text, styled empty.
        '<row r="5"><c r="A5" t="b"><v>1</v></c><c r="B5" t="b"><v>0</v></c>'
        '<c r="C5" t="e"><v>#N/A</v></c><c r="D5" t="str"><f>A1&amp;"x"</f><v>a &lt;b&gt;</v></c>'
        '<c r="E5"><f>1+1</f><v>2</v></c><c r="F5" t="d"><v>2026-03-01</v></c>'
        '<c r="G5" s="1"/><c r="H5"><v></v></c><c r="I5" t="n"><v>-0.5</v></c>'
        '<c r="J5"><v>1E3</v></c></row>'
        # Sparse: far columns, a gap of rows.
        '<row r="8"><c r="Z8"><v>7</v></c><c r="AB8" t="inlineStr"><is><t>lejos</t></is></c></row>'
        '<row r="9" spans="1:3"><c r="B9" s="1"/></row>'
    )
    path = write_xlsx(tmp_path / "a.xlsx", [("Datos", "visible", data)], SHARED)
    rows = same_as_calamine(path)
    by_number = dict(rows)
    assert by_number[1][2] == "Muñoz& Cía"  # the unpreserved run is trimmed, as Excel
    assert by_number[1][3] == "ヤマダ"  # phonetic run left out
    assert by_number[2][:3] == ["  con espacios  ", "recortado", "línea 1\nlínea 2\r"]
    assert by_number[3][:3] == [date(2025, 10, 11), date(2000, 1, 1), timedelta(hours=36)]
    assert by_number[3][4] == time(18, 0)
    assert by_number[3][5] == datetime(2025, 10, 11, 12)
    assert by_number[5][:3] == [True, False, ""]
    assert by_number[4] == []
    assert by_number[6] == []
    assert 9 not in by_number


def test_inline_strings_prefixes_no_references_other_attribute_order(tmp_path: Path) -> None:
    data = (
        '<x:row><x:c t="inlineStr"><x:is><x:t>Nombre</x:t></x:is></x:c>'
        '<x:c t="inlineStr"><x:is><x:t xml:space="preserve"> Fono </x:t></x:is></x:c></x:row>'
        '<x:row><x:c s="0" r="A2" t="inlineStr"><x:is><x:r><x:t>Ana</x:t></x:r>'
        '<x:r><x:t xml:space="preserve"> Díaz</x:t></x:r></x:is></x:c>'
        '<x:c r="C2" t="inlineStr"><x:is><x:t>+56 9 8765 4321</x:t></x:is></x:c></x:row>'
        '<x:row r="4"><x:c><x:v>1</x:v></x:c><x:c/><x:c><x:v>3</x:v></x:c></x:row>'
    )
    path = write_xlsx(tmp_path / "b.xlsx", [("S", "visible", data)], prefix="x")
    rows = same_as_calamine(path)
    assert rows[:2] == [(1, ["Nombre", " Fono "]), (2, ["Ana Díaz", "", "+56 9 8765 4321"])]
    assert rows[3] == (4, [1.0, "", 3.0])


def test_first_visible_sheet_with_data_and_1904_dates(tmp_path: Path) -> None:
    hidden = '<row r="1"><c r="A1" t="inlineStr"><is><t>oculta</t></is></c></row>'
    empty = '<row r="1"><c r="A1" s="1"/></row>'
    data = '<row r="2"><c r="B2" s="1"><v>0</v></c><c r="C2" s="1"><v>45000</v></c></row>'
    path = write_xlsx(
        tmp_path / "c.xlsx",
        [("Oculta", "hidden", hidden), ("Vacía", "visible", empty), ("Datos", "visible", data)],
        date1904=True,
    )
    rows = same_as_calamine(path)
    assert rows == [(1, []), (2, ["", time(0), date(2027, 3, 16)])]  # 1904-01-01 + 45,000


def test_a_damaged_sheet_is_a_clear_file_error(tmp_path: Path) -> None:
    cut = '<row r="1"><c r="A1" t="s"><v>5</v></c></row>'
    path = write_xlsx(tmp_path / "d.xlsx", [("S", "visible", cut)], ["<t>a</t>"])
    with pytest.raises(parsers.FileFormatError, match="shared string 5"):
        parsers.read_all(path)
    negative = '<row r="1"><c r="A1" t="s"><v>-1</v></c></row>'
    path = write_xlsx(tmp_path / "f.xlsx", [("S", "visible", negative)], ["<t>a</t>"])
    with pytest.raises(parsers.FileFormatError, match="shared string -1"):
        parsers.read_all(path)
    bad = '<row r="1"><c r="A1" t="n"><v>doce</v></c></row>'
    path = write_xlsx(tmp_path / "e.xlsx", [("S", "visible", bad)])
    with pytest.raises(parsers.FileFormatError, match="A1: 'doce' is not a number"):
        parsers.read_all(path)


# ------------------------------------------------------------------ written by libraries

TEXT = st.lists(
    st.sampled_from([*"aZ09 ñÁé<>&\"'-_.,;:/\t\n", "_x000D_", "&amp;"]), max_size=8
).map("".join)
CELL = st.one_of(
    st.none(),
    TEXT,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
)
GRID = st.lists(st.lists(CELL, max_size=8), min_size=1, max_size=12)


def _write_xlsxwriter(path: Path, grid: list[list[object]], inline: bool) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": inline})
    sheet = workbook.add_worksheet()
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    workbook.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(grid=GRID, inline=st.booleans())
def test_xlsxwriter_files_read_the_same(
    tmp_path: Path, grid: list[list[object]], inline: bool
) -> None:
    path = tmp_path / "w.xlsx"
    _write_xlsxwriter(path, grid, inline)
    same_as_calamine(path)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(grid=GRID)
def test_openpyxl_files_read_the_same(tmp_path: Path, grid: list[list[object]]) -> None:
    path = tmp_path / "o.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, row in enumerate(grid, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None and not (isinstance(value, str) and value.strip() == ""):
                sheet.cell(row=r, column=c, value=value)
    workbook.save(path)
    same_as_calamine(path)


# ------------------------------------------------------------------ the import pipeline


def _parse(path: Path) -> list[Chunk | Summary]:
    return list(parse_chunks(path, None, None, RowOptions(country="CL", consolidate=True)))


def test_a_real_export_imports_the_same_with_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "export.xlsx"
    write_real_export_chile(path, debtors=300)
    streamed = _parse(path)
    monkeypatch.setattr(parsers, "_open_xlsx", lambda p: parsers._open_calamine(p, "xlsx"))
    whole = _parse(path)
    assert streamed == whole
    summary = streamed[-1]
    assert isinstance(summary, Summary)
    assert summary.merges
    assert not summary.errors
    assert sum(len(c) for c in streamed if isinstance(c, Chunk)) == 300  # one job per debtor


@pytest.mark.parametrize("block", [97, 1 << 20])
def test_columns_without_a_header_are_skipped_and_rows_with_only_them_are_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Small blocks: the rows after the first block are parsed with the mapping known, so
    the column without a header is never read; either way the counts are the same."""
    monkeypatch.setattr(xlsx, "BLOCK_BYTES", block)
    path = tmp_path / "notes.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["RUT", "Nombre", "Teléfono", None, "Monto"])
    sheet.write_row(1, 0, ["12.345.678-5", "Ana", "+56 9 8765 4321", "nota al margen", 1000])
    for r in range(2, 40):
        sheet.write_row(r, 0, ["11.111.111-1", "Luis", f"+56 9 8765 43{r:02d}", None, 2000])
    sheet.write_row(40, 0, [None, None, None, "total de la hoja", None])
    workbook.close()
    seen: list[object] = []
    real_validate = reader.RowValidator.validate

    def spy(self: reader.RowValidator, row_number: int, cells: list[object]) -> object:
        seen.extend(cells)
        return real_validate(self, row_number, cells)

    monkeypatch.setattr(reader.RowValidator, "validate", spy)
    options = RowOptions(country="CL")
    streamed = list(parse_chunks(path, None, None, options))[-1]
    assert isinstance(streamed, Summary)
    assert (streamed.valid, streamed.invalid, streamed.empty_rows, streamed.errors) == (
        39,
        0,
        1,
        [],
    )
    if block < 1000:
        assert "total de la hoja" not in seen  # skipped while parsing
    monkeypatch.setattr(parsers, "_open_xlsx", lambda p: parsers._open_calamine(p, "xlsx"))
    whole = list(parse_chunks(path, None, None, options))[-1]
    assert isinstance(whole, Summary)
    assert (whole.valid, whole.invalid, whole.empty_rows, whole.errors) == (39, 0, 1, [])


@pytest.mark.parametrize("block", [61, 500])
def test_blocks_cut_anywhere_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(xlsx, "BLOCK_BYTES", block)
    path = tmp_path / "export.xlsx"
    write_real_export_chile(path, debtors=40)
    same_as_calamine(path)
