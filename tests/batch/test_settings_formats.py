"""Both call-settings formats, everywhere settings are accepted, stored in one form; the
worker format's ring_timeout and max_call_duration reach the call request and the
providers (Twilio form, simulated carrier)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from dialer.batch.settings import CallSettings
from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.telephony.base import CallRequest
from dialer.telephony.simulated import SimulatedProvider
from dialer.worker.claim import claim_due_jobs
from dialer.worker.runner import Worker
from tests.factories import api_account, make_account, make_batch
from tests.telephony.recorded import Recorder, load
from tests.telephony.test_twilio import provider as twilio_provider
from tests.telephony.test_twilio import request as twilio_request

# The shape the replaced system's worker read (app/call_worker.py) and its clients sent.
WORKER_FORMAT: dict[str, Any] = {
    "allowed_hours": {"start": "09:00", "end": "18:00"},
    "days_of_week": [1, 2, 3, 4, 5],
    "timezone": "America/Santiago",
    "max_attempts": 5,
    "retry_delay_hours": 12,
    "ring_timeout": 20,
    "max_call_duration": 240,
}


def stored_form() -> dict[str, Any]:
    return CallSettings.model_validate(WORKER_FORMAT).model_dump(mode="json")


class TestNormalise:
    def test_worker_format_becomes_documented_form(self) -> None:
        s = stored_form()
        assert s["allowed_call_hours"] == {"start": "09:00", "end": "18:00"}
        assert s["allowed_weekdays"] == ["mon", "tue", "wed", "thu", "fri"]
        assert s["retry_settings"]["max_attempts"] == 5
        assert s["retry_settings"]["retry_delay_hours"] == 12
        assert (s["ring_timeout_s"], s["max_call_duration_s"]) == (20, 240)
        for key in ("allowed_hours", "days_of_week", "max_attempts", "ring_timeout"):
            assert key not in s
        # The stored form reads back to itself.
        assert CallSettings.model_validate(s).model_dump(mode="json") == s

    @pytest.mark.parametrize(
        ("days", "expected"),
        [([6, 7], ["sat", "sun"]), ([0], ["sun"]), ([1, 1, 3], ["mon", "wed"])],
    )
    def test_iso_weekday_numbers(self, days: list[int], expected: list[str]) -> None:
        # 1 = Monday ... 7 = Sunday (isoweekday, as its worker compared); 0 also Sunday.
        s = CallSettings.model_validate({"days_of_week": days})
        assert s.allowed_weekdays == expected

    @pytest.mark.parametrize(
        ("raw", "needle"),
        [
            ({"days_of_week": [8]}, "days_of_week: 8 is not a weekday number"),
            ({"days_of_week": "1,2"}, "days_of_week must be a list"),
            ({"max_attempts": 3, "retry_settings": {"max_attempts": 4}}, "max_attempts and"),
            ({"ring_timeout": 2}, "ring_timeout_s"),
            ({"allowed_hours": {"start": "18:00", "end": "09:00"}}, "must be before end"),
        ],
    )
    def test_bad_values_name_the_field(self, raw: dict[str, Any], needle: str) -> None:
        with pytest.raises(ValueError, match=needle):
            CallSettings.model_validate(raw)

    def test_original_hours_between_attempts(self) -> None:
        s = CallSettings.model_validate({"retry_settings": {"hours_between_attempts": 24}})
        assert s.retry_settings.retry_delay_hours == 24


class TestEverywhere:
    async def test_json_create_patch_and_spreadsheet(
        self, admin: httpx.AsyncClient, tmp_path: Any
    ) -> None:
        await api_account(admin, account_id="acc-fmt", initial_minutes=10)
        r = await admin.post(
            "/api/v1/batches",
            json={"account_id": "acc-fmt", "name": "W", "call_settings": WORKER_FORMAT},
        )
        assert r.status_code == 201, r.text
        assert r.json()["call_settings"] == stored_form()
        bid = r.json()["batch_id"]
        p = await admin.patch(
            f"/api/v1/batches/{bid}", json={"call_settings": {**WORKER_FORMAT, "max_attempts": 2}}
        )
        assert p.json()["call_settings"]["retry_settings"]["max_attempts"] == 2

        csv = tmp_path / "deudores.csv"
        csv.write_text("RUT,Nombre,Telefono,Monto\n12345678-5,Ana Pérez,+56987654321,150000\n")
        for field in ("call_settings", "call_settings_json"):
            with csv.open("rb") as f:
                r = await admin.post(
                    "/api/v1/batches/excel/create",
                    data={
                        "account_id": "acc-fmt",
                        field: json.dumps(WORKER_FORMAT),
                        "allow_duplicates": "true",
                    },
                    files={"file": ("deudores.csv", f.read(), "text/csv")},
                )
            assert r.status_code == 201, r.text
            batch = (await admin.get(f"/api/v1/batches/{r.json()['batch_id']}")).json()
            assert batch["call_settings"] == stored_form(), field
            jobs = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/jobs")).json()
            assert jobs["items"][0]["max_attempts"] == 5
        with csv.open("rb") as f:
            r = await admin.post(
                "/api/v1/batches/excel/create",
                data={
                    "account_id": "acc-fmt",
                    "call_settings": '{"max_attempts": 2}',
                    "call_settings_json": '{"max_attempts": 3}',
                },
                files={"file": ("deudores.csv", f.read(), "text/csv")},
            )
        assert r.status_code == 422
        assert "differ" in r.json()["detail"]


class TestApplied:
    async def test_claim_carries_ring_timeout_and_duration_to_the_request(
        self, database: Database, frozen_clock: FrozenClock, settings: Settings
    ) -> None:
        now = frozen_clock.now()
        acc = await make_account(database)
        always = {**WORKER_FORMAT, "allowed_hours": {"start": "00:00", "end": "24:00"},
                  "days_of_week": [1, 2, 3, 4, 5, 6, 7]}  # fmt: skip
        await make_batch(database, acc, jobs=1, now=now, settings=CallSettings.model_validate(
            always).model_dump(mode="json"))  # fmt: skip
        async with database.write() as s:
            (job,) = await claim_due_jobs(
                s, worker_id="w", now=now, limit=5, lease=timedelta(seconds=60)
            )
        assert (job.ring_timeout_s, job.max_duration_s) == (20, 240)
        worker = Worker(database, settings, clock=frozen_clock)
        req = worker.request_for(job, worker.provider_for(None))
        assert (req.ring_timeout_s, req.max_duration_s) == (20, 240)

    async def test_twilio_rings_for_the_batch_timeout(self) -> None:
        created = httpx.Response(201, json=load("twilio", "create_call_response"))
        rec = Recorder(created, created)
        await twilio_provider(rec, ring_timeout_s=30).place_call(twilio_request(ring_timeout_s=20))
        fields = parse_qs(rec.requests[0].content.decode())
        assert fields["Timeout"] == ["20"]
        await twilio_provider(rec, ring_timeout_s=30).place_call(twilio_request())
        assert parse_qs(rec.requests[1].content.decode())["Timeout"] == ["30"]

    async def test_simulated_carrier_gives_up_after_the_ring_timeout(
        self, database: Database, settings: Settings
    ) -> None:
        sim = SimulatedProvider(database, settings.model_copy(update={"SIM_OUTCOMES": {
            "completed": 1.0}}))  # fmt: skip
        at = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
        base = CallRequest(attempt_id="att-1", to_number="+56912345678", from_number=None,
                           agent_id=None, metadata={"job_id": "job-1", "attempt_number": "1"},
                           max_duration_s=60)  # fmt: skip
        free = sim.draw(base, at)
        ring = free["request"]["ring_s"]
        assert free["outcome"] == "completed"
        assert free["duration_s"] <= 60
        short = sim.draw(CallRequest(**{**base.__dict__, "ring_timeout_s": ring - 1}), at)
        assert (short["outcome"], short["duration_s"]) == ("no_answer", 0)
        assert short["request"]["ring_s"] == ring - 1
        long = sim.draw(CallRequest(**{**base.__dict__, "ring_timeout_s": ring}), at)
        assert long["outcome"] == "completed"
