"""Text no database can store is a 422 naming where it is, never a 500.

A user relies on: a lone surrogate (``\\ud800``, valid JSON but not UTF-8) in a job
payload, or a NUL deep inside a CSV (past the 64 KB the format sniffer reads), is
refused with a clear 4xx on SQLite and PostgreSQL, and nothing is created; a paired
surrogate (an emoji written as two escapes) is ordinary text.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.factories import api_account
from tests.ingestion.conftest import upload


async def test_lone_surrogate_in_a_job_is_refused(admin: httpx.AsyncClient) -> None:
    await api_account(admin, account_id="acc-u", initial_minutes=1)
    for job in (
        '{"contact_name": "Ana", "phones": ["+56912345678"], "payload": {"nota": "x\\ud800"}}',
        '{"contact_name": "An\\uDC00a", "phones": ["+56912345678"]}',
    ):
        body = '{"account_id": "acc-u", "name": "b", "jobs": [' + job + "]}"
        r = await admin.post(
            "/api/v1/batches", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"].startswith("jobs.0."), r.text
    assert (await admin.get("/api/v1/batches")).json()["total"] == 0
    emoji = '{"contact_name": "Ana \\ud83d\\ude00", "phones": ["+56912345678"]}'
    r = await admin.post(
        "/api/v1/batches",
        content='{"account_id": "acc-u", "name": "b", "jobs": [' + emoji + "]}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 201, r.text


async def test_nul_past_the_sniffed_head_of_a_csv_is_refused(
    admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    await api_account(admin, account_id="acc-n", initial_minutes=1)
    rows = "".join(f"12.345.678-5;Ana {i};+56912345678\n" for i in range(3000))
    path = tmp_path / "cartera.csv"
    path.write_bytes(("Rut;Nombre;Telefono\n" + rows).encode() + b"1-9;Bad\x00Name;+56912345679\n")
    assert path.stat().st_size > 64 * 1024
    for action in ("preview", "create"):
        r = await upload(admin, path, "acc-n", action=action)
        assert r.status_code == 422, (action, r.text[:300])
        assert "row 3002" in r.json()["detail"]
    assert (await admin.get("/api/v1/batches")).json()["total"] == 0
