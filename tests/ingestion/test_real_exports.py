"""Real portfolio exports: the 45-column Chilean export (one row per instalment, numeric
RUTs, mixed phone spellings, an always-empty "Fecha de pago") becomes one job per debtor
with its instalments; also once the file went through LibreOffice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from dialer.ingestion.samples import write_real_export_chile
from tests.factories import NewAccount
from tests.ingestion.conftest import libreoffice_convert, upload


async def _jobs(client: httpx.AsyncClient, batch_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = (
            await client.get(
                f"/api/v1/batches/{batch_id}/jobs", params={"limit": 200, "skip": len(items)}
            )
        ).json()
        items += page["items"]
        if len(items) >= page["total"]:
            return items


def _check_debtors(jobs: list[dict[str, Any]], expected: list[dict[str, object]]) -> None:
    by_dni = {j["dni"]: j for j in jobs}
    assert len(jobs) == len(expected)
    for debtor in expected:
        job = by_dni[debtor["dni"]]
        payload = job["payload"]
        assert job["contact_name"] == debtor["name"]
        assert job["phones"] == debtor["phones"], debtor["dni"]
        assert payload["amount"] == debtor["amount"]
        assert payload["currency"] == "CLP"
        assert payload["cuotas"] == debtor["cuotas"]
        assert len(payload["instalments"]) == debtor["cuotas"]
        assert sum(i["amount"] for i in payload["instalments"]) == debtor["amount"]
        assert payload["fecha_vencimiento"] == debtor["due_min"]
        assert payload["dias_retraso"] == debtor["days_late"]
        assert payload["company"] == debtor["company"]
        if debtor["cuotas"] > 1:  # type: ignore[operator]
            assert payload["ultimo_vencimiento"] == debtor["due_max"]
        # Days late are counted to the export date (2026-03-01): latest due + days late
        # + 3 and earliest due + days late + 7 land on the same days for every debtor.
        assert payload["fecha_limite"] == "2026-03-04"
        assert payload["fecha_maxima"] == "2026-03-08"
        # The always-empty "Fecha de pago" is never read as a date.
        assert "fecha_de_pago" not in payload


async def test_real_export_becomes_one_job_per_debtor(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    path = tmp_path / "cartera.xlsx"
    expected = write_real_export_chile(path, debtors=80, several_share=0.4)
    rows = sum(int(d["cuotas"]) for d in expected)  # type: ignore[call-overload]
    several = sum(1 for d in expected if d["cuotas"] != 1)
    assert several > 10

    preview = (await upload(client, path, acc, action="preview")).json()
    fields = {c["header"]: c["field"] for c in preview["columns"]}
    assert fields["RUTS"] == "dni"
    assert fields["Nombre"] == "name"
    assert fields["Saldo actualizado"] == "amount"
    assert fields["Saldo Total"] == fields["Saldo Principal"] == "extra"
    assert fields["FechaVencimiento"] == "fecha_vencimiento"
    assert fields["FechaVencimientoOriginal"] == "extra"
    assert fields["Días de retraso"] == "dias_retraso"
    assert fields["Origen Empresa"] == "company"
    assert fields["Teléfono móvil"] == fields["Teléfono Residencial"] == "phone"
    assert fields["Correo electrónico personal"] == "email"
    assert fields["Cuota"] == "cuota"
    ignored = {i["header"]: i["reason"] for i in preview["ignored_columns"]}
    assert "Fecha de pago" in ignored
    assert "empty" in ignored["Fecha de pago"]
    assert preview["consolidate"] is True
    counts = preview["counts"]
    assert (counts["rows"], counts["invalid"]) == (rows, 0)
    assert counts["debtors"] == counts["accepted"] == len(expected)
    assert counts["debtors_with_several_cuotas"] == several
    assert counts["merged_rows"] == rows - len(expected)
    # Repaired spellings are reported per row, with the column, original and result.
    repaired = [w for w in preview["warnings"] if "trunk prefix 0" in w["message"]]
    assert repaired
    assert all(w["column"] == "Teléfono móvil" for w in repaired)

    r = await upload(client, path, acc)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["counts"] == counts
    _check_debtors(await _jobs(client, body["batch_id"]), expected)
    status = (await client.get(f"/api/v1/batches/{body['batch_id']}/status")).json()
    assert status["total_jobs"] == len(expected)


async def test_consolidation_can_be_turned_off(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    path = tmp_path / "cartera.xlsx"
    expected = write_real_export_chile(path, debtors=30, several_share=0.5, seed=3)
    body = (await upload(client, path, acc, action="preview", consolidate="false")).json()
    several = [d for d in expected if d["cuotas"] != 1]
    # One job per row: later rows of a debtor are duplicates of its first, or errors
    # when they have no phone of their own.
    counts = body["counts"]
    assert counts["accepted"] == len(expected)
    assert counts["duplicates"] + counts["invalid"] == sum(
        int(d["cuotas"]) - 1  # type: ignore[call-overload]
        for d in several
    )
    assert {e["message"] for e in body["errors"]} == {"no phone number"}
    assert body["counts"]["debtors_with_several_cuotas"] == 0
    assert "instalments" not in body["sample"][0]["payload"]


@pytest.mark.parametrize("fmt", ["xls"])
async def test_real_export_saved_by_libreoffice(
    new_account: NewAccount, tmp_path: Path, fmt: str
) -> None:
    acc, client = await new_account()
    src = tmp_path / "export.xlsx"
    expected = write_real_export_chile(src, debtors=25, several_share=0.4, seed=5)
    path = libreoffice_convert(src, fmt)
    r = await upload(client, path, acc)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["file_format"] == fmt
    assert body["counts"]["invalid"] == 0
    _check_debtors(await _jobs(client, body["batch_id"]), expected)
