"""Real files, as spreadsheet software writes them, through the HTTP import API."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import openpyxl
import xlsxwriter

from tests.factories import NewAccount
from tests.ingestion.conftest import libreoffice_convert, upload

HEADER = ["Rut Deudor", "Nombre", "Teléfono 1", "Fono 2", "Monto Deuda", "Fecha Vencimiento"]
GOOD = [
    ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", "", "$1.234.567", "21/03/2026"],
    ["5.000.368-K", "Tomás Muñoz", "9-7192-4865", "22 345 6789", "250000", "05-04-2026"],
]


def write_csv(path: Path, rows: list[list[str]], *, encoding: str, delimiter: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


async def test_semicolon_latin1_csv(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    path = write_csv(tmp_path / "cartera.csv", [HEADER, *GOOD], encoding="latin-1", delimiter=";")
    r = await upload(client, path, acc, action="preview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["file_format"] == "csv"
    assert body["counts"]["accepted"] == 2
    first, second = body["sample"]
    assert first["contact_name"] == "Ana Pérez"  # decoded from Latin-1
    assert first["dni"] == "12345678-5"
    assert first["payload"] == {
        "amount": 1234567, "currency": "CLP", "fecha_vencimiento": "2026-03-21",
        "fecha_limite": "2026-03-21", "cuotas": 1,
        "instalments": [{"amount": 1234567, "due_date": "2026-03-21"}],
    }  # fmt: skip
    assert second["phones"] == ["+56971924865", "+56223456789"]
    assert second["payload"]["fecha_limite"] == "2026-04-05"


async def test_comma_utf8_bom_csv(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    rows = [HEADER, *[[c.replace("$1.234.567", "1234567,50") for c in r] for r in GOOD]]
    path = write_csv(tmp_path / "c.csv", rows, encoding="utf-8-sig", delimiter=",")
    body = (await upload(client, path, acc, action="preview")).json()
    assert body["columns"][0] == {
        "column": 1,
        "header": "Rut Deudor",
        "field": "dni",
        "key": "rut_deudor",
        "landline": False,
    }
    assert body["sample"][0]["payload"]["amount"] == 1234567.5
    assert body["sample"][1]["contact_name"] == "Tomás Muñoz"


async def test_xlsx_from_openpyxl_with_date_cells_and_merged_title(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Asignación Cobranza Marzo"
    ws.merge_cells("A1:F1")
    ws.append([])
    ws.append(HEADER)
    ws.append(["12.345.678-5", "Ana", 56987654321, None, 1234567, datetime(2026, 3, 21)])
    ws.append([])  # empty row in the middle
    ws.append(["12.345.678-9", "Bad Rut", "987654321", None, 1000, 46102])  # wrong check digit
    ws.append(["5.000.368-K", "Bad Phone", "12345", None, 1000, 46102])
    ws.append(["7.654.321-6", "Bad Date", "+56 9 7192 4865", None, 1000, "31/02/2026"])
    ws.append(["9.876.543-3", "Serial Date", "+56 9 3230 1241", None, "$5.000", 46102])
    path = tmp_path / "openpyxl.xlsx"
    wb.save(path)
    r = await upload(client, path, acc, action="create", batch_name="Marzo")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["header_row"] == 3
    assert body["counts"] == {
        "rows": 5, "valid": 2, "invalid": 3, "duplicates": 0, "do_not_call": 0, "skipped": 0,
        "accepted": 2, "empty_rows": 1, "warnings": 0, "debtors": 2,
        "debtors_with_several_cuotas": 0, "merged_rows": 0,
    }  # fmt: skip
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (6, "Rut Deudor"),
        (7, "Teléfono 1"),
        (8, "Fecha Vencimiento"),
    ]
    assert "check digit" in body["errors"][0]["message"]
    jobs = (await client.get(f"/api/v1/batches/{body['batch_id']}/jobs")).json()["items"]
    by_row = {j["row_number"]: j for j in jobs}
    assert by_row[4]["payload"]["fecha_limite"] == "2026-03-21"
    assert by_row[9]["payload"]["fecha_limite"] == "2026-03-21"
    assert by_row[9]["phones"] == ["+56932301241"]


async def test_xlsx_from_xlsxwriter(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    path = tmp_path / "xw.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Hoja1")
    ws.write_row(0, 0, ["RUT", "NOMBRE COMPLETO", "CELULAR", "SALDO", "FECHA LIMITE PAGO"])
    ws.write_row(1, 0, ["12345678-5", "Ana", "987654321", 15000.5])
    ws.write_datetime(1, 4, datetime(2026, 5, 1), wb.add_format({"num_format": "dd/mm/yyyy"}))
    wb.close()
    body = (await upload(client, path, acc, action="preview")).json()
    assert body["sample"][0]["payload"] == {
        "amount": 15000.5,
        "currency": "CLP",
        "fecha_limite": "2026-05-01",
        "cuotas": 1,
        "instalments": [{"amount": 15000.5}],
    }


async def test_libreoffice_converted_files(new_account: NewAccount, tmp_path: Path) -> None:
    """CSV saved by LibreOffice as .xlsx and as .xls (the 'xls as exported' case)."""
    acc, client = await new_account()
    src = write_csv(tmp_path / "lo.csv", [HEADER, *GOOD], encoding="utf-8", delimiter=",")
    # Comma-separated, double quotes, UTF-8 (76): as an operator picks in the import dialog.
    xlsx = libreoffice_convert(src, "xlsx", infilter="CSV:44,34,76")
    xls = libreoffice_convert(src, "xls", infilter="CSV:44,34,76")
    for path, fmt in ((xlsx, "xlsx"), (xls, "xls")):
        body = (await upload(client, path, acc, action="preview")).json()
        assert body["file_format"] == fmt
        assert body["counts"]["accepted"] == 2, body
        assert body["sample"][0]["dni"] == "12345678-5"
        # LibreOffice turns "21/03/2026" into whatever its locale reads; either way a date.
        assert body["sample"][1]["phones"] == ["+56971924865", "+56223456789"]


async def test_argentine_file(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account(country="AR")
    rows = [
        ["DNI/CUIT", "Nombre y Apellido", "Celular", "Importe"],
        ["20-12345678-6", "Juan", "011 15 2345-6789", "$ 150.000,50"],
        ["30.123.456", "Sofía", "351 15 456 7890", "1000"],
    ]
    path = write_csv(tmp_path / "ar.csv", rows, encoding="utf-8", delimiter=";")
    body = (
        await upload(
            client, path, acc, action="preview", column_mapping='{"Nombre y Apellido": "name"}'
        )
    ).json()
    assert body["country"] == "AR"
    a, b = body["sample"]
    assert (a["dni"], a["phones"], a["payload"]["amount"], a["payload"]["currency"]) == (
        "20-12345678-6", ["+5491123456789"], 150000.5, "ARS",
    )  # fmt: skip
    assert (b["dni"], b["phones"], b["contact_name"]) == ("30123456", ["+5493514567890"], "Sofía")


async def test_bad_files_get_clear_4xx(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    cases = {
        "empty.csv": (b"", 422),
        "blank.csv": (b"\n\n  \n", 422),
        "doc.pdf": (b"%PDF-1.7\n\x00\x01binary", 415),
        "image.xlsx": (b"\x89PNG\r\n\x1a\n\x00\x00", 415),
        "broken.xlsx": (b"PK\x03\x04garbage-not-a-zip" * 10, 422),
        "noheader.csv": (b"a;b;c\n1;2;3\n", 422),
    }
    for name, (content, status) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        r = await upload(client, path, acc)
        assert r.status_code == status, (name, r.text)
        assert r.json()["field"] == "file", name
    assert (await client.get("/api/v1/batches")).json()["total"] == 0
