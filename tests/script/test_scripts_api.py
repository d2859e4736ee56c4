"""Scripts over HTTP: versions, variables, defaults, tenant isolation, batch validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.script.service import ScriptVariableMissing, validate_batch_script
from tests.factories import client_for, make_account, make_key

TEMPLATE = "Hola {{nombre}}, su deuda con {{empresa}} es de {{monto}} al {{fecha_limite}}."


@pytest.fixture
async def acme(app: Any, database: Database) -> httpx.AsyncClient:
    key = await make_key(database, await make_account(database, "acc-acme", minutes=0))
    async with client_for(app, key) as c:
        yield c  # type: ignore[misc]


@pytest.fixture
async def other(app: Any, database: Database) -> httpx.AsyncClient:
    key = await make_key(database, await make_account(database, "acc-other", minutes=0))
    async with client_for(app, key) as c:
        yield c  # type: ignore[misc]


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    payload = {"name": "cobranza", "template": TEMPLATE, **body}
    response = await client.post("/api/v1/scripts", json=payload)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class TestCreateAndVersion:
    async def test_create_declares_variables_from_the_template(
        self, acme: httpx.AsyncClient
    ) -> None:
        script = await create(acme, first_message="¿Hablo con {{nombre}}?")
        assert script["version"] == 1
        assert script["account_id"] == "acc-acme"
        assert script["variables"] == ["empresa", "fecha_limite", "monto", "nombre"]
        got = await acme.get(f"/api/v1/scripts/{script['script_id']}")
        assert got.json() == script

    async def test_new_version_keeps_the_old_one_unchanged(self, acme: httpx.AsyncClient) -> None:
        v1 = await create(acme)
        r = await acme.post(
            f"/api/v1/scripts/{v1['script_id']}/versions",
            json={"template": "Hola {{nombre}}, llamo por {{monto}}. Sucursal {{sucursal}}."},
        )
        assert r.status_code == 201
        v2 = r.json()
        assert v2["version"] == 2
        assert v2["name"] == "cobranza"
        assert v2["script_id"] != v1["script_id"]
        assert v2["variables"] == ["monto", "nombre", "sucursal"]
        # Versioning from any version id appends after the latest.
        v3 = (
            await acme.post(
                f"/api/v1/scripts/{v1['script_id']}/versions", json={"template": "{{nombre}}"}
            )
        ).json()
        assert v3["version"] == 3
        old = (await acme.get(f"/api/v1/scripts/{v1['script_id']}")).json()
        assert old["template"] == TEMPLATE

        latest = (await acme.get("/api/v1/scripts")).json()
        assert [(s["name"], s["version"]) for s in latest["items"]] == [("cobranza", 3)]
        every = (await acme.get("/api/v1/scripts", params={"all_versions": True})).json()
        assert [s["version"] for s in every["items"]] == [3, 2, 1]
        assert every["total"] == 3

    async def test_duplicate_name_is_a_conflict(self, acme: httpx.AsyncClient) -> None:
        await create(acme)
        r = await acme.post("/api/v1/scripts", json={"name": "cobranza", "template": "x"})
        assert r.status_code == 409
        assert r.json()["field"] == "name"

    async def test_bad_template_is_422_naming_the_field_and_line(
        self, acme: httpx.AsyncClient
    ) -> None:
        r = await acme.post("/api/v1/scripts", json={"name": "x", "template": "Hola\n{{ nombre "})
        assert r.status_code == 422
        assert r.json()["field"] == "template"
        assert "line 2" in r.json()["detail"]

    async def test_declared_variables_must_match_the_template(
        self, acme: httpx.AsyncClient
    ) -> None:
        r = await acme.post(
            "/api/v1/scripts",
            json={"name": "x", "template": "Hola {{nombre}} {{monto}}", "variables": ["nombre"]},
        )
        assert r.status_code == 422
        assert "'monto'" in r.json()["detail"]
        assert r.json()["field"] == "variables"

    async def test_admin_must_say_which_account(self, admin: httpx.AsyncClient) -> None:
        r = await admin.post("/api/v1/scripts", json={"name": "x", "template": "hola"})
        assert r.status_code == 422
        assert r.json()["field"] == "account_id"


class TestTenantIsolation:
    async def test_other_accounts_script_is_404_everywhere(
        self, acme: httpx.AsyncClient, other: httpx.AsyncClient
    ) -> None:
        script = await create(acme)
        sid = script["script_id"]
        assert (await other.get(f"/api/v1/scripts/{sid}")).status_code == 404
        r = await other.post(f"/api/v1/scripts/{sid}/versions", json={"template": "x"})
        assert r.status_code == 404
        r = await other.post(f"/api/v1/scripts/{sid}/preview", json={"variables": {}})
        assert r.status_code == 404
        assert (await other.get("/api/v1/scripts")).json()["items"] == []
        r = await other.get("/api/v1/scripts", params={"account_id": "acc-acme"})
        assert r.status_code == 404
        r = await other.post(
            "/api/v1/scripts", json={"account_id": "acc-acme", "name": "x", "template": "x"}
        )
        assert r.status_code == 404


class TestDefaultsAndPreview:
    async def test_default_scripts_are_spanish_and_created_once(
        self, acme: httpx.AsyncClient
    ) -> None:
        first = (await acme.get("/api/v1/scripts/default")).json()
        again = (await acme.get("/api/v1/scripts/default")).json()
        assert first["script_id"] == again["script_id"]
        assert first["processing_type"] == "basic"
        assert "deuda" in first["template"]
        assert {"nombre", "monto", "fecha_limite", "empresa"} <= set(first["variables"])
        acq = (await acme.get("/api/v1/scripts/default?processing_type=acquisition")).json()
        assert acq["processing_type"] == "acquisition"
        assert acq["script_id"] != first["script_id"]

    async def test_preview_renders_and_names_a_missing_variable(
        self, acme: httpx.AsyncClient
    ) -> None:
        script = await create(acme)
        variables = {
            "nombre": "Ana",
            "empresa": "Andes",
            "monto": "$1.234.567",
            "fecha_limite": "15/03/2026",
        }
        r = await acme.post(
            f"/api/v1/scripts/{script['script_id']}/preview", json={"variables": variables}
        )
        assert r.status_code == 200
        assert r.json()["prompt"] == (
            "Hola Ana, su deuda con Andes es de $1.234.567 al 15/03/2026."
        )
        del variables["monto"]
        r = await acme.post(
            f"/api/v1/scripts/{script['script_id']}/preview", json={"variables": variables}
        )
        assert r.status_code == 422
        assert r.json()["field"] == "variables.monto"


class TestValidateBatchScript:
    async def test_rows_missing_a_variable_are_refused_naming_it(
        self, acme: httpx.AsyncClient, database: Database
    ) -> None:
        script = await create(acme)
        async with database.write() as session:
            pinned = await validate_batch_script(
                session,
                account_id="acc-acme",
                script_id=script["script_id"],
                version=None,
                sample_payload_keys=["amount", "company", "fecha_limite"],
            )
            assert pinned.id == script["script_id"]
            with pytest.raises(ScriptVariableMissing) as info:
                await validate_batch_script(
                    session,
                    account_id="acc-acme",
                    script_id=script["script_id"],
                    version=None,
                    sample_payload_keys=["amount", "company"],
                )
        assert info.value.status_code == 422
        assert info.value.field == "script.variables.fecha_limite"
        assert "fecha_limite" in info.value.message

    async def test_version_pin_and_other_accounts_script(
        self, acme: httpx.AsyncClient, other: httpx.AsyncClient, database: Database
    ) -> None:
        v1 = await create(acme)
        await acme.post(f"/api/v1/scripts/{v1['script_id']}/versions", json={"template": "{{x}}"})
        async with database.write() as session:
            pinned = await validate_batch_script(
                session,
                account_id="acc-acme",
                script_id=v1["script_id"],
                version=2,
                sample_payload_keys=["x"],
            )
            assert pinned.version == 2
            with pytest.raises(NotFound):
                await validate_batch_script(
                    session,
                    account_id="acc-other",
                    script_id=v1["script_id"],
                    version=None,
                    sample_payload_keys=[],
                )
            default = await validate_batch_script(
                session,
                account_id="acc-other",
                script_id=None,
                version=None,
                processing_type="acquisition",
                sample_payload_keys=["company"],
            )
            assert default.processing_type == "acquisition"
