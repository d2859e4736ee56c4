"""The replaced system's country use-case routes and its CSV upload, honoured as it did
(``mariandamblena/speechAi`` at e33bdbd: ``app/api.py`` create_*_batch_for_use_case and
upload_jobs_to_batch, ``domain/use_cases/*_processor.py``, ``call_worker._context_from_job``),
through HTTP, the claim, and for the call settings down to the request Retell receives."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import Batch
from dialer.telephony.providers.retell import RetellProvider
from dialer.worker.claim import ClaimedJob, claim_due_jobs
from dialer.worker.runner import Worker
from tests.factories import api_account
from tests.telephony.recorded import Recorder, load, no_sleep

L = "/legacy/api/v1"
# The file's own company column says "Retail Sur"; the form's company_name wins.
CL_CSV = (
    "RUT,Nombre,Telefono,Monto,Fecha Vencimiento,Empresa\n"
    "12345678-5,Ana Pérez,+56987654321,150000,20/03/2026,Retail Sur\n"
)


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, str], csv: str = CL_CSV
) -> httpx.Response:
    files = {"file": ("cartera.csv", csv.encode(), "text/csv")}
    return await client.post(path, data=data, files=files)


async def _claim(database: Database, now: Any) -> list[ClaimedJob]:
    async with database.write() as s:
        return await claim_due_jobs(s, worker_id="w", now=now, limit=10,
                                    lease=timedelta(seconds=60))  # fmt: skip


@pytest.fixture
async def account(admin: httpx.AsyncClient) -> str:
    await api_account(admin, account_id="acc-uc", initial_minutes=60)
    return "acc-uc"


async def test_collections_company_is_empresa_and_three_attempts(
    admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock, account: str
) -> None:
    r = await _post(admin, f"{L}/batches/chile/debt_collection", {
        "account_id": account, "company_name": "Banco Austral",
        "retell_agent_id": "agent_cobranza"})  # fmt: skip
    assert r.status_code == 200, r.text
    bid = r.json()["batch_id"]
    batch = (await admin.get(f"{L}/batches/{bid}")).json()
    # Its defaults: name from use_case.title(), description "Batch chileno para ...".
    assert (batch["name"], batch["description"]) == (
        "Chile Debt_Collection Batch", "Batch chileno para debt_collection")  # fmt: skip
    (job,) = (await admin.get(f"{L}/batches/{bid}/jobs")).json()
    assert job["payload"]["company_name"] == "Banco Austral"
    assert job["max_attempts"] == 3
    (claimed,) = await _claim(database, frozen_clock.now())
    v = claimed.variables or {}
    assert (v["empresa"], v["tipo_llamada"], v["tipo_deuda"]) == (
        "Banco Austral", "cobranza", "consolidated")  # fmt: skip
    assert (v["nombre"], v["RUT"], v["monto_total"]) == ("Ana Pérez", "12345678-5", "150000")
    assert claimed.provider_options["agent_id"] == "agent_cobranza"
    assert "descripcion_oferta" not in v


async def test_marketing_offer_reaches_the_agent_with_two_attempts(
    admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock, account: str
) -> None:
    r = await _post(admin, f"{L}/batches/chile/marketing", {
        "account_id": account, "company_name": "Seguros Andes", "retell_agent_id": "agent_mkt",
        "offer_description": "Seguro de hogar con el primer mes gratis",
        "discount_percentage": "15", "product_category": "seguros"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["use_case"], body["country"], body["stats"]["processing_type"]) == (
        "marketing", "CL", "marketing")  # fmt: skip
    native = (await admin.get(f"/api/v1/batches/{body['batch_id']}")).json()
    assert native["processing_type"] == "acquisition"
    assert native["call_settings"]["retry_settings"]["max_attempts"] == 2
    (claimed,) = await _claim(database, frozen_clock.now())
    v = claimed.variables or {}
    # What the original's worker sent for a marketing job (empty values dropped there).
    assert {k: v[k] for k in (
        "tipo_llamada", "empresa", "descripcion_oferta", "descuento_porcentaje",
        "categoria_producto", "segmento_cliente", "tipo_campana", "llamada_accion",
        "valor_oferta")} == {
        "tipo_llamada": "marketing", "empresa": "Seguros Andes",
        "descripcion_oferta": "Seguro de hogar con el primer mes gratis",
        "descuento_porcentaje": "15", "categoria_producto": "seguros",
        "segmento_cliente": "general", "tipo_campana": "promotional",
        "llamada_accion": "learn_more", "valor_oferta": "0"}  # fmt: skip


async def test_the_originals_validation_stands(admin: httpx.AsyncClient, account: str) -> None:
    base = {"account_id": account, "company_name": "Seguros Andes", "retell_agent_id": "a1"}
    cases = [
        ("argentina/marketing", {**base, "offer_description": ""}, "offer_description"),
        ("chile/marketing", {**base, "offer_description": "2x1", "discount_percentage": "150"},
         "discount_percentage"),
        ("chile/debt_collection", {**base, "retell_agent_id": ""}, "retell_agent_id"),
        ("argentina/debt_collection", {**base, "company_name": " "}, "company_name"),
        ("argentina/lottery", base, "use_case"),
    ]  # fmt: skip
    for route, data, field in cases:
        r = await _post(admin, f"{L}/batches/{route}", data)
        assert r.status_code == 422, (route, r.text)
        assert r.json()["field"] == field, route
    missing = await admin.post(f"{L}/batches/chile/debt_collection", data=base)
    assert missing.status_code == 422  # the file is required
    assert (await admin.get(f"{L}/batches")).json() == []


WORKER_SETTINGS = {
    "allowed_hours": {"start": "00:00", "end": "24:00"},
    "days_of_week": [1, 2, 3, 4, 5, 6, 7],
    "timezone": "America/Santiago",
    "max_attempts": 3,
    "retry_delay_hours": 6,
    "ring_timeout": 25,
    "max_call_duration": 300,
}


async def test_upload_phones_and_call_settings_reach_retell(
    admin: httpx.AsyncClient,
    database: Database,
    frozen_clock: FrozenClock,
    settings: Settings,
    account: str,
) -> None:
    r = await admin.post(f"{L}/batches", json={
        "account_id": account, "name": "Octubre", "call_settings": WORKER_SETTINGS})  # fmt: skip
    bid = r.json()["batch"]["batch_id"]
    # The original split ``telefonos`` on ";" and stripped each number; every one is
    # normalised here (kit/phone.py), duplicates dropped.
    csv = ("nombre,rut,telefonos,monto_deuda,fecha_limite,empresa\n"
           "Marta Rojas,9876543-3,+56932301241; 9 7192 4865 ;+56932301241,45000,2026-04-01,"
           "Retail Sur\n")  # fmt: skip
    up = await admin.post(f"{L}/batches/{bid}/upload",
                          files={"file": ("jobs.csv", csv.encode(), "text/csv")})  # fmt: skip
    assert up.status_code == 200, up.text
    (job,) = (await admin.get(f"{L}/batches/{bid}/jobs")).json()
    assert job["contact"]["phones"] == ["+56932301241", "+56971924865"]
    async with database.read() as s:
        stored = await s.get(Batch, bid)
        assert stored is not None
        assert (stored.call_settings["ring_timeout_s"],
                stored.call_settings["max_call_duration_s"]) == (25, 300)  # fmt: skip

    (claimed,) = await _claim(database, frozen_clock.now())
    worker = Worker(database, settings, clock=frozen_clock)
    # Retell's create-phone-call answer as its API reference documents it (see
    # tests/fixtures/providers/retell/SOURCES.md).
    rec = Recorder(httpx.Response(201, json=load("retell", "create_phone_call_response")))
    retell = RetellProvider(api_key="key_test", client=rec.client(), agent_id="agent_default",
                            from_number="+56229145000", sleep=no_sleep)  # fmt: skip
    await retell.place_call(worker.request_for(claimed, retell))
    sent = json.loads(rec.requests[0].content)
    assert sent["to_number"] == "+56932301241"
    assert sent["agent_override"]["agent"]["ring_duration_ms"] == 25_000
    assert sent["agent_override"]["agent"]["max_call_duration_ms"] == 300_000
    assert sent["retell_llm_dynamic_variables"]["monto_total"] == "45000"
