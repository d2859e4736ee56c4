"""Adding a file's contacts to an existing batch: same validation, duplicates (the
batch's own contacts included), do-not-call and report as create; final batches refuse."""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.factories import NewAccount
from tests.ingestion.conftest import upload

HEAD = ["RUT", "Nombre", "Celular", "Saldo", "Vencimiento"]


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    return path


async def append(
    client: httpx.AsyncClient, batch_id: str, path: Path, **fields: Any
) -> httpx.Response:
    with path.open("rb") as f:
        return await client.post(
            f"/api/v1/batches/{batch_id}/upload",
            data={k: str(v) for k, v in fields.items()},
            files={"file": (path.name, f.read(), "text/csv")},
        )


async def test_upload_appends_with_the_same_rules(
    new_account: NewAccount, tmp_path: Path, add_dnc: Callable[..., Awaitable[None]]
) -> None:
    acc, client = await new_account()
    first = write_csv(tmp_path / "a.csv", [
        HEAD,
        ["12.345.678-5", "Ana", "987654321", "1000", "01/04/2026"],
        ["7.654.321-6", "Rosa", "932301241", "2000", "01/04/2026"],
    ])  # fmt: skip
    created = (await upload(client, first, acc)).json()
    batch_id = created["batch_id"]
    await add_dnc(acc, "+56981733095")
    second = write_csv(tmp_path / "b.csv", [
        HEAD,
        ["12.345.678-5", "Ana", "987654321", "500", "01/05/2026"],  # already in the batch
        ["11.111.111-1", "Nuevo", "09 7192 4865", "3000", "01/05/2026"],  # trunk 0: repaired
        ["11.111.111-1", "Nuevo", "", "4000", "01/06/2026"],  # a second cuota
        ["9.876.543-3", "Listado", "981733095", "1000", "01/05/2026"],  # do-not-call
        ["5.000.368-K", "Malo", "12345", "1000", "01/05/2026"],  # bad phone
    ])  # fmt: skip
    r = await append(client, batch_id, second)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["batch_id"] == batch_id
    assert body["accepted"] == 1
    assert body["total_jobs"] == 3
    counts = body["counts"]
    assert (counts["duplicates"], counts["do_not_call"], counts["invalid"]) == (1, 1, 1)
    assert counts["debtors_with_several_cuotas"] == 1
    assert [s["reason"] for s in body["skipped"]] == ["duplicate_in_active_batch", "do_not_call"]
    assert any("trunk prefix 0" in w["message"] and w["row"] == 3 for w in body["warnings"])
    status = (await client.get(f"/api/v1/batches/{batch_id}/status")).json()
    assert (status["total_jobs"], status["pending_jobs"]) == (3, 3)
    jobs = (await client.get(f"/api/v1/batches/{batch_id}/jobs")).json()["items"]
    new = next(j for j in jobs if j["dni"] == "11111111-1")
    assert new["phones"] == ["+56971924865"]
    assert (new["payload"]["amount"], new["payload"]["cuotas"]) == (7000, 2)


async def test_nothing_is_added_when_no_row_can_be(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    first = write_csv(
        tmp_path / "a.csv", [HEAD, ["12.345.678-5", "Ana", "987654321", "1", "01/04/2026"]]
    )
    batch_id = (await upload(client, first, acc)).json()["batch_id"]
    bad = write_csv(tmp_path / "b.csv", [HEAD, ["5.000.368-K", "Malo", "12345", "1", "01/04/2026"]])
    r = await append(client, batch_id, bad)
    assert r.status_code == 422
    assert r.json()["report"]["errors"][0]["column"] == "Celular"
    assert (await client.get(f"/api/v1/batches/{batch_id}/status")).json()["total_jobs"] == 1


async def test_final_and_foreign_batches_refuse(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    _, other = await new_account()
    path = write_csv(
        tmp_path / "a.csv", [HEAD, ["12.345.678-5", "Ana", "987654321", "1", "01/04/2026"]]
    )
    batch_id = (await upload(client, path, acc)).json()["batch_id"]
    more = write_csv(
        tmp_path / "b.csv", [HEAD, ["7.654.321-6", "Rosa", "932301241", "1", "01/04/2026"]]
    )
    assert (await append(other, batch_id, more)).status_code == 404
    assert (await client.post(f"/api/v1/batches/{batch_id}/cancel")).status_code == 200
    r = await append(client, batch_id, more)
    assert r.status_code == 409
    assert "cancelled" in r.json()["detail"]
