"""The debtor's place (zone, region, why) is resolved when the file is uploaded and stored
on the job: the preview shows it and the job API has it before any call is due, so the
claim's calling windows and regional holidays read what the operator saw.

Chile: comuna / región columns, else a landline's area code. Argentina: provincia,
else a localidad, else the area code of any number (Argentine mobiles keep theirs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import xlsxwriter  # type: ignore[import-untyped]

from tests.factories import NewAccount
from tests.ingestion.conftest import upload


def _write(path: Path, rows: list[list[Any]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    workbook.close()
    return path


async def _jobs(client: httpx.AsyncClient, batch_id: str) -> dict[str, dict[str, Any]]:
    page = (await client.get(f"/api/v1/batches/{batch_id}/jobs", params={"limit": 50})).json()
    return {j["contact_name"]: j for j in page["items"]}


def _place(item: dict[str, Any]) -> tuple[str | None, str | None]:
    return item["timezone"], item["region"]


async def test_chilean_places_from_columns_and_landlines(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account("CL")
    path = _write(
        tmp_path / "cl.xlsx",
        [
            ["RUT", "Nombre", "Teléfono móvil", "Teléfono Residencial", "Comuna", "Región"],
            ["12.345.678-5", "Ana", "+56 9 8765 4321", "", "Punta Arenas", ""],
            ["11.111.111-1", "Luis", "+56 9 8765 4322", "", "", "Aysén"],
            ["22.222.222-2", "Rosa", "+56 9 8765 4323", "", "Hanga Roa", ""],
            ["33.333.333-3", "Juan", "+56 9 8765 4324", "", "Arica", ""],
            ["44.444.444-4", "Eva", "+56 9 8765 4325", "612 234 567", "", ""],
            ["55.555.555-5", "Pía", "+56 9 8765 4326", "", "", ""],
        ],
    )
    preview = (await upload(client, path, acc, action="preview")).json()
    fields = {c["header"]: c["field"] for c in preview["columns"]}
    assert fields["Comuna"] == "comuna"
    assert fields["Región"] == "region"
    sample = {s["contact_name"]: s for s in preview["sample"]}
    assert _place(sample["Ana"]) == ("America/Punta_Arenas", "MA")

    created = await upload(client, path, acc)
    assert created.status_code == 201, created.text
    jobs = await _jobs(client, created.json()["batch_id"])
    # Before any claim: stored at upload, with the reason.
    assert _place(jobs["Ana"]) == ("America/Punta_Arenas", "MA")
    assert jobs["Ana"]["place_source"] == "comuna 'Punta Arenas'"
    assert _place(jobs["Luis"]) == ("America/Coyhaique", "AI")
    assert _place(jobs["Rosa"]) == ("Pacific/Easter", "VS")
    assert _place(jobs["Juan"]) == ("America/Santiago", "AP")  # regional holiday 7 June
    assert _place(jobs["Eva"]) == ("America/Punta_Arenas", "MA")  # landline area code 61
    assert "area code 61" in jobs["Eva"]["place_source"]
    assert _place(jobs["Pía"]) == (None, None)
    assert jobs["Pía"]["place_source"] == "batch timezone"
    assert jobs["Ana"]["payload"]["comuna"] == "Punta Arenas"  # still there for scripts


async def test_argentine_places_from_province_town_and_area_code(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account("AR")
    path = _write(
        tmp_path / "ar.xlsx",
        [
            ["DNI", "Apellido y Nombre", "Celular", "Localidad", "Provincia"],
            ["20123456", "Gómez Ana", "+54 9 11 2345-6789", "", "Mendoza"],
            ["20123457", "Pérez Luis", "+54 9 11 2345-6790", "Rosario", ""],
            ["20123458", "Díaz Eva", "0351 15 412-3456", "", ""],
            ["20123459", "Ruiz Juan", "+54 9 2901 41-2345", "", ""],
            ["20123460", "Sosa Pía", "011 15 2345-6791", "", ""],
        ],
    )
    created = await upload(client, path, acc)
    assert created.status_code == 201, created.text
    jobs = await _jobs(client, created.json()["batch_id"])
    assert _place(jobs["Gómez Ana"]) == ("America/Argentina/Mendoza", "M")
    assert _place(jobs["Pérez Luis"]) == ("America/Argentina/Buenos_Aires", "S")
    assert jobs["Pérez Luis"]["place_source"] == "ciudad 'Rosario'"
    # No place column: the mobile's area code (351 Córdoba, 2901 Ushuaia).
    assert _place(jobs["Díaz Eva"]) == ("America/Argentina/Cordoba", "X")
    assert "area code 351" in jobs["Díaz Eva"]["place_source"]
    assert _place(jobs["Ruiz Juan"]) == ("America/Argentina/Ushuaia", "V")
    # 11 spans the City and the Province of Buenos Aires: the zone, no region.
    assert _place(jobs["Sosa Pía"]) == ("America/Argentina/Buenos_Aires", None)
