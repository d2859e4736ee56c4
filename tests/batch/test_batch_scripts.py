"""A batch pins a script version, and refuses one whose variables its contacts cannot fill."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import api_account, as_key, job_bodies

TEMPLATE = "Hola {{nombre}}, su deuda de {{monto}} con {{empresa}} vence el {{fecha_limite}}."


async def _setup(admin: httpx.AsyncClient) -> tuple[str, httpx.AsyncClient]:
    acc = await api_account(admin)
    return acc["account_id"], as_key(admin, acc["api_key"])


def _jobs(**payload: Any) -> list[dict[str, Any]]:
    rows = job_bodies(2)
    for r in rows:
        r["payload"] = {"monto": 150000, **payload}
    return rows


async def test_missing_variable_is_a_422_naming_it(admin: httpx.AsyncClient) -> None:
    account_id, client = await _setup(admin)
    async with client:
        script = (
            await client.post("/api/v1/scripts", json={"name": "c", "template": TEMPLATE})
        ).json()
        r = await client.post(
            "/api/v1/batches",
            json={
                "account_id": account_id,
                "name": "x",
                "script_id": script["script_id"],
                "jobs": _jobs(),
            },
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert "empresa" in body["detail"]
        assert body["field"] == "script.variables.empresa"
        listed = (await client.get("/api/v1/batches")).json()
        assert listed["total"] == 0  # nothing half-created


async def test_batch_pins_the_requested_version(admin: httpx.AsyncClient) -> None:
    account_id, client = await _setup(admin)
    async with client:
        v1 = (await client.post("/api/v1/scripts", json={"name": "c", "template": TEMPLATE})).json()
        v2 = (
            await client.post(
                f"/api/v1/scripts/{v1['script_id']}/versions", json={"template": "Hola {{nombre}}."}
            )
        ).json()
        r = await client.post(
            "/api/v1/batches",
            json={
                "account_id": account_id,
                "name": "x",
                "script_id": v1["script_id"],
                "script_version": 2,
                "provider": "simulated",
                "jobs": _jobs(),
            },
        )
        assert r.status_code == 201, r.text
        batch = r.json()
        assert (batch["script_id"], batch["script_version"]) == (v2["script_id"], 2)

        ok = await client.post(
            "/api/v1/batches",
            json={
                "account_id": account_id,
                "name": "y",
                "script_id": v1["script_id"],
                "jobs": _jobs(empresa="ACME", fecha_limite="2026-12-01"),
            },
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["script_version"] == 1


async def test_unknown_script_version_is_rejected(admin: httpx.AsyncClient) -> None:
    account_id, client = await _setup(admin)
    async with client:
        v1 = (
            await client.post("/api/v1/scripts", json={"name": "c", "template": "Hola {{nombre}}"})
        ).json()
        r = await client.post(
            "/api/v1/batches",
            json={
                "account_id": account_id,
                "name": "x",
                "script_id": v1["script_id"],
                "script_version": 9,
            },
        )
        assert r.status_code == 404
        assert r.json()["field"] == "script_version"
