"""The simulated carrier: signed webhooks (pure and over HTTP), idempotent delivery, and
seeded, reproducible outcomes in the configured mix."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dialer.call.service import mark_placed
from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import AttemptStatus, JobStatus, Outcome
from dialer.kit.clock import FrozenClock
from dialer.models import Batch, CallAttempt, Job, LedgerEntry, SimulatedCall
from dialer.telephony.base import CallRequest, WebhookVerificationError
from dialer.telephony.simulated import SimulatedProvider, sign
from dialer.worker.claim import claim_due_jobs
from dialer.worker.runner import Worker
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    call_settings,
    ledger_sum,
    make_account,
    make_batch,
)

WEBHOOK = "/api/v1/webhooks/simulated"
T0 = datetime.fromisoformat("2026-03-02T15:00:00+00:00")


def provider(database: Database, settings: Settings, **overrides: Any) -> SimulatedProvider:
    return SimulatedProvider(database, settings.model_copy(update=overrides))


def request(attempt_id: str) -> CallRequest:
    return CallRequest(
        attempt_id=attempt_id,
        to_number="+56912345678",
        from_number=None,
        agent_id=None,
        variables={"nombre": "María", "monto": "150000"},
    )


def body_of(attempt_id: str = "att-1") -> bytes:
    data = {
        "event": "call.ended", "call_id": f"sim-{attempt_id}", "attempt_id": attempt_id,
        "outcome": "completed", "duration_s": 95, "started_at": T0.isoformat(),
    }  # fmt: skip
    return json.dumps(data, separators=(",", ":")).encode()


class TestSignature:
    async def test_a_signed_body_is_accepted(self, database: Database, settings: Settings) -> None:
        sim = provider(database, settings)
        body = body_of()
        headers = {"X-Dialer-Signature": sign(sim.secret, body, T0)}
        [event] = sim.parse_webhook(body=body, headers=headers, url="", now=T0)
        assert (event.attempt_id, event.outcome, event.duration_s) == ("att-1", "completed", 95)
        assert event.final

    async def test_a_tampered_body_is_rejected(
        self, database: Database, settings: Settings
    ) -> None:
        sim = provider(database, settings)
        headers = {"X-Dialer-Signature": sign(sim.secret, body_of(), T0)}
        tampered = body_of().replace(b'"duration_s":95', b'"duration_s":9')
        with pytest.raises(WebhookVerificationError, match="does not match"):
            sim.parse_webhook(body=tampered, headers=headers, url="", now=T0)

    async def test_a_body_signed_with_another_secret_is_rejected(
        self, database: Database, settings: Settings
    ) -> None:
        sim = provider(database, settings)
        headers = {"X-Dialer-Signature": sign("someone-elses-secret", body_of(), T0)}
        with pytest.raises(WebhookVerificationError, match="does not match"):
            sim.parse_webhook(body=body_of(), headers=headers, url="", now=T0)

    async def test_a_signature_older_than_five_minutes_is_rejected(
        self, database: Database, settings: Settings
    ) -> None:
        sim = provider(database, settings)
        headers = {"X-Dialer-Signature": sign(sim.secret, body_of(), T0)}
        # Within the tolerance, either side (clock skew between carrier and API).
        for skew in (timedelta(seconds=300), timedelta(seconds=-300)):
            sim.parse_webhook(body=body_of(), headers=headers, url="", now=T0 + skew)
        with pytest.raises(WebhookVerificationError, match="too old"):
            sim.parse_webhook(
                body=body_of(), headers=headers, url="", now=T0 + timedelta(seconds=301)
            )

    @pytest.mark.parametrize("header", [None, "", "v1=abc", "t=notanumber,v1=abc", "garbage"])
    async def test_a_missing_or_malformed_header_is_rejected(
        self, database: Database, settings: Settings, header: str | None
    ) -> None:
        sim = provider(database, settings)
        headers = {} if header is None else {"X-Dialer-Signature": header}
        with pytest.raises(WebhookVerificationError):
            sim.parse_webhook(body=body_of(), headers=headers, url="", now=T0)


async def placed_call(
    database: Database, settings: Settings, now: datetime
) -> tuple[SimulatedProvider, SimulatedCall, str, str, int]:
    """One job claimed and dialed through the simulated carrier (always answered).
    Returns the carrier, its call row, the account, the batch and the balance before
    the call (the claim holds part of it until the call is settled)."""
    acc = await make_account(database)
    # The answered call ends its job whatever the simulated agent reports (a callback or
    # a promise would keep it waiting by default).
    settings_ = call_settings(collections=ENDS_WITH_LAST_CALL)
    batch = await make_batch(database, acc, jobs=1, now=now, settings=settings_)
    topped_up = await ledger_sum(database, acc)
    sim = provider(database, settings, SIM_OUTCOMES={"completed": 1.0}, SIM_SPEEDUP=0)
    worker = Worker(database, settings, provider=sim)
    async with database.write() as session:
        (job,) = await claim_due_jobs(
            session, worker_id="w1", now=now, limit=5, lease=timedelta(seconds=60)
        )
    placed = await sim.place_call(worker.request_for(job, sim))
    async with database.write() as session:
        await mark_placed(
            session, job.attempt_id, placed.provider_call_id, now=now,
            call_timeout=timedelta(minutes=20),
        )  # fmt: skip
    async with database.read() as session:
        row = (
            await session.execute(
                select(SimulatedCall).where(SimulatedCall.id == placed.provider_call_id)
            )
        ).scalar_one()
        session.expunge(row)
    return sim, row, acc, batch, topped_up


async def state(database: Database, acc: str, batch_id: str) -> dict[str, Any]:
    async with database.read() as s:
        batch = await s.get(Batch, batch_id)
        assert batch is not None
        entries = (
            await s.execute(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == acc)
            )
        ).scalar_one()
        job = (await s.execute(select(Job).where(Job.batch_id == batch_id))).scalar_one()
        attempt = (
            await s.execute(select(CallAttempt).where(CallAttempt.batch_id == batch_id))
        ).scalar_one()
        return {
            "ledger_entries": entries,
            "counters": (batch.pending_jobs, batch.completed_jobs, batch.attempts_made,
                         batch.answered_calls, batch.billed_seconds, batch.cost_units),
            "job": (job.status, job.attempts, job.cost_units),
            "attempt": (attempt.status, attempt.outcome, attempt.duration_s, attempt.cost_units),
        }  # fmt: skip


class TestWebhookEndpoint:
    async def test_a_bad_signature_is_a_401_and_changes_nothing(
        self,
        database: Database,
        settings: Settings,
        client: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:
        now = frozen_clock.now()
        sim, row, acc, batch, _ = await placed_call(database, settings, now)
        before = await state(database, acc, batch)
        body, headers = sim.build_webhook(row, now)
        forged = {**headers, "X-Dialer-Signature": sign("wrong-secret", body, now)}
        stale = {
            **headers,
            "X-Dialer-Signature": sign(sim.secret, body, now - timedelta(seconds=301)),
        }
        tampered = body.replace(f'"duration_s":{row.duration_s}'.encode(), b'"duration_s":1')
        assert tampered != body
        for content, h in ((body, forged), (body, stale), (tampered, headers)):
            r = await client.post(WEBHOOK, content=content, headers=h)
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "Unauthorized"
        assert await state(database, acc, batch) == before
        assert before["attempt"][0] == AttemptStatus.IN_PROGRESS

    async def test_a_duplicate_delivery_is_a_no_op(
        self,
        database: Database,
        settings: Settings,
        client: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:
        now = frozen_clock.now()
        sim, row, acc, batch, start_balance = await placed_call(database, settings, now)
        body, headers = sim.build_webhook(row, now)

        first = await client.post(WEBHOOK, content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == {"ok": True, "applied": 1}
        after_first = await state(database, acc, batch)
        charged = -(-row.duration_s // 60) * 60  # by the started minute
        assert after_first["job"] == (JobStatus.COMPLETED, 1, charged)
        assert after_first["attempt"] == (AttemptStatus.ENDED, "completed", row.duration_s, charged)
        assert await ledger_sum(database, acc) == start_balance - charged

        # The carrier retries (it never saw our 200): same bytes, later signature.
        frozen_clock.advance(timedelta(seconds=30))
        _, resigned = sim.build_webhook(row, frozen_clock.now())
        for h in (headers, resigned):
            again = await client.post(WEBHOOK, content=body, headers=h)
            assert again.status_code == 200, again.text
            assert again.json() == {"ok": True, "applied": 0}
        assert await state(database, acc, batch) == after_first
        assert await ledger_sum(database, acc) == start_balance - charged


class TestSeededOutcomes:
    async def test_same_seed_and_attempt_give_the_same_call(
        self, database: Database, settings: Settings
    ) -> None:
        a = provider(database, settings, SIM_SEED=11)
        b = provider(database, settings, SIM_SEED=11)  # another worker process, same seed
        for i in range(50):
            assert a.draw(request(f"att-{i}"), T0) == b.draw(request(f"att-{i}"), T0)

    async def test_a_job_attempt_gets_the_same_call_whatever_its_attempt_id(
        self, database: Database, settings: Settings
    ) -> None:
        # What the worker sends: replaying a campaign (new, random attempt ids) replays
        # the same calls, and a job's next attempt is a new draw.
        sim = provider(database, settings, SIM_SEED=11)

        def dial(attempt_id: str, job: int, number: int) -> dict[str, Any]:
            req = CallRequest(
                attempt_id=attempt_id, to_number="+56912345678", from_number=None,
                agent_id=None, variables={"nombre": "María"},
                metadata={"job_id": f"job-{job}", "attempt_number": str(number)},
            )  # fmt: skip
            call = sim.draw(req, T0)
            return {k: call[k] for k in ("outcome", "business_result", "duration_s")}

        first = [dial(f"att-a{j}", j, 1) for j in range(50)]
        assert first == [dial(f"att-b{j}", j, 1) for j in range(50)]
        assert first != [dial(f"att-c{j}", j, 2) for j in range(50)]

    async def test_draws_have_realistic_durations(
        self, database: Database, settings: Settings
    ) -> None:
        sim = provider(database, settings, SIM_SEED=11)
        for i in range(300):
            call = sim.draw(request(f"att-{i}"), T0)
            if call["outcome"] == Outcome.COMPLETED:
                assert 40 <= call["duration_s"] <= 240
                assert call["business_result"]
            elif call["outcome"] in (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED):
                assert call["duration_s"] == 0
                assert call["business_result"] is None

    async def test_another_seed_changes_the_outcomes(
        self, database: Database, settings: Settings
    ) -> None:
        ids = [f"att-{i}" for i in range(200)]
        one = [
            provider(database, settings, SIM_SEED=1).draw(request(i), T0)["outcome"] for i in ids
        ]
        two = [
            provider(database, settings, SIM_SEED=2).draw(request(i), T0)["outcome"] for i in ids
        ]
        assert one != two
        assert Counter(one) != Counter(two)

    @pytest.mark.parametrize(
        "mix",
        [
            None,  # the default mix
            {"completed": 0.5, "no_answer": 0.3, "busy": 0.2},
            {"completed": 1, "voicemail": 3},  # weights need not sum to 1
        ],
    )
    async def test_the_configured_mix_is_respected(
        self, database: Database, settings: Settings, mix: dict[str, float] | None
    ) -> None:
        sim = provider(database, settings, SIM_OUTCOMES=mix or {})
        n = 2000
        counts = Counter(sim.draw(request(f"att-{i}"), T0)["outcome"] for i in range(n))
        weights = sim.mix
        total = sum(weights.values())
        assert set(counts) <= set(weights)  # an outcome with no weight never happens
        for outcome, weight in weights.items():
            # ~4 standard deviations of a binomial share at n=2000 is at most 0.045.
            assert abs(counts[outcome] / n - weight / total) < 0.05, (outcome, counts)

    async def test_an_unknown_outcome_in_the_mix_is_refused(
        self, database: Database, settings: Settings
    ) -> None:
        with pytest.raises(ValueError, match="unknown outcomes"):
            provider(database, settings, SIM_OUTCOMES={"completed": 1, "hung_up": 1})
