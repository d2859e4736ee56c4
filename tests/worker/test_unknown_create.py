"""Fault: the provider creates the call but its answer never arrives.

The dispatcher must not dial the debtor again: the attempt is ``unknown``, the job stays
in flight, the rescuer asks the provider (``find_call``), and the call's result is
recorded and billed once. Only a provider answer proving no call exists frees the job.
The vendors are the contract suite's fakes of the Retell, Twilio, ElevenLabs and Vapi APIs
(tests/telephony/contract/vendors.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import AttemptStatus, JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Event, Job, LedgerEntry
from dialer.telephony.providers.twilio import ATTRIBUTION_DEADLINE
from dialer.telephony.webhooks import handle_events
from dialer.worker.maintenance import UNATTRIBUTED_RECHECK
from dialer.worker.runner import UNKNOWN_RECHECK, Worker
from tests.factories import (
    ENDS_WITH_LAST_CALL,
    attempts_of,
    batch_row,
    call_settings,
    job_statuses,
    make_account,
    make_batch,
)
from tests.telephony.contract.vendors import VENDORS, FakeRetell, FakeTwilio, VendorCall


async def claim_and_place(worker: Worker) -> int:
    """One claim round, then wait for the calls it started to be handed over."""
    claimed = await worker._claim_round(asyncio.Event())
    if worker._tasks:
        await asyncio.gather(*list(worker._tasks))
    return claimed


async def charges(db: Database, attempt_id: str) -> int:
    async with db.read() as s:
        return int(
            (
                await s.execute(
                    select(func.count()).where(
                        LedgerEntry.attempt_id == attempt_id, LedgerEntry.kind == "charge"
                    )
                )
            ).scalar_one()
        )


@pytest.mark.parametrize("vendor_name", sorted(VENDORS))
async def test_create_answer_lost_dials_once_records_and_bills_once(
    vendor_name: str, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    vendor = VENDORS[vendor_name]()
    vendor.lose_create_answer = True
    worker = Worker(database, settings, provider=vendor.adapter())
    account = await make_account(database)
    # The recorded final webhooks' agents report a promise to pay (ElevenLabs, Vapi):
    # ended with that call, not waiting for the promise's follow-up.
    batch = await make_batch(
        database, account, jobs=1, now=frozen_clock.now(),
        settings=call_settings(collections=ENDS_WITH_LAST_CALL),
    )  # fmt: skip

    await claim_and_place(worker)
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.UNKNOWN
    assert len(vendor.creates()) == 1  # the vendor did create it
    assert await job_statuses(database, batch) == {"dialing": 1}

    # Not re-dialed while unresolved: claims find nothing, before and after the recheck.
    frozen_clock.advance(timedelta(seconds=30))
    await claim_and_place(worker)
    frozen_clock.advance(UNKNOWN_RECHECK)
    await worker._rescue()  # asks the vendor (find_call by our attempt id) -> found
    await claim_and_place(worker)
    assert len(vendor.creates()) == 1
    (attempt,) = await attempts_of(database, batch)
    (call,) = vendor.calls.values()
    assert attempt.status == AttemptStatus.IN_PROGRESS
    assert attempt.provider_call_id == call.call_id

    # The call's final webhook arrives (twice): recorded and billed once.
    hook = vendor.final_webhook(call, frozen_clock.now())
    adapter = vendor.adapter()
    for _ in range(2):
        events = adapter.parse_webhook(body=hook.body, headers=hook.headers, url=hook.url,
                                       now=frozen_clock.now())  # fmt: skip
        async with database.write() as s:
            await handle_events(s, events)
    (attempt,) = await attempts_of(database, batch)
    assert (attempt.status, attempt.outcome) == ("ended", "completed")
    assert attempt.duration_s > 0
    assert await charges(database, attempt.id) == 1
    assert await job_statuses(database, batch) == {"completed": 1}
    row = await batch_row(database, batch)
    assert (row.attempts_made, row.answered_calls) == (1, 1)
    assert len(vendor.creates()) == 1


async def test_only_a_provider_answer_that_no_call_exists_frees_the_job(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    vendor = FakeRetell()
    worker = Worker(database, settings, provider=vendor.adapter())
    account = await make_account(database)
    batch = await make_batch(database, account, jobs=1, now=frozen_clock.now())
    unavailable = True
    lookups_fail = True
    handle = vendor.handle

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal unavailable
        if vendor.is_create(request) and unavailable:
            unavailable = False
            return httpx.Response(503, text="upstream unavailable")
        if request.url.path == "/v3/list-calls" and lookups_fail:
            return httpx.Response(500, json={"message": "list unavailable"})
        return handle(request)

    vendor.handle = flaky  # type: ignore[method-assign]
    await claim_and_place(worker)  # 503 on the create: outcome unknown
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.UNKNOWN

    # Retell cannot answer the lookup yet: the job stays as it is, not re-dialed.
    frozen_clock.advance(UNKNOWN_RECHECK + timedelta(seconds=1))
    await worker._rescue()
    await claim_and_place(worker)
    assert len(vendor.creates()) == 1
    assert (await attempts_of(database, batch))[0].status == AttemptStatus.UNKNOWN

    # Retell answers: no call for that attempt. The job is freed, the attempt not spent.
    lookups_fail = False
    await worker._rescue()
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.ABANDONED
    statuses = await job_statuses(database, batch)
    assert statuses == {"scheduled": 1}
    await claim_and_place(worker)
    assert len(vendor.creates()) == 2
    assert len(vendor.calls) == 1  # one call ever existed
    assert JobStatus.IN_PROGRESS in {j for j in await job_statuses(database, batch)}


async def test_further_provider_ids_are_kept_from_the_create(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    vendor = VENDORS["vapi"]()
    worker = Worker(database, settings, provider=vendor.adapter())
    account = await make_account(database)
    batch = await make_batch(database, account, jobs=1, now=frozen_clock.now())
    await claim_and_place(worker)
    (attempt,) = await attempts_of(database, batch)
    (call,) = vendor.calls.values()
    assert attempt.provider_call_id == call.call_id
    assert attempt.provider_ids == {
        "control_url": f"https://control.vapi.example/{call.call_id}/control"
    }


async def test_twilio_calls_it_cannot_tell_apart_go_to_the_operator_never_guessed(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    """Twilio keeps no metadata: a lost create is matched to its call only by proof (the
    call's Call Events naming the attempt). Two candidate calls without proof past the
    attribution deadline are not guessed: the attempt stays unknown, the job is never
    re-dialed, the operator sees it; once Twilio's events name the attempt, it is found."""
    vendor = FakeTwilio()
    vendor.lose_create_answer = True
    worker = Worker(database, settings, provider=vendor.adapter())
    account = await make_account(database)
    batch = await make_batch(database, account, jobs=1, now=frozen_clock.now())
    await claim_and_place(worker)
    (attempt,) = await attempts_of(database, batch)
    (ours,) = vendor.calls.values()
    # A second call to the same debtor from our number in the same minutes, that no
    # attempt of ours owns (placed outside dialer, or by a create lost for good).
    vendor.calls["CA" + "9" * 32] = VendorCall("CA" + "9" * 32, "elsewhere", ours.to_number)

    async def job_row() -> Any:
        async with database.read() as s:
            return (await s.execute(
                select(Job.id, Job.status, Job.wait_reason, Job.lease_expires_at)
                .where(Job.id == attempt.job_id)
            )).one()  # fmt: skip

    frozen_clock.advance(UNKNOWN_RECHECK)
    await worker._rescue()  # two candidates, no events yet: ask again later
    assert (await job_row()).wait_reason is None
    frozen_clock.set(attempt.started_at + ATTRIBUTION_DEADLINE)
    for _ in range(2):
        await worker._rescue()  # past the deadline, still no proof: the operator's
        await claim_and_place(worker)
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.UNKNOWN
    assert "no call event names attempt" in (attempt.error or "")
    job = await job_row()
    assert (job.status, job.wait_reason) == ("dialing", "unresolved_call")
    assert job.lease_expires_at == frozen_clock.now() + UNATTRIBUTED_RECHECK
    assert len(vendor.creates()) == 1  # never re-dialed
    async with database.read() as s:
        shown = (await s.execute(select(Event.data).where(Event.job_id == job.id))).scalars()
        assert [d.get("wait_reason") for d in shown if d.get("wait_reason")] == [
            "unresolved_call"
        ]  # shown once, however often asked

    # Twilio's Call Events become readable: they name the attempt on its own call.
    vendor.events_ready = True
    frozen_clock.advance(UNATTRIBUTED_RECHECK + timedelta(seconds=1))
    await worker._rescue()
    (attempt,) = await attempts_of(database, batch)
    assert (attempt.status, attempt.provider_call_id) == ("in_progress", ours.call_id)
    assert (await job_row()).wait_reason is None
    assert len(vendor.creates()) == 1


async def unresolved_twilio_attempt(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> tuple[FakeTwilio, Worker, str, VendorCall]:
    """A Twilio attempt left unknown for the operator: its create's answer was lost and
    two calls to the debtor cannot be told apart past the attribution deadline."""
    vendor = FakeTwilio()
    vendor.lose_create_answer = True
    worker = Worker(database, settings, provider=vendor.adapter())
    account = await make_account(database)
    batch = await make_batch(database, account, jobs=1, now=frozen_clock.now())
    await claim_and_place(worker)
    (attempt,) = await attempts_of(database, batch)
    (ours,) = vendor.calls.values()
    vendor.calls["CA" + "9" * 32] = VendorCall("CA" + "9" * 32, "elsewhere", ours.to_number)
    frozen_clock.set(attempt.started_at + ATTRIBUTION_DEADLINE)
    await worker._rescue()
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.UNKNOWN
    return vendor, worker, batch, ours


async def test_an_operator_names_the_call_of_an_unresolved_attempt(
    database: Database, settings: Settings, frozen_clock: FrozenClock,
    admin: httpx.AsyncClient, client: httpx.AsyncClient,
) -> None:  # fmt: skip
    vendor, _, batch, ours = await unresolved_twilio_attempt(database, settings, frozen_clock)
    (attempt,) = await attempts_of(database, batch)
    url = f"/api/v1/attempts/{attempt.id}/resolve"
    assert (await client.post(url, json={"no_call": True})).status_code == 401
    bad = await admin.post(url, json={"provider_call_id": ours.call_id, "no_call": True})
    assert bad.status_code == 422
    r = await admin.post(url, json={"provider_call_id": ours.call_id})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    (attempt,) = await attempts_of(database, batch)
    assert (attempt.status, attempt.provider_call_id) == ("in_progress", ours.call_id)
    assert await job_statuses(database, batch) == {"in_progress": 1}
    # Resolved once: a second resolution is refused; the call is followed as any other.
    assert (await admin.post(url, json={"no_call": True})).status_code == 409
    hook = vendor.final_webhook(ours, frozen_clock.now())
    events = vendor.adapter().parse_webhook(body=hook.body, headers=hook.headers, url=hook.url,
                                            now=frozen_clock.now())  # fmt: skip
    async with database.write() as s:
        await handle_events(s, events)
    assert await job_statuses(database, batch) == {"completed": 1}
    assert await charges(database, attempt.id) == 1
    assert len(vendor.creates()) == 1


async def test_an_operator_finding_no_call_lets_the_job_be_dialed_again(
    database: Database, settings: Settings, frozen_clock: FrozenClock, admin: httpx.AsyncClient
) -> None:
    vendor, worker, batch, _ = await unresolved_twilio_attempt(database, settings, frozen_clock)
    (attempt,) = await attempts_of(database, batch)
    r = await admin.post(f"/api/v1/attempts/{attempt.id}/resolve", json={"no_call": True})
    assert r.status_code == 200, r.text
    (attempt,) = await attempts_of(database, batch)
    assert attempt.status == AttemptStatus.ABANDONED
    assert await job_statuses(database, batch) == {"scheduled": 1}
    vendor.lose_create_answer = False
    await claim_and_place(worker)
    assert len(vendor.creates()) == 2  # the operator's decision: dialed again
