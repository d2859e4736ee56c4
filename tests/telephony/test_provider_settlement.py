"""What the provider reports beyond the outcome, through the real webhook endpoint:

* the recording URL, the provider's cost, the collected variables are kept on the attempt;
* a late ``in_voicemail`` (Retell ``call_analyzed``) re-settles a completed attempt as a
  voicemail, with the charge difference in the ledger exactly once;
* ``concurrency_limit_reached`` spends no attempt: the hold is released and the job backs off.
"""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import Account, CallAttempt, Job, LedgerEntry
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
