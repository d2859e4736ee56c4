"""Malformed, hostile and huge spreadsheets at the upload endpoints.

A user relies on: a bad file is a clear 4xx naming the file (never a 500), nothing is
half-written, a zip bomb or a million-row sheet is refused before it is read into
memory, and formulas in cells are imported as plain text and come out of the exports
neutralised (no live formula in the operator's Excel).
"""

from __future__ import annotations

import csv
import io
import os
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import xlsxwriter

from dialer.ingestion.parsers import MAX_ZIP_RATIO
from tests.factories import NewAccount
from tests.ingestion.conftest import upload

HEADER = ["Rut", "Nombre", "Telefono", "Monto"]
GOOD = [["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", "150000"]]
SHEET_ROWS = 1_048_576  # Excel's maximum

FORMULAS = [
    '=HYPERLINK("http://evil.example/pagar","Pagar aquí")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
]


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write_string(r, c, value) if isinstance(value, str) else ws.write(r, c, value)
    wb.close()
    return path


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    return path


@pytest.fixture(scope="session")
def million_row_xlsx() -> Path:
    """A 1,048,576-row workbook, written once per machine (constant memory) and cached."""
    folder = Path(tempfile.gettempdir()) / "dialer-test-cache"
    folder.mkdir(exist_ok=True)
    path = folder / f"rows-{SHEET_ROWS}.xlsx"
    if path.exists() and zipfile.is_zipfile(path):
        return path
    tmp = folder / f"rows.{os.getpid()}.partial.xlsx"
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, HEADER)
    for r in range(1, SHEET_ROWS):
        ws.write_number(r, 0, 10_000_000 + r)
        ws.write_number(r, 2, 56_900_000_000 + r)
    wb.close()
    tmp.replace(path)
    return path


def _zip_bomb(path: Path, unpacked_mb: int = 300) -> Path:
    """A structurally valid xlsx whose sheet XML unpacks ~1000:1 (padding whitespace)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b"<worksheet><sheetData><row r='1'><c t='inlineStr'><is><t>")
            chunk = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                sheet.write(chunk)
            sheet.write(b"</t></is></c></row></sheetData></worksheet>")
    return path


async def _nothing_written(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/batches")).json()["total"] == 0


async def _refused(client: httpx.AsyncClient, path: Path, acc: str, statuses: set[int]) -> str:
    for action in ("preview", "create"):
        r = await upload(client, path, acc, action=action)
        assert r.status_code in statuses, (path.name, action, r.status_code, r.text[:300])
        body = r.json()
        assert body["field"] == "file"
        assert body["detail"]
    await _nothing_written(client)
    return str(body["detail"])


async def test_zip_bomb_is_refused_before_reading(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    bomb = _zip_bomb(tmp_path / "cartera.xlsx")
    info = zipfile.ZipFile(bomb).getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size / info.compress_size > MAX_ZIP_RATIO
    detail = await _refused(client, bomb, acc, {413})
    assert "zip bomb" in detail


@pytest.mark.slow
async def test_million_row_sheet_is_refused_by_the_row_limit(
    new_account: NewAccount, million_row_xlsx: Path, tmp_path: Path
) -> None:
    acc, client = await new_account()
    detail = await _refused(client, million_row_xlsx, acc, {413})
    # Refused by the row limit (a streamed count), not by memory or a timeout.
    assert "200,000 rows" in detail
    # The same for a CSV with as many lines.
    big_csv = tmp_path / "cartera.csv"
    big_csv.write_bytes(b"Rut;Telefono\n" + b"12345678-5;+56987654321\n" * SHEET_ROWS)
    assert "200,000 rows" in await _refused(client, big_csv, acc, {413})


async def test_garbage_truncated_and_misnamed_files(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    good = _xlsx(tmp_path / "good.xlsx", [HEADER, *GOOD])
    data = good.read_bytes()
    cases: dict[str, tuple[bytes, set[int]]] = {
        "garbage.xlsx": (random.Random(7).randbytes(200_000), {415, 422}),
        "garbage.csv": (random.Random(8).randbytes(200_000), {415, 422}),
        "truncated.xlsx": (data[: len(data) // 2], {422}),
        "truncated-head.xlsx": (data[:100], {422}),
        "empty.xlsx": (b"", {422}),
        "nul.csv": (b"Rut;Nombre\n12.345.678-5;Ana\x00\x00\n", {415, 422}),
        "report.pdf.ods": (b"%PDF-1.4\n" + b"\x00" * 100, {415}),
        "archive.ods": (_plain_zip(), {422}),
        "html-export.xls": (b"<html><table><tr><td>x</td></tr></table></html>", {422}),
    }
    for name, (content, statuses) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        await _refused(client, path, acc, statuses)


def _plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "not a spreadsheet")
    return buf.getvalue()


async def test_nul_bytes_deep_in_a_csv(new_account: NewAccount, tmp_path: Path) -> None:
    """A NUL past the sniffed head: a clear 4xx or a correct import, never a 500."""
    acc, client = await new_account()
    filler = [[f"{10_000_000 + i}-{i % 10}", f"Fila {i}", "", "1"] for i in range(3000)]
    path = _csv(tmp_path / "cartera.csv", [HEADER, *filler, ["12.345.678-5", "A\x00na", "", "1"]])
    r = await upload(client, path, acc, action="create")
    assert r.status_code in (201, 422), r.text[:300]
    if r.status_code == 422:
        assert r.json()["field"] == "file"
        await _nothing_written(client)


async def test_csv_that_is_an_xls_by_name_imports(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    path = _csv(tmp_path / "cartera.xls", [HEADER, *GOOD])
    r = await upload(client, path, acc, action="create")
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["accepted"] == 1


async def test_extremely_long_cells(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    long_name = "Ñ" * 20_000
    rows = [HEADER, ["12.345.678-5", long_name, "+56987654321", "9" * 5000], *GOOD[:0]]
    rows.append(["5.000.368-K", "Tomás", "+56971924865", "1000"])
    for path in (_xlsx(tmp_path / "long.xlsx", rows), _csv(tmp_path / "long.csv", rows)):
        r = await upload(client, path, acc, action="preview")
        assert r.status_code == 200, r.text[:300]
        r = await upload(client, path, acc, action="create", allow_duplicates="true")
        assert r.status_code in (201, 422), r.text[:300]
    # A single cell past the CSV field limit is a clear 4xx.
    huge = tmp_path / "huge-cell.csv"
    huge.write_text("Rut;Nombre;Telefono\n12.345.678-5;" + "x" * 2_000_000 + ";+56987654321\n")
    r = await upload(client, huge, acc, action="create")
    assert r.status_code in (413, 422), r.text[:300]
    jobs = []
    for b in (await client.get("/api/v1/batches")).json()["items"]:
        jobs += (await client.get(f"/api/v1/batches/{b['batch_id']}/jobs")).json()["items"]
    # Whatever was stored is whole: no name was cut into something else.
    assert all(j["contact_name"] in (long_name, "Tomás") for j in jobs), jobs


async def test_formulas_are_text_in_and_neutralised_out(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    rows = [HEADER] + [
        [f"{20_000_000 + i}-{_dv(20_000_000 + i)}", f, f"+5698765{i:04d}", "1000"]
        for i, f in enumerate(FORMULAS)
    ]
    # An xlsx with real formula cells too: the cached value is read, the formula never run.
    path = tmp_path / "formulas.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)
    ws.write_string(len(rows), 0, "5.000.368-K")
    ws.write_formula(len(rows), 1, '=HYPERLINK("http://evil.example","Pagar")', None, "Pagar")
    ws.write_string(len(rows), 2, "+56971924865")
    ws.write_formula(len(rows), 3, "=1000*2", None, 2000)
    wb.close()

    r = await upload(client, path, acc, action="create")
    assert r.status_code == 201, r.text
    batch_id = r.json()["batch_id"]
    jobs = (await client.get(f"/api/v1/batches/{batch_id}/jobs?limit=100")).json()["items"]
    names = {j["contact_name"] for j in jobs}
    assert set(FORMULAS) <= names  # stored verbatim, as text
    assert "Pagar" in names  # the formula cell's value, not its formula

    exported = (await client.get(f"/api/v1/batches/{batch_id}/export.csv")).content
    cells = [row[2] for row in csv.reader(io.StringIO(exported.decode("utf-8-sig")))][1:]
    for f in FORMULAS:
        assert "'" + f in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)

    xlsx = (await client.get(f"/api/v1/batches/{batch_id}/export.xlsx")).content
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    column = [sheet.cell(row=i, column=3) for i in range(2, sheet.max_row + 1)]
    assert all(c.data_type == "s" for c in column)  # strings, never formula cells
    assert {"'" + f for f in FORMULAS} <= {c.value for c in column}


def _dv(body: int) -> str:
    total, factor = 0, 2
    for d in reversed(str(body)):
        total += int(d) * factor
        factor = 2 if factor == 7 else factor + 1
    return "0123456789K"[(11 - total % 11) % 11]
