"""End to end: a batch pinning a script, dialed by the worker through the simulated
carrier, whose signed webhooks arrive over real HTTP at /api/v1/webhooks/simulated.

Each attempt records the variables the agent was given (rendered from the job for the
pinned script), and the CSV export shows the business result of answered jobs.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.worker.runner import Worker
from tests.factories import ENDS_WITH_LAST_CALL, client_for
from tests.fixtures.waiting import eventually

ALWAYS_OPEN = {
    "allowed_call_hours": {"start": "00:00", "end": "24:00"},
    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
}
TEMPLATE = (
    "Eres agente de {{empresa}}. Llamas a {{nombre}} (RUT {{rut}}) por {{monto}}, "
    "vencida el {{fecha_limite}}. Sucursal: {{sucursal}}."
)


@pytest.fixture
async def live_url(app: Any) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The app fixture already ran the lifespan; uvicorn only serves requests.
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: _started(server), within=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def _started(server: uvicorn.Server) -> bool:
    return server.started


async def run_worker(worker: Worker, client: httpx.AsyncClient, batch_id: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def finished() -> bool:
        r = await client.get(f"/api/v1/batches/{batch_id}")
        return r.json()["status"] == "completed"

    try:
        await eventually(finished, within=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def new_account(admin: httpx.AsyncClient, account_id: str, country: str = "CL") -> str:
    r = await admin.post(
        "/api/v1/accounts",
        json={
            "account_id": account_id,
            "account_name": f"Cobranzas {account_id}",
            "country": country,
            "initial_minutes": 1000,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


JOBS = [
    # (contact, dni, payload, what the agent must be told as "monto")
    ("Ana Pérez", "11111111-1", {"monto": 1234567}, "$1.234.567"),
    ("Bruno Díaz", "22222222-2", {"monto": "2.500.000"}, "$2.500.000"),
    ("Carla Soto", "33333333-3", {"monto": 990.4}, "$990"),
]


async def test_attempts_show_the_rendered_script_variables_and_export_the_result(
    app: Any,
    admin: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    frozen_clock: FrozenClock,
    live_url: str,
) -> None:
    key = await new_account(admin, "acc-e2e")
    async with client_for(app, key) as acme:
        r = await acme.post("/api/v1/scripts", json={"name": "cobranza", "template": TEMPLATE})
        assert r.status_code == 201, r.text
        script = r.json()
        assert script["variables"] == ["empresa", "fecha_limite", "monto", "nombre", "rut", "sucursal"]  # fmt: skip

        jobs = [
            {
                "contact_name": name,
                "dni": dni,
                "phones": [f"+5691234560{i}"],
                "payload": {
                    **extra,
                    "empresa": "Banco Andino",
                    "fecha_limite": "2026-03-31",
                    "sucursal": "Providencia",
                },
            }
            for i, (name, dni, extra, _) in enumerate(JOBS)
        ]
        r = await acme.post(
            "/api/v1/batches",
            json={
                "account_id": "acc-e2e",
                "name": "Marzo",
                "script_id": script["script_id"],
                # Each job ends with its one answered call (no callback or promise
                # follow-up waits): the test reads that call's variables and result.
                "call_settings": {**ALWAYS_OPEN, "collections": ENDS_WITH_LAST_CALL},
                "jobs": jobs,
            },
        )
        assert r.status_code == 201, r.text
        batch = r.json()
        assert batch["jobs_created"] == len(JOBS)

        worker = Worker(
            database,
            settings.model_copy(
                update={
                    "SIM_SPEEDUP": 0,
                    "SIM_OUTCOMES": {"completed": 1.0},
                    "SIM_WEBHOOK_URL": f"{live_url}/api/v1/webhooks/simulated",
                    "POLL_INTERVAL": timedelta(milliseconds=20),
                }
            ),
            clock=frozen_clock,
        )
        await run_worker(worker, acme, batch["batch_id"])

        page = (await acme.get(f"/api/v1/batches/{batch['batch_id']}/jobs")).json()
        assert page["total"] == len(JOBS)
        expected = {name: (dni, monto) for name, dni, _, monto in JOBS}
        results: dict[str, str] = {}
        for item in page["items"]:
            job = (await acme.get(f"/api/v1/jobs/{item['job_id']}")).json()
            [attempt] = job["attempt_history"]
            dni, monto = expected[job["contact_name"]]
            variables = attempt["variables"]
            # Exactly what the pinned script reads, formatted for a Chilean account.
            assert variables["nombre"] == job["contact_name"]
            assert variables["rut"] == dni
            assert variables["monto"] == monto
            assert variables["moneda"] == "CLP"
            assert variables["empresa"] == "Banco Andino"
            assert variables["fecha_limite"] == "31/03/2026"
            assert variables["sucursal"] == "Providencia"
            assert set(script["variables"]) <= set(variables)
            # The call was answered and the agent's result reached the job via the webhook.
            assert attempt["outcome"] == "completed"
            assert attempt["business_result"]
            assert job["business_result"] == attempt["business_result"]
            # The simulated agent speaks from the variables it was given.
            assert job["contact_name"].split()[0] in attempt["transcript"]
            results[job["job_id"]] = job["business_result"]

        r = await acme.get(f"/api/v1/batches/{batch['batch_id']}/export.csv")
        assert r.status_code == 200
        rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert {row["job_id"]: row["business_result"] for row in rows} == results
        assert all(row["last_outcome"] == "completed" for row in rows)


async def test_unpinned_batch_uses_the_existing_default_script_and_argentine_pesos(
    app: Any,
    admin: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    frozen_clock: FrozenClock,
    live_url: str,
) -> None:
    key = await new_account(admin, "acc-ar", country="AR")
    async with client_for(app, key) as acme:
        # The account has its default collection script (fecha_maxima among its variables).
        default = (await acme.get("/api/v1/scripts/default")).json()
        assert "fecha_maxima" in default["variables"]
        r = await acme.post(
            "/api/v1/batches",
            json={
                "account_id": "acc-ar",
                "name": "Sin guion",
                "call_settings": {
                    **ALWAYS_OPEN,
                    "timezone": "America/Argentina/Buenos_Aires",
                    "collections": ENDS_WITH_LAST_CALL,
                },
                "jobs": [
                    {
                        "contact_name": "Diego Gómez",
                        "dni": "30123456",
                        "phones": ["+5491123456789"],
                        "payload": {"monto": "1234567.5", "empresa": "Financiera Sur"},
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        batch = r.json()
        worker = Worker(
            database,
            settings.model_copy(
                update={
                    "SIM_SPEEDUP": 0,
                    "SIM_OUTCOMES": {"completed": 1.0},
                    "SIM_WEBHOOK_URL": f"{live_url}/api/v1/webhooks/simulated",
                    "POLL_INTERVAL": timedelta(milliseconds=20),
                }
            ),
            clock=frozen_clock,
        )
        await run_worker(worker, acme, batch["batch_id"])

        [item] = (await acme.get(f"/api/v1/batches/{batch['batch_id']}/jobs")).json()["items"]
        job = (await acme.get(f"/api/v1/jobs/{item['job_id']}")).json()
        variables = job["attempt_history"][0]["variables"]
        assert variables["monto"] == "$ 1.234.567,50"
        assert variables["moneda"] == "ARS"
        assert variables["nombre"] == "Diego Gómez"
        # Every variable of the default script is sent, even ones the row lacks (blank).
        assert set(default["variables"]) <= set(variables)
        assert variables["fecha_maxima"] == ""
