"""Retell and Twilio webhooks through the real endpoint: signed, idempotent, order-proof.

A job is claimed by the dispatcher's claim, dialed through the account-routed adapter
(the vendor's HTTP API faked with httpx.MockTransport), then the vendor's recorded
webhooks are posted to ``/api/v1/webhooks/{provider}``. The account stores its own
credentials, so each final event is confirmed with the vendor (``get_call``): the fake
vendor answers with the call as it reported it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from dialer.account.auth import Principal
from dialer.batch.schemas import BatchCreate
from dialer.batch.service import create_batch
from dialer.billing.service import topup
from dialer.call.service import mark_placed
from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.schemas import NewJob
from dialer.job.states import AttemptStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Batch, CallAttempt, Job, LedgerEntry
from dialer.telephony.base import CallRequest, RetryableProviderError
from dialer.telephony.providers.retell import sign
from dialer.telephony.providers.routing import AccountRoutedProvider
from dialer.telephony.providers.twilio import compute_signature, sign_report
from dialer.telephony.registry import Providers
from dialer.worker.claim import claim_due_jobs
from dialer.worker.runner import Worker
from tests.factories import attempt_row, make_account
from tests.telephony.recorded import load

RETELL_KEY = "key_acme_retell_0001"
TWILIO_TOKEN = "twilio_token_acme"
SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"


class Vendor:
    """The vendor's side: answers the create, then get-call from what it reported."""

    def __init__(self, create: httpx.Response) -> None:
        self.create = create
        self.records: dict[str, dict[str, Any]] = {}  # call id -> the vendor's record
        self.requests: list[httpx.Request] = []
        # The agent's versions as Retell lists them (the batch is pinned at its first call).
        self.agent_versions: list[dict[str, Any]] | None = load(
            "retell", "get_agent_versions_response"
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path.endswith(("/create-phone-call", "/Calls.json")):
            return self.create
        if path.startswith("/get-agent-versions/"):
            if self.agent_versions is None:
                # Retry-After 0: the adapter's retries do not wait in the test.
                return httpx.Response(503, headers={"retry-after": "0"},
                                      json={"status": "error", "message": "unavailable"})  # fmt: skip
            return httpx.Response(200, json=self.agent_versions)
        call_id = path.rsplit("/", 1)[-1].removesuffix(".json")
        record = self.records.get(call_id)
        return httpx.Response(200, json=record) if record else httpx.Response(404)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


VENDOR = Vendor(httpx.Response(500))


def providers_of(client: httpx.AsyncClient) -> Providers:
    """The provider instances of the app ``client`` speaks to."""
    providers: Providers = client._transport.app.state.providers  # type: ignore[attr-defined]
    return providers


async def dial_one(
    database: Database, settings: Settings, admin: httpx.AsyncClient, provider_name: str
) -> tuple[CallAttempt, httpx.Request]:
    """Account + config + batch with one job; claim it and place the call. Returns the
    attempt and the request sent to the vendor."""
    await make_account(database, "acc-acme", minutes=0)
    async with database.write() as session:
        await topup(session, "acc-acme", 3600, key="t1")
        batch, _ = await create_batch(
            session,
            Principal(is_admin=True),
            BatchCreate(
                account_id="acc-acme",
                name="marzo",
                jobs=[
                    NewJob(
                        contact_name="María José Pérez",
                        dni="12345678-5",
                        phones=["+56912345678"],
                        payload={
                            "amount": 1234567,
                            "fecha_limite": "2026-03-15",
                            "company": "Cobranzas Andes",
                        },
                    )
                ],
            ),
        )
        batch.provider = provider_name
        batch.provider_options = {"agent_id": "agent_marzo"}
    if provider_name == "retell":
        creds = {"api_key": RETELL_KEY}
        options: dict[str, Any] = {"from_number": "+56229145000"}
        response = httpx.Response(201, json=load("retell", "create_phone_call_response"))
    else:
        creds = {"account_sid": SID, "auth_token": TWILIO_TOKEN}
        options = {"from_number": "+56229145000", "stream_url": "wss://agent.example/media"}
        response = httpx.Response(201, json=load("twilio", "create_call_response"))
    r = await admin.put(
        f"/api/v1/accounts/acc-acme/providers/{provider_name}",
        json={"credentials": creds, "options": options},
    )
    assert r.status_code == 200, r.text

    global VENDOR
    VENDOR = rec = Vendor(response)
    router = AccountRoutedProvider(provider_name, settings, database, client=rec.client())
    providers_of(admin).install(provider_name, router)
    worker = Worker(database, settings, provider=router)
    async with database.write() as session:
        (job,) = await claim_due_jobs(
            session, worker_id="w1", now=worker.now(), limit=5, lease=timedelta(seconds=60)
        )
    placed = await router.place_call(worker.request_for(job, router))
    async with database.write() as session:
        await mark_placed(
            session, job.attempt_id, placed.provider_call_id, now=worker.now(),
            call_timeout=timedelta(minutes=20),
        )  # fmt: skip
        attempt = await session.get(CallAttempt, job.attempt_id)
        assert attempt is not None
    (create,) = [r for r in rec.requests if r.method == "POST"]
    return attempt, create


async def snapshot(database: Database, attempt_id: str) -> dict[str, Any]:
    async with database.read() as session:
        a = await session.get(CallAttempt, attempt_id)
        assert a is not None
        job = await session.get(Job, a.job_id)
        batch = await session.get(Batch, a.batch_id)
        assert job is not None
        assert batch is not None
        ledger = (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        return {
            "attempt": (a.status, a.outcome, a.business_result, a.duration_s, a.cost_units),
            "job": (job.status, job.last_outcome, job.business_result, job.cost_units),
            "batch": (batch.completed_jobs, batch.pending_jobs, batch.attempts_made,
                      batch.answered_calls, batch.billed_seconds),
            "ledger": ledger,
            "extracted": dict(a.extracted),
            "result": dict(a.result or {}),
        }  # fmt: skip


def retell_body(name: str, attempt_id: str) -> bytes:
    payload = load("retell", name)
    payload["call"]["metadata"] = {"attempt_id": attempt_id, "account_id": "acc-acme"}
    call_id = payload["call"]["call_id"]
    if (
        payload["event"] != "call_started"
        and VENDOR.records.get(call_id, {}).get("call_analysis") is None
    ):
        VENDOR.records[call_id] = payload["call"]  # what Retell itself will answer
    return json.dumps(payload).encode()


async def post_retell(
    client: httpx.AsyncClient,
    body: bytes,
    clock: FrozenClock,
    *,
    key: str = RETELL_KEY,
    age: timedelta = timedelta(0),
) -> httpx.Response:
    ts = int((clock.now() - age).timestamp() * 1000)
    return await client.post(
        "/api/v1/webhooks/retell", content=body,
        headers={"content-type": "application/json", "x-retell-signature": sign(body, key, ts)},
    )  # fmt: skip


class TestRetellWebhooks:
    async def test_call_is_placed_with_the_jobs_variables(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, sent = await dial_one(database, settings, admin, "retell")
        body = json.loads(sent.content)
        assert sent.headers["authorization"] == f"Bearer {RETELL_KEY}"
        assert body["override_agent_id"] == "agent_marzo"
        assert body["from_number"] == "+56229145000"
        assert body["metadata"]["attempt_id"] == attempt.id
        assert body["metadata"]["account_id"] == "acc-acme"
        assert body["retell_llm_dynamic_variables"]["nombre"] == "María José Pérez"
        assert body["retell_llm_dynamic_variables"]["monto"] == "$1.234.567"
        assert body["retell_llm_dynamic_variables"]["fecha_limite"] == "15/03/2026"

    async def test_full_lifecycle_bills_once_and_records_the_promise(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, _ = await dial_one(database, settings, admin, "retell")
        for name in ("webhook_call_started", "webhook_call_ended"):
            r = await post_retell(client, retell_body(name, attempt.id), frozen_clock)
            assert r.status_code == 200, r.text
        ended = await snapshot(database, attempt.id)
        assert ended["attempt"] == ("ended", "completed", None, 95, ended["attempt"][4])
        assert ended["job"][0] == "completed"
        assert ended["batch"][0] == 1
        assert ended["batch"][4] > 0

        r = await post_retell(
            client, retell_body("webhook_call_analyzed", attempt.id), frozen_clock
        )
        assert r.status_code == 200
        analyzed = await snapshot(database, attempt.id)
        assert analyzed["attempt"][2] == "promise_to_pay"
        assert analyzed["job"][2] == "promise_to_pay"
        # Read once, by the outcome parser: the amount in pesos, the date as a day.
        assert analyzed["result"]["promise_to_pay"] == {
            "amount": 1234567,
            "currency": "CLP",
            "date": "2026-03-20",
            "method": None,
        }
        # The analysis changes no money; its promise reopens the one-call campaign for
        # the promise's follow-up (on by default): the job is to do again.
        assert analyzed["ledger"] == ended["ledger"]
        assert analyzed["batch"] == (0, 1, *ended["batch"][2:])
        assert (analyzed["job"][0], analyzed["job"][3]) == ("scheduled", ended["job"][3])

        # Replays of every event are no-ops.
        for name in ("webhook_call_ended", "webhook_call_analyzed", "webhook_call_started"):
            r = await post_retell(client, retell_body(name, attempt.id), frozen_clock)
            assert r.status_code == 200
            assert r.json()["applied"] == 0
        assert await snapshot(database, attempt.id) == analyzed

    async def test_out_of_order_events_are_harmless(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, _ = await dial_one(database, settings, admin, "retell")
        for name in ("webhook_call_analyzed", "webhook_call_ended", "webhook_call_started"):
            r = await post_retell(client, retell_body(name, attempt.id), frozen_clock)
            assert r.status_code == 200
        state = await snapshot(database, attempt.id)
        assert state["attempt"][:3] == ("ended", "completed", "promise_to_pay")
        # The analysis came first: the job waits for the promise's follow-up (on by default).
        assert state["job"][0] == "scheduled"
        assert state["batch"][1:3] == (1, 1)  # still to do; one attempt counted

    @pytest.mark.parametrize("problem", ["tampered", "wrong_key", "stale"])
    async def test_bad_signature_is_401_and_changes_nothing(
        self, problem: str, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, _ = await dial_one(database, settings, admin, "retell")
        before = await snapshot(database, attempt.id)
        body = retell_body("webhook_call_ended", attempt.id)
        if problem == "tampered":
            ts = int(frozen_clock.now().timestamp() * 1000)
            header = sign(body, RETELL_KEY, ts)
            body = body.replace(b"user_hangup", b"dial_no_answer")
            r = await client.post(
                "/api/v1/webhooks/retell", content=body, headers={"x-retell-signature": header}
            )
        elif problem == "wrong_key":
            r = await post_retell(client, body, frozen_clock, key="key_someone_else")
        else:
            r = await post_retell(client, body, frozen_clock, age=timedelta(minutes=10))
        assert r.status_code == 401
        assert r.json()["error"] == "Unauthorized"
        assert await snapshot(database, attempt.id) == before


class TestAgentVersionPin:
    async def test_a_batch_keeps_the_version_published_when_it_started_calling(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,  # inside the calling window whatever the hour of the run
    ) -> None:  # fmt: skip
        attempt, sent = await dial_one(database, settings, admin, "retell")
        body = json.loads(sent.content)
        # Versions 1 and 2 published, 3 a draft: the campaign runs version 2.
        assert (body["override_agent_id"], body["override_agent_version"]) == ("agent_marzo", 2)
        async with database.read() as session:
            batch = await session.get(Batch, attempt.batch_id)
            assert batch is not None
            assert batch.provider_options == {"agent_id": "agent_marzo", "agent_version": "2"}
        # Mid-campaign the agent is edited and version 4 published.
        assert VENDOR.agent_versions is not None
        VENDOR.agent_versions.append({**VENDOR.agent_versions[-1], "version": 4,
                                      "is_published": True})  # fmt: skip
        # The next calls of the batch - claimed before the pin was stored, placed by this
        # worker and by another (a cold router) - still run version 2.
        later = CallRequest(
            attempt_id="att-later", to_number="+56912345678", from_number=None,
            agent_id="agent_marzo", metadata={"account_id": "acc-acme", "batch_id": attempt.batch_id},
        )  # fmt: skip
        other_worker = AccountRoutedProvider("retell", settings, database, client=VENDOR.client())
        for router in (providers_of(admin).get("retell"), other_worker):
            VENDOR.requests.clear()
            await router.place_call(later)
            (create,) = VENDOR.requests  # the version is not asked again
            assert json.loads(create.content)["override_agent_version"] == 2
        # An operator moves the batch to another agent (PATCH provider_options, no
        # version): its calls are pinned anew, to that agent's published version.
        async with database.write() as session:
            batch = await session.get(Batch, attempt.batch_id)
            assert batch is not None
            batch.provider_options = {"agent_id": "agent_abril"}
        VENDOR.agent_versions = [{**VENDOR.agent_versions[0], "agent_id": "agent_abril",
                                  "version": 5, "is_published": True}]  # fmt: skip
        VENDOR.requests.clear()
        await other_worker.place_call(replace(later, agent_id="agent_abril"))
        sent = json.loads(VENDOR.requests[-1].content)
        assert (sent["override_agent_id"], sent["override_agent_version"]) == ("agent_abril", 5)
        async with database.read() as session:
            batch = await session.get(Batch, attempt.batch_id)
            assert batch is not None
            assert batch.provider_options == {"agent_id": "agent_abril", "agent_version": "5"}

    async def test_no_call_goes_out_unpinned_when_the_version_cannot_be_read(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,  # inside the calling window whatever the hour of the run
    ) -> None:  # fmt: skip
        attempt, _ = await dial_one(database, settings, admin, "retell")
        async with database.write() as session:
            batch = await session.get(Batch, attempt.batch_id)
            assert batch is not None
            batch.provider_options = {"agent_id": "agent_abril"}  # another batch, not pinned
        VENDOR.agent_versions = None  # Retell answers 503
        router = AccountRoutedProvider("retell", settings, database, client=VENDOR.client())
        VENDOR.requests.clear()
        request = CallRequest(
            attempt_id="att-2", to_number="+56912345678", from_number=None,
            agent_id="agent_abril", metadata={"account_id": "acc-acme", "batch_id": attempt.batch_id},
        )  # fmt: skip
        with pytest.raises(RetryableProviderError, match="version"):
            await router.place_call(request)
        assert all(r.method == "GET" for r in VENDOR.requests)  # nothing was dialled


async def draft_retell_batch(
    database: Database, settings: Settings, admin: httpx.AsyncClient
) -> tuple[str, AccountRoutedProvider]:
    """A draft Retell batch of one job, the account's Retell config and the app's router
    speaking to the fake Retell (``VENDOR``)."""
    global VENDOR
    await make_account(database, "acc-acme")
    async with database.write() as session:
        await topup(session, "acc-acme", 3600, key="t1")
        batch, _ = await create_batch(
            session, Principal(is_admin=True),
            BatchCreate(account_id="acc-acme", name="abril", status="draft", provider="retell",
                        provider_options={"agent_id": "agent_marzo"},
                        jobs=[NewJob(contact_name="Ana", dni="12345678-5",
                                     phones=["+56912345678"])]),
        )  # fmt: skip
    r = await admin.put(
        "/api/v1/accounts/acc-acme/providers/retell",
        json={
            "credentials": {"api_key": RETELL_KEY},
            "options": {"from_number": "+56229145000", "agent_id": "agent_marzo"},
        },
    )
    assert r.status_code == 200, r.text
    VENDOR = Vendor(httpx.Response(201, json=load("retell", "create_phone_call_response")))
    router = AccountRoutedProvider("retell", settings, database, client=VENDOR.client())
    providers_of(admin).install("retell", router)
    return batch.id, router


async def pinned(database: Database, batch_id: str) -> Any:
    async with database.read() as session:
        batch = await session.get(Batch, batch_id)
        assert batch is not None
        return batch.provider_options.get("agent_version")


def publish_version(n: int) -> None:
    assert VENDOR.agent_versions is not None
    VENDOR.agent_versions.append({**VENDOR.agent_versions[-1], "version": n,
                                  "is_published": True})  # fmt: skip


class TestAgentVersionPinnedAtStart:
    """The version is the one published when the start fires, not at the first call (a
    window closed at the start can put hours between the two)."""

    async def test_pinned_when_started_through_the_api_not_at_the_first_call(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        batch_id, router = await draft_retell_batch(database, settings, admin)
        worker = Worker(database, settings, provider=router)
        await worker._pins()
        assert await pinned(database, batch_id) is None  # a draft is not started
        r = await admin.post(f"/api/v1/batches/{batch_id}/start")
        assert r.status_code == 200, r.text
        await worker._pins()  # the worker's pin task, within a few poll intervals
        assert await pinned(database, batch_id) == "2"
        # Before the first call the agent is edited and version 4 published.
        publish_version(4)
        frozen_clock.advance(timedelta(hours=2))
        async with database.write() as session:
            (job,) = await claim_due_jobs(session, worker_id="w1", now=worker.now(), limit=5,
                                          lease=timedelta(seconds=60))  # fmt: skip
        VENDOR.requests.clear()
        await router.place_call(worker.request_for(job, router))
        (create,) = VENDOR.requests  # not asked again
        assert json.loads(create.content)["override_agent_version"] == 2

    async def test_a_scheduled_start_is_pinned_when_it_fires(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        batch_id, router = await draft_retell_batch(database, settings, admin)
        worker = Worker(database, settings, provider=router)
        start_at = frozen_clock.now() + timedelta(days=1)
        r = await admin.post(f"/api/v1/batches/{batch_id}/start",
                             json={"start_at": start_at.isoformat()})  # fmt: skip
        assert r.status_code == 200, r.text
        await worker._pins()
        assert await pinned(database, batch_id) is None  # scheduled, not fired yet
        publish_version(4)  # published before the start fires: the campaign runs it
        frozen_clock.set(start_at)
        await worker._pins()
        assert await pinned(database, batch_id) == "4"
        publish_version(5)
        await worker._pins()
        assert await pinned(database, batch_id) == "4"

    async def test_a_batch_created_active_is_pinned_at_creation_and_retell_down_defers(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        batch_id, router = await draft_retell_batch(database, settings, admin)
        worker = Worker(database, settings, provider=router)
        # Created active (as the legacy routes create theirs): its creation is its start.
        async with database.write() as session:
            batch, _ = await create_batch(
                session, Principal(is_admin=True),
                BatchCreate(account_id="acc-acme", name="legacy", provider="retell",
                            jobs=[NewJob(contact_name="Luis", phones=["+56987654321"])]),
            )  # fmt: skip
        VENDOR.agent_versions, versions = None, VENDOR.agent_versions  # Retell answers 503
        await worker._pins()
        assert await pinned(database, batch.id) is None  # asked again next round
        VENDOR.agent_versions = versions
        await worker._pins()
        assert await pinned(database, batch.id) == "2"
        assert await pinned(database, batch_id) is None  # the draft still is not started


class TestTwilioWebhooks:
    async def test_form_callbacks_signed_over_the_public_url(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, sent = await dial_one(database, settings, admin, "twilio")
        fields = dict(httpx.QueryParams(sent.content.decode()).multi_items())
        callback = fields["StatusCallback"]
        # The callback is on the public base URL, as Twilio will sign it.
        assert callback.startswith(settings.PUBLIC_BASE_URL)
        path = callback[len(settings.PUBLIC_BASE_URL) :]

        async def post(params: dict[str, str], token: str = TWILIO_TOKEN) -> httpx.Response:
            return await client.post(
                path, content=urlencode(params),
                headers={"content-type": "application/x-www-form-urlencoded",
                         "x-twilio-signature": compute_signature(callback, params, token)},
            )  # fmt: skip

        machine = {**load("twilio", "status_callback_completed_machine"),
                   "CallSid": "CA5d0d0d8047bf685c3f0ff980fe62c123"}  # fmt: skip
        VENDOR.records[machine["CallSid"]] = {
            "sid": machine["CallSid"], "status": "completed", "answered_by": "machine_end_beep",
            "duration": "21", "end_time": machine["Timestamp"],
        }  # fmt: skip
        assert (await post(machine, token="wrong")).status_code == 401
        r = await post(machine)
        assert r.status_code == 200, r.text
        state = await snapshot(database, attempt.id)
        assert state["attempt"][:2] == ("ended", "voicemail")
        assert state["batch"][3] == 0  # a machine is not an answered call
        again = await post(machine)
        assert again.json()["applied"] == 0
        assert await snapshot(database, attempt.id) == state


class TestTwilioFindCall:
    async def test_a_call_another_attempt_owns_is_not_taken_for_a_lost_create(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        # Attempt A's call is known; B (same debtor, same number) lost its create answer.
        a, _ = await dial_one(database, settings, admin, "twilio")
        async with database.write() as session:
            session.add(attempt_row(
                id="att-b-lost", job_id=a.job_id, batch_id=a.batch_id, account_id=a.account_id,
                number=2, phone=a.phone, provider="twilio", status=AttemptStatus.UNKNOWN,
                started_at=frozen_clock.now(),
            ))  # fmt: skip
        created = frozen_clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        theirs = {**load("twilio", "get_call_response"), "date_created": created}
        mine = {**theirs, "sid": "CA9999999999999999999999999999999f"}
        assert theirs["sid"] == a.provider_call_id
        VENDOR.records["Calls"] = {"calls": [theirs, mine], "page": 0}  # GET Calls.json
        router = providers_of(admin).get("twilio")
        found = await router.find_call("att-b-lost", to_number=a.phone, since=frozen_clock.now())
        assert found is not None
        assert (found.provider_call_id, found.attempt_id) == (mine["sid"], "att-b-lost")


class TestTwilioAgentReport:
    async def test_agent_report_adds_the_result_after_the_call_ended(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, sent = await dial_one(database, settings, admin, "twilio")
        r = await admin.put("/api/v1/accounts/acc-acme/providers/twilio",
                            json={"credentials": {"report_secret": "rsec_acme"}})  # fmt: skip
        assert r.status_code == 200, r.text
        fields = dict(httpx.QueryParams(sent.content.decode()).multi_items())
        callback = fields["StatusCallback"]
        sid = "CA5d0d0d8047bf685c3f0ff980fe62c123"
        report = json.dumps({
            "attempt_id": attempt.id, "call_sid": sid,
            "transcript": "Agente: ¿Hablo con María José?\nCliente: Sí. Pago el 20/03/2026.",
            "summary": "Promete pagar el 20/03/2026.", "business_result": "promesa_de_pago",
            "extracted": {"fecha_promesa": "20/03/2026", "monto_promesa": "1.234.567"},
        }).encode()  # fmt: skip

        async def post_report(secret: str = "rsec_acme") -> httpx.Response:
            sig = sign_report(report, secret, frozen_clock.now())
            return await client.post("/api/v1/webhooks/twilio/report", content=report,
                                     headers={"content-type": "application/json",
                                              "x-dialer-signature": sig})  # fmt: skip

        assert (await post_report()).status_code == 409  # the call has not ended yet
        human = {**load("twilio", "status_callback_completed_human"), "CallSid": sid}
        VENDOR.records[sid] = {"sid": sid, "status": "completed", "answered_by": "human",
                               "duration": human["CallDuration"]}  # fmt: skip
        r = await client.post(
            callback[len(settings.PUBLIC_BASE_URL):], content=urlencode(human),
            headers={"content-type": "application/x-www-form-urlencoded",
                     "x-twilio-signature": compute_signature(callback, human, TWILIO_TOKEN)},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        ended = await snapshot(database, attempt.id)
        assert (await post_report(secret="rsec_other")).status_code == 401
        r = await post_report()
        assert r.status_code == 200, r.text
        assert r.json()["applied"] == 1
        state = await snapshot(database, attempt.id)
        assert state["attempt"][2] == "promise_to_pay"
        assert state["result"]["promise_to_pay"]["date"] == "2026-03-20"
        assert state["result"]["promise_to_pay"]["amount"] == 1234567
        # The report changes no money; its promise reopens the one-call campaign for the
        # promise's follow-up: the job is to do again.
        assert (state["ledger"], state["batch"]) == (ended["ledger"], (0, 1, *ended["batch"][2:]))
        assert state["job"][0] == "scheduled"
