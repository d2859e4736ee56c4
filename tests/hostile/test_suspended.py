"""A suspended account cannot work around its suspension, and its batches say so.

A user relies on: once the admin suspends an account, its key can no longer create
batches, import spreadsheets, change provider credentials or subscribe webhooks (a
409 naming the suspension), its waiting batches report ``account_suspended`` at once,
and reads and previews keep working; after activation everything works again.
"""

from __future__ import annotations

import csv
from pathlib import Path

import httpx

from tests.factories import api_account, api_batch, as_key
from tests.ingestion.conftest import upload


def _csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(
            [["Rut", "Nombre", "Telefono"], ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321"]]
        )
    return path


async def _writes(c: httpx.AsyncClient, acc: str, sheet: Path) -> dict[str, httpx.Response]:
    return {
        "create batch": await c.post("/api/v1/batches", json={"account_id": acc, "name": "x"}),
        "upload": await upload(c, sheet, acc, action="create"),
        "provider settings": await c.put(
            f"/api/v1/accounts/{acc}/providers/retell",
            json={"credentials": {"api_key": "key_x"}, "options": {"agent_id": "a"}},
        ),
        "webhook subscription": await c.post(
            f"/api/v1/accounts/{acc}/webhooks",
            json={"url": "https://93.184.216.34/in", "events": ["call.completed"]},
        ),
    }


async def test_suspended_account_writes_are_refused(
    admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    acc = await api_account(admin, account_id="acc-mora", initial_minutes=30)
    waiting = await api_batch(admin, "acc-mora", jobs=2)
    sheet = _csv(tmp_path / "cartera.csv")
    r = await admin.put("/api/v1/accounts/acc-mora/suspend", params={"reason": "mora"})
    assert r.status_code == 200, r.text

    status = (await admin.get(f"/api/v1/batches/{waiting['batch_id']}/status")).json()
    assert status["waiting_reason"] == "account_suspended"

    async with as_key(admin, acc["api_key"]) as c:
        for name, r in (await _writes(c, "acc-mora", sheet)).items():
            assert r.status_code == 409, (name, r.status_code, r.text[:300])
            assert "suspended" in r.json()["detail"], name
        # Reads and a preview (which writes nothing) still work.
        assert (await c.get("/api/v1/batches")).status_code == 200
        assert (await upload(c, sheet, "acc-mora", action="preview")).status_code == 200
    batches = (await admin.get("/api/v1/batches", params={"account_id": "acc-mora"})).json()
    assert batches["total"] == 1  # nothing was created

    assert (await admin.put("/api/v1/accounts/acc-mora/activate")).status_code == 200
    status = (await admin.get(f"/api/v1/batches/{waiting['batch_id']}/status")).json()
    assert status["waiting_reason"] is None
    async with as_key(admin, acc["api_key"]) as c:
        results = await _writes(c, "acc-mora", sheet)
    assert {n: r.status_code for n, r in results.items()} == {
        "create batch": 201,
        "upload": 201,
        "provider settings": 200,
        "webhook subscription": 201,
    }
