"""What the provider reports beyond the outcome, through the real webhook endpoint:

* the recording URL, the provider's cost, the collected variables are kept on the attempt;
* a late ``in_voicemail`` (Retell ``call_analyzed``) re-settles a completed attempt as a
  voicemail, with the charge difference in the ledger exactly once;
* the promise recorded from the first report is withdrawn, with the follow-up it
  scheduled, and the account's webhooks hear ``promise.withdrawn`` and ``call.corrected``;
* ``concurrency_limit_reached`` spends no attempt: the hold is released and the job backs off.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select, update

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import (
    Account,
    Batch,
    CallAttempt,
    CallStat,
    Job,
    LedgerEntry,
    OutboxEvent,
    Promise,
    RecoveryStat,
    WebhookSubscription,
)
from dialer.telephony.providers.twilio import compute_signature, sign_report
from tests.telephony import test_provider_webhooks as pw
from tests.telephony.recorded import load

CALL_ID = "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"


def body(call: dict[str, object], event: str) -> bytes:
    pw.VENDOR.records[CALL_ID] = call  # what Retell itself answers when asked
    return json.dumps({"event": event, "call": call}).encode()


async def ledger(database: Database, attempt_id: str) -> list[tuple[str, int, str]]:
    async with database.read() as s:
        rows = await s.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.idempotency_key)
            .where(LedgerEntry.attempt_id == attempt_id)
            .order_by(LedgerEntry.id)
        )
        return [(str(k), int(a), str(key)) for k, a, key in rows]


async def balance(database: Database) -> int:
    async with database.read() as s:
        return int(
            (await s.execute(select(Account.balance).where(Account.id == "acc-acme"))).scalar_one()
        )


async def test_provider_report_is_kept_and_a_late_voicemail_resettles_once(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, _ = await pw.dial_one(database, settings, admin, "retell")
    (item,) = load("retell", "list_calls_response")["items"]
    ended = {**load("retell", "webhook_call_ended")["call"], "metadata": {"attempt_id": attempt.id},
             "recording_url": item["recording_url"], "call_cost": item["call_cost"],
             "collected_dynamic_variables": item["collected_dynamic_variables"]}  # fmt: skip
    r = await pw.post_retell(client, body(ended, "call_ended"), frozen_clock)
    assert r.status_code == 200, r.text
    state = await pw.snapshot(database, attempt.id)
    assert state["attempt"][:2] == ("ended", "completed")
    charged = state["attempt"][4]
    assert charged > 0
    settled = await balance(database)
    async with database.read() as s:
        a = await s.get(CallAttempt, attempt.id)
        assert a is not None
        assert a.recording_url == item["recording_url"]
        assert a.provider_cost == {"amount": 11.025, "unit": "usd_cents"}
        assert a.collected_variables == item["collected_dynamic_variables"]

    # Retell's analysis then says the line was a voicemail.
    analysis = load("retell", "webhook_call_analyzed_voicemail")["call"]
    analyzed = {**ended, "call_analysis": analysis["call_analysis"]}
    for _ in range(2):  # delivered twice: re-settled once
        r = await pw.post_retell(client, body(analyzed, "call_analyzed"), frozen_clock)
        assert r.status_code == 200, r.text
    state = await pw.snapshot(database, attempt.id)
    assert state["attempt"][:2] == ("ended", "voicemail")
    assert state["attempt"][4] == 0  # a voicemail is not charged on this plan
    assert state["batch"][3] == 0  # no answered call any more
    assert state["job"][1] == "voicemail"
    entries = await ledger(database, attempt.id)
    assert [e for e in entries if e[2] == f"voicemail:{attempt.id}"] == [
        ("adjustment", charged, f"voicemail:{attempt.id}")
    ]
    assert await balance(database) == settled + charged  # the charge came back
    # The one-job campaign had finished with that call: nobody was reached, so the job
    # is failed now (not completed), and the hourly figures count a voicemail.
    assert state["job"][0] == "failed"
    async with database.read() as s:
        b = await s.get(Batch, attempt.batch_id)
        assert b is not None
        assert (b.status, b.completed_jobs, b.failed_jobs, b.pending_jobs) == (
            "completed", 0, 1, 0)  # fmt: skip
    assert await hourly(database) == {"voicemail": (1, 0)}


async def hourly(database: Database) -> dict[str, tuple[int, int]]:
    """The account's hourly roll-up by outcome: (calls, cost), buckets with calls only."""
    async with database.read() as s:
        rows = await s.execute(
            select(CallStat.outcome, func.sum(CallStat.calls), func.sum(CallStat.cost_units))
            .where(CallStat.account_id == "acc-acme")
            .group_by(CallStat.outcome)
        )
        return {str(o): (int(c), int(u)) for o, c, u in rows if c}


async def second_waiting_job(database: Database, attempt: CallAttempt) -> None:
    """Another contact still waiting in the campaign: it stays open after the first call."""
    async with database.write() as s:
        s.add(
            Job(
                id="job-second",
                batch_id=attempt.batch_id,
                account_id=attempt.account_id,
                phones=["+56987654321"],
                next_attempt_at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        )
        await s.execute(
            update(Batch).where(Batch.id == attempt.batch_id)
            .values(total_jobs=Batch.total_jobs + 1, pending_jobs=Batch.pending_jobs + 1)
        )  # fmt: skip


async def job_and_batch(database: Database, attempt: CallAttempt) -> tuple[Any, ...]:
    async with database.read() as s:
        job = await s.get(Job, attempt.job_id)
        b = await s.get(Batch, attempt.batch_id)
        assert job is not None
        assert b is not None
        return (job.status, job.wait_reason, job.completed_at, job.next_attempt_at,
                b.status, b.completed_jobs, b.pending_jobs, b.answered_calls)  # fmt: skip


async def test_a_late_voicemail_in_a_running_campaign_schedules_the_voicemail_retry(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, _ = await pw.dial_one(database, settings, admin, "retell")
    await second_waiting_job(database, attempt)
    ended = {**load("retell", "webhook_call_ended")["call"], "metadata": {"attempt_id": attempt.id}}
    r = await pw.post_retell(client, body(ended, "call_ended"), frozen_clock)
    assert r.status_code == 200, r.text
    assert (await job_and_batch(database, attempt))[:2] == ("completed", None)
    analysis = load("retell", "webhook_call_analyzed_voicemail")["call"]["call_analysis"]
    frozen_clock.advance(timedelta(seconds=20))
    r = await pw.post_retell(client, body({**ended, "call_analysis": analysis}, "call_analyzed"),
                             frozen_clock)  # fmt: skip
    assert r.status_code == 200, r.text
    status, reason, completed_at, due, b_status, done, pending, answered = await job_and_batch(
        database, attempt
    )
    # Re-decided as the voicemail it was: the batch's voicemail retry (first of 3 attempts).
    assert (status, reason, completed_at) == ("scheduled", "retry", None)
    assert due > frozen_clock.now()
    assert (b_status, done, pending, answered) == ("active", 0, 2, 0)


async def test_a_twilio_amd_verdict_after_the_final_status_re_decides_the_job(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, sent = await pw.dial_one(database, settings, admin, "twilio")
    await second_waiting_job(database, attempt)
    fields = dict(httpx.QueryParams(sent.content.decode()).multi_items())
    sid = "CA5d0d0d8047bf685c3f0ff980fe62c123"

    async def post(url: str, params: dict[str, str]) -> httpx.Response:
        return await client.post(
            url[len(settings.PUBLIC_BASE_URL):], content=urlencode(params),
            headers={"content-type": "application/x-www-form-urlencoded",
                     "x-twilio-signature": compute_signature(url, params, pw.TWILIO_TOKEN)},
        )  # fmt: skip

    # Twilio's record (asked to confirm each final report) first says a person answered.
    record = {"sid": sid, "status": "completed", "answered_by": "human", "duration": "87"}
    pw.VENDOR.records[sid] = record
    human = {**load("twilio", "status_callback_completed_human"), "CallSid": sid}
    assert (await post(fields["StatusCallback"], human)).status_code == 200
    assert (await job_and_batch(database, attempt))[0] == "completed"
    # The asynchronous AMD verdict comes after the final status: a machine.
    record["answered_by"] = "machine_end_beep"
    machine = {**load("twilio", "amd_callback_machine"), "CallSid": sid}
    r = await post(fields["AsyncAmdStatusCallback"], machine)
    assert r.status_code == 200, r.text
    state = await pw.snapshot(database, attempt.id)
    assert state["attempt"][:2] == ("ended", "voicemail")
    status, reason, completed_at, _, b_status, done, pending, answered = await job_and_batch(
        database, attempt
    )
    assert (status, reason, completed_at) == ("scheduled", "retry", None)
    assert (b_status, done, pending, answered) == ("active", 0, 2, 0)
    assert (await hourly(database))["voicemail"][0] == 1
    assert "completed" not in await hourly(database)


async def test_concurrency_limit_spends_no_attempt_and_backs_off(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, _ = await pw.dial_one(database, settings, admin, "retell")
    busy = {**load("retell", "webhook_call_ended_no_answer")["call"], "call_id": CALL_ID,
            "metadata": {"attempt_id": attempt.id},
            "disconnection_reason": "concurrency_limit_reached"}  # fmt: skip
    r = await pw.post_retell(client, body(busy, "call_ended"), frozen_clock)
    assert r.status_code == 200, r.text
    async with database.read() as s:
        a = await s.get(CallAttempt, attempt.id)
        job = await s.get(Job, attempt.job_id)
        assert a is not None
        assert job is not None
        assert a.status == "abandoned"
        assert (job.status, job.attempts, job.wait_reason) == ("scheduled", 0, "provider_busy")
        assert job.next_attempt_at > frozen_clock.now()
    entries = await ledger(database, attempt.id)
    assert sum(amount for _, amount, _ in entries) == 0  # the hold came back, nothing charged


async def subscribe_crm(database: Database, events: list[str]) -> None:
    """The account's CRM subscription (row written directly: the outbox is what is shown
    here; delivery and signing of every event type are tests/hooks')."""
    async with database.write() as s:
        s.add(WebhookSubscription(id="wh-crm", account_id="acc-acme", url="https://crm.example/h",
                                  events=events, secret_encrypted="-"))  # fmt: skip


async def outbox(database: Database) -> list[dict[str, Any]]:
    async with database.read() as s:
        rows = (await s.execute(select(OutboxEvent.payload).order_by(OutboxEvent.id))).scalars()
        return [dict(p) for p in rows]


async def promises_of(database: Database, job_id: str) -> list[tuple[str, str]]:
    async with database.read() as s:
        rows = await s.execute(select(Promise.id, Promise.status).where(Promise.job_id == job_id))
        return [(str(i), str(st)) for i, st in rows]


async def recovery(database: Database, batch_id: str) -> tuple[int, int, int]:
    async with database.read() as s:
        row = (
            await s.execute(
                select(func.sum(RecoveryStat.contacts), func.sum(RecoveryStat.promises),
                       func.sum(RecoveryStat.promised_amount))
                .where(RecoveryStat.batch_id == batch_id)
            )
        ).one()  # fmt: skip
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


CRM_EVENTS = ["call.completed", "promise.created", "promise.withdrawn", "call.corrected"]


async def test_a_late_voicemail_withdraws_the_promise_and_its_follow_up_and_tells_the_crm(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, _ = await pw.dial_one(database, settings, admin, "retell")
    await second_waiting_job(database, attempt)
    await subscribe_crm(database, CRM_EVENTS)
    async with database.write() as s:
        await s.execute(
            update(Batch).where(Batch.id == attempt.batch_id)
            .values(call_settings={"collections": {"broken_promise": {"follow_up": True}}})
        )  # fmt: skip
    # The first final report carries the agent's analysis: a promise to pay on 20/03/2026.
    promised = load("retell", "webhook_call_analyzed")["call"]["call_analysis"]
    ended = {**load("retell", "webhook_call_ended")["call"], "metadata": {"attempt_id": attempt.id},
             "call_analysis": promised}  # fmt: skip
    r = await pw.post_retell(client, body(ended, "call_ended"), frozen_clock)
    assert r.status_code == 200, r.text
    ((promise_id, status),) = await promises_of(database, attempt.job_id)
    assert status == "open"
    # The promise's follow-up keeps the job scheduled (not finished).
    assert (await job_and_batch(database, attempt))[:2] == ("scheduled", "promise")
    assert await recovery(database, attempt.batch_id) == (1, 1, 1234567)
    assert [e["type"] for e in await outbox(database)] == ["promise.created", "call.completed"]

    # Retell's later analysis says the line was a voicemail (delivered twice).
    voicemail = load("retell", "webhook_call_analyzed_voicemail")["call"]["call_analysis"]
    frozen_clock.advance(timedelta(seconds=20))
    for _ in range(2):
        r = await pw.post_retell(
            client, body({**ended, "call_analysis": voicemail}, "call_analyzed"), frozen_clock
        )
        assert r.status_code == 200, r.text
    # Nobody promised anything: the promise is withdrawn (never judged broken), it leaves
    # the recovery figures, and the follow-up it scheduled is replaced by a voicemail retry.
    assert await promises_of(database, attempt.job_id) == [(promise_id, "withdrawn")]
    assert await recovery(database, attempt.batch_id) == (0, 0, 0)
    status, reason, *_ = await job_and_batch(database, attempt)
    assert (status, reason) == ("scheduled", "retry")
    async with database.read() as s:
        job = await s.get(Job, attempt.job_id)
        assert job is not None
        assert job.business_result is None
        assert "follow_up" not in (job.result or {}) or job.result["follow_up"].get(
            "reason") != "promise"  # fmt: skip
    # The CRM hears it once: the promise withdrawn, the call corrected.
    events = await outbox(database)
    assert [e["type"] for e in events] == [
        "promise.created",
        "call.completed",
        "promise.withdrawn",
        "call.corrected",
    ]
    withdrawn, corrected = events[2]["data"], events[3]["data"]
    assert (withdrawn["promise_id"], withdrawn["status"]) == (promise_id, "withdrawn")
    assert corrected["attempt_id"] == attempt.id
    assert (corrected["previous_outcome"], corrected["outcome"]) == ("completed", "voicemail")
    assert corrected["withdrawn_promises"] == [promise_id]
    assert corrected["business_result"] is None
    assert corrected["refund_units"] == events[1]["data"]["cost_units"] > 0
    assert corrected["cost_units"] == 0
    assert corrected["job"]["status"] == "scheduled"
    assert corrected["reason"] == "provider_voicemail_verdict"


async def test_twilio_amd_after_the_agents_promise_withdraws_it_and_corrects_the_webhooks(
    database: Database, settings: Settings, admin: httpx.AsyncClient,
    client: httpx.AsyncClient, frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, sent = await pw.dial_one(database, settings, admin, "twilio")
    await subscribe_crm(database, [*CRM_EVENTS, "job.finished"])
    r = await admin.put("/api/v1/accounts/acc-acme/providers/twilio",
                        json={"credentials": {"report_secret": "rsec_acme"}})  # fmt: skip
    assert r.status_code == 200, r.text
    fields = dict(httpx.QueryParams(sent.content.decode()).multi_items())
    sid = "CA5d0d0d8047bf685c3f0ff980fe62c123"

    async def post(url: str, params: dict[str, str]) -> httpx.Response:
        return await client.post(
            url[len(settings.PUBLIC_BASE_URL):], content=urlencode(params),
            headers={"content-type": "application/x-www-form-urlencoded",
                     "x-twilio-signature": compute_signature(url, params, pw.TWILIO_TOKEN)},
        )  # fmt: skip

    record = {"sid": sid, "status": "completed", "answered_by": "human", "duration": "87"}
    pw.VENDOR.records[sid] = record
    human = {**load("twilio", "status_callback_completed_human"), "CallSid": sid}
    assert (await post(fields["StatusCallback"], human)).status_code == 200
    # The agent server reports the debtor's promise (docs/providers.md section 4.5).
    report = json.dumps({
        "attempt_id": attempt.id, "call_sid": sid, "business_result": "promesa_de_pago",
        "extracted": {"fecha_promesa": "20/03/2026", "monto_promesa": "1.234.567"},
    }).encode()  # fmt: skip
    r = await client.post("/api/v1/webhooks/twilio/report", content=report, headers={
        "content-type": "application/json",
        "x-dialer-signature": sign_report(report, "rsec_acme", frozen_clock.now())})  # fmt: skip
    assert r.status_code == 200, r.text
    ((promise_id, _),) = await promises_of(database, attempt.job_id)
    # Then the asynchronous AMD verdict: a machine.
    record["answered_by"] = "machine_end_beep"
    machine = {**load("twilio", "amd_callback_machine"), "CallSid": sid}
    assert (await post(fields["AsyncAmdStatusCallback"], machine)).status_code == 200
    assert await promises_of(database, attempt.job_id) == [(promise_id, "withdrawn")]
    types = [e["type"] for e in await outbox(database)]
    assert types == ["call.completed", "job.finished", "promise.created",
                     "promise.withdrawn", "call.corrected"]  # fmt: skip
    corrected = (await outbox(database))[-1]["data"]
    assert corrected["reason"] == "answering_machine_detected"
    # The agent's promise had reopened the one-job campaign for its follow-up; the
    # machine's verdict replaces that follow-up with the voicemail retry.
    assert corrected["job"]["status"] == "scheduled"
    async with database.read() as session:
        job = await session.get(Job, attempt.job_id)
        assert job is not None
        assert job.wait_reason == "retry"
    assert corrected["withdrawn_promises"] == [promise_id]
