"""The ``legacy`` agent variable set (the replaced system's names and value formats),
chosen per batch or per script and sent at dial time; promise-to-pay answers read from
Retell's ``collected_dynamic_variables`` as its agents left them."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.script.render import job_variables, plain_number
from dialer.telephony.providers.retell import analysis_fields, event_from_call
from dialer.worker.claim import claim_due_jobs
from tests.factories import api_account
from tests.telephony.recorded import business, load

PAYLOAD = {
    "monto": 1234567.0, "fecha_limite": "20/03/2026", "fecha_maxima": "2026-03-25",
    "empresa": "Retail Sur", "cantidad_cupones": 3, "dias_mora": 42,
}  # fmt: skip
LEGACY = ("nombre", "RUT", "empresa", "monto_total", "cantidad_cupones", "cuotas_adeudadas",
          "fecha_limite", "fecha_maxima", "dias_vencidos", "tipo_llamada",
          "current_time_America/Santiago")  # fmt: skip


class TestValues:
    def test_names_and_original_formats(self) -> None:
        now = datetime(2026, 3, 2, 15, 0, tzinfo=ZoneInfo("UTC")).astimezone(
            ZoneInfo("America/Santiago")
        )
        v = job_variables(contact_name="María Pérez", dni="12345678-5", payload=PAYLOAD,
                          variable_set="legacy", now=now)  # fmt: skip
        assert set(LEGACY) <= set(v)
        assert (v["nombre"], v["RUT"], v["empresa"]) == ("María Pérez", "12345678-5", "Retail Sur")
        assert (v["monto_total"], v["cantidad_cupones"], v["cuotas_adeudadas"]) == (
            "1234567", "3", "3")  # fmt: skip
        assert (v["fecha_limite"], v["fecha_maxima"]) == ("2026-03-20", "2026-03-25")
        assert (v["dias_vencidos"], v["tipo_llamada"]) == ("42", "cobranza")
        # Noon in Santiago (UTC-3 in March), in the original's display format.
        assert v["current_time_America/Santiago"] == "Monday, March 02, 2026 at 12:00:00 PM -03"
        assert v["current_time_America_Santiago"] == v["current_time_America/Santiago"]
        # The standard set is unchanged by default.
        std = job_variables(contact_name="María Pérez", dni="12345678-5", payload=PAYLOAD)
        assert "RUT" not in std
        assert std["fecha_limite"] == "20/03/2026"

    @pytest.mark.parametrize(
        ("raw", "shown"),
        [(150000, "150000"), (1234.5, "1234.5"), ("$1.234.567", "1234567"), ("99,90", "99.9")],
    )
    def test_plain_number(self, raw: Any, shown: str) -> None:
        assert plain_number(raw) == shown

    def test_acquisition_is_marketing(self) -> None:
        v = job_variables(contact_name="A", dni=None, payload={}, variable_set="legacy",
                          processing_type="acquisition", now=datetime.now().astimezone())  # fmt: skip
        assert (v["tipo_llamada"], v["dias_vencidos"]) == ("marketing", "0")


async def _claimed_variables(database: Database, now: datetime) -> dict[str, str]:
    async with database.write() as s:
        (job,) = await claim_due_jobs(s, worker_id="w", now=now, limit=5,
                                      lease=timedelta(seconds=60))  # fmt: skip
    assert job.variables is not None
    return job.variables


ALWAYS = {"allowed_call_hours": {"start": "00:00", "end": "24:00"},
          "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
          "timezone": "America/Argentina/Buenos_Aires"}  # fmt: skip
JOB = {"contact_name": "Ana", "dni": "12345678-5", "phones": ["+56987654321"], "payload": PAYLOAD}


class TestSelected:
    async def test_per_batch(
        self, admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
    ) -> None:
        await api_account(admin, account_id="acc-vars", initial_minutes=60)
        r = await admin.post("/api/v1/batches", json={
            "account_id": "acc-vars", "name": "Legacy", "variable_set": "legacy",
            "call_settings": ALWAYS, "jobs": [JOB]})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["variable_set"] == "legacy"
        v = await _claimed_variables(database, frozen_clock.now())
        assert (v["RUT"], v["monto_total"], v["fecha_limite"]) == ("12345678-5", "1234567",
                                                                    "2026-03-20")  # fmt: skip
        # The batch's timezone (Buenos Aires, UTC-3): 15:00 UTC is noon there.
        assert v["current_time_America/Santiago"].endswith("12:00:00 PM -03")
        bad = await admin.post("/api/v1/batches", json={
            "account_id": "acc-vars", "name": "X", "variable_set": "old"})  # fmt: skip
        assert bad.status_code == 422

    async def test_per_script(
        self, admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
    ) -> None:
        await api_account(admin, account_id="acc-vars", initial_minutes=60)
        s = await admin.post("/api/v1/scripts", json={
            "account_id": "acc-vars", "name": "Agente antiguo", "variable_set": "legacy",
            "template": "Hola {{nombre}}, su deuda es {{monto_total}} ({{cuotas_adeudadas}} cuotas)",
        })  # fmt: skip
        assert s.status_code == 201, s.text
        assert s.json()["variable_set"] == "legacy"
        r = await admin.post("/api/v1/batches", json={
            "account_id": "acc-vars", "name": "Por guion", "script_id": s.json()["script_id"],
            "call_settings": ALWAYS, "jobs": [JOB]})  # fmt: skip
        # The script's legacy names count as provided: the batch is accepted.
        assert r.status_code == 201, r.text
        assert r.json()["variable_set"] is None
        v = await _claimed_variables(database, frozen_clock.now())
        assert (v["monto_total"], v["cuotas_adeudadas"]) == ("1234567", "3")


def _call_with_collected(collected: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    call = dict(load("retell", "webhook_call_analyzed")["call"])
    call["call_analysis"] = {**call["call_analysis"], "custom_analysis_data": custom}
    call["collected_dynamic_variables"] = collected
    return call


class TestCollectedPromise:
    # Retell's call object carries collected_dynamic_variables (docs.retellai.com, Get Call
    # response); the replaced system's agents set fecha_pago_cliente / monto_pago_cliente.
    # The adapter passes them as reported; the outcome parser reads the promise.
    def test_promise_from_collected_variables(self) -> None:
        call = _call_with_collected(
            {"fecha_pago_cliente": "2026-03-15", "monto_pago_cliente": "50000"}, {}
        )
        extracted = analysis_fields(call)
        assert extracted["collected_dynamic_variables"]["fecha_pago_cliente"] == "2026-03-15"
        result = business(event_from_call("call_analyzed", call))
        assert result.kind == "promise_to_pay"
        assert (result.promise.date, result.promise.amount) == (date(2026, 3, 15), 50000)

    def test_analysis_data_wins(self) -> None:
        call = _call_with_collected(
            {"fecha_pago_cliente": "2026-03-15", "monto_pago_cliente": "50000"},
            {"fecha_promesa": "20/03/2026", "monto_promesa": "$60.000"},
        )
        result = business(event_from_call("call_analyzed", call))
        assert (result.promise.date, result.promise.amount) == (date(2026, 3, 20), 60000)

    def test_malformed_collected_is_ignored(self) -> None:
        call = _call_with_collected({}, {})
        call["collected_dynamic_variables"] = "not a dict"
        extracted = analysis_fields(call)
        assert "collected_dynamic_variables" not in extracted
        assert business(event_from_call("call_analyzed", call)).kind == "no_result"
        assert json.dumps(extracted)
