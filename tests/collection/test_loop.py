"""The collections loop end to end: the simulated provider reports each business result
(SIM_SCRIPT), a worker settles it, and what follows is checked in the rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from dialer.call.event import CallEvent
from dialer.call.settlement import apply_events
from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt, Event, Job, Payment, Promise
from dialer.worker.runner import Worker
from tests.factories import api_account, api_debtor_batch, debtor, rut
from tests.fixtures.waiting import eventually
from tests.hooks.receiver import Receiver

SCL = ZoneInfo("America/Santiago")
# Wednesday 2 December 2026, 11:00 in Santiago.
WED_11 = datetime(2026, 12, 2, 11, 0, tzinfo=SCL)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SCL).astimezone(UTC)  # type: ignore[misc]


def phone(n: int) -> str:
    return f"+5699{n:07d}"


def worker_for(database: Database, settings: Settings, clock: FrozenClock, **script: Any) -> Worker:
    s = settings.model_copy(
        update={
            "SIM_SPEEDUP": 0,
            "POLL_INTERVAL": timedelta(milliseconds=20),
            "WORKER_CONCURRENCY": 10,
            "SIM_SCRIPT": {phone(int(k.removeprefix("n"))): v for k, v in script.items()},
        }
    )
    return Worker(database, s, clock=clock)


async def run_until(worker: Worker, done: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(done, within=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def account_with_balance(admin: httpx.AsyncClient) -> str:
    acc = (await api_account(admin))["account_id"]
    r = await admin.post(f"/api/v1/accounts/{acc}/topup", json={"minutes": 1000})
    assert r.status_code in (200, 201), r.text
    return acc


async def rows(database: Database, model: Any, *where: Any) -> list[Any]:
    async with database.read() as s:
        out = list((await s.execute(select(model).where(*where))).scalars().all())
        s.expunge_all()
        return out


ANSWER = {"outcome": "completed", "business_result": "refused"}
NO_ANSWER = {"outcome": "no_answer"}


async def test_a_payment_import_stops_the_debtors_calls_in_two_batches(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    hourly = {"retry_settings": {"max_attempts": 3, "retry_delay_hours": 1,
                                 "per_outcome": {"no_answer": {"delay_hours": 1}}}}  # fmt: skip
    first = await api_debtor_batch(admin, acc, [debtor(1, 90_000), debtor(2)], **hourly)
    second = await api_debtor_batch(admin, acc, [debtor(1, 90_000), debtor(3)], **hourly)
    worker = worker_for(database, settings, frozen_clock, n1=[NO_ANSWER], n2=[NO_ANSWER],
                        n3=[NO_ANSWER])  # fmt: skip

    async def all_dialed_once() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 4

    await run_until(worker, all_dialed_once)  # every job waits for its retry in an hour

    r = await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[{"rut": rut(1), "amount": "$90.000", "date": "02/12/2026", "reference": "T-77"}],
    )
    assert r.status_code == 200, r.text
    assert r.json()["jobs_cancelled"] == 2

    frozen_clock.set(WED_11 + timedelta(hours=2))  # the retries are due

    async def others_dialed_again() -> bool:
        ended = await rows(database, CallAttempt, CallAttempt.status == "ended")
        return len(ended) == 6

    await run_until(worker, others_dialed_again)
    attempts = await rows(database, CallAttempt)
    by_phone: dict[str, int] = {}
    for a in attempts:
        by_phone[a.phone] = by_phone.get(a.phone, 0) + 1
    # The paid debtor was dialed once per batch before the payment, never after.
    assert by_phone == {phone(1): 2, phone(2): 2, phone(3): 2}
    paid = await rows(database, Job, Job.dni == rut(1))
    assert {(j.batch_id, j.status, j.result.get("cancelled_reason")) for j in paid} == {
        (first["batch_id"], "cancelled", "paid"),
        (second["batch_id"], "cancelled", "paid"),
    }
    [payment] = await rows(database, Payment)
    assert sorted(payment.matched_jobs) == sorted(j.id for j in paid)


PROMISE = {
    "outcome": "completed",
    "business_result": "promise_to_pay",
    "extracted": {"fecha_promesa": "el viernes", "monto_promesa": "$50.000",
                  "medio_pago": "transferencia"},
}  # fmt: skip
FOLLOW_UP = {"collections": {"broken_promise": {"follow_up": True, "grace_days": 1}}}


async def test_promise_follow_up_on_the_right_day_broken_requeues_inside_the_window_and_figures(
    admin: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    frozen_clock: FrozenClock,
    receiver: Receiver,
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    r = await admin.post(
        f"/api/v1/accounts/{acc}/webhooks",
        json={"url": receiver.url, "events": ["call.completed", "job.finished",
                                              "promise.created", "promise.broken",
                                              "batch.completed"]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    batch = await api_debtor_batch(admin, acc, [debtor(1, 200_000), debtor(2)], **FOLLOW_UP)
    worker = worker_for(
        database, settings.model_copy(update={"WEBHOOKS_ALLOW_PRIVATE": True}), frozen_clock,
        n1=[PROMISE, ANSWER], n2=[ANSWER],
    )  # fmt: skip

    async def first_calls_settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 2

    await run_until(worker, first_calls_settled)
    [job] = await rows(database, Job, Job.dni == rut(1))
    # Promised for Friday 4 December, one day of grace: judged at the start of Sunday,
    # a closed day (Monday-Saturday window): the follow-up is Monday's opening.
    assert (job.status, job.wait_reason) == ("scheduled", "promise")
    assert job.next_attempt_at == local(2026, 12, 7, 9, 0)
    assert job.result["outcome"]["promise_to_pay"] == {
        "amount": 50_000, "currency": "CLP", "date": "2026-12-04", "method": "transfer",
    }  # fmt: skip
    [promise] = await rows(database, Promise)
    assert (promise.status, promise.amount, promise.due_on.isoformat()) == (
        "open",
        50_000,
        "2026-12-04",
    )

    frozen_clock.set(local(2026, 12, 7, 9, 0))

    async def followed_up() -> bool:
        ended = await rows(database, CallAttempt, CallAttempt.status == "ended")
        judged = [p.status for p in await rows(database, Promise)] == ["broken"]
        return len(ended) == 3 and judged  # the judge runs every few poll intervals

    await run_until(worker, followed_up)
    [promise] = await rows(database, Promise)
    assert promise.status == "broken"
    second = max(
        await rows(database, CallAttempt, CallAttempt.job_id == job.id), key=lambda a: a.number
    )
    assert second.started_at == local(2026, 12, 7, 9, 0)  # inside Monday's window
    [job] = await rows(database, Job, Job.dni == rut(1))
    assert job.status == "completed"

    # The figures are the rows, counted.
    attempts = await rows(database, CallAttempt, CallAttempt.batch_id == batch["batch_id"])
    figures = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/recovery")).json()["totals"]
    answered = [a for a in attempts if a.outcome == "completed"]
    assert figures["attempts"] == len(attempts) == 3
    assert figures["contacts"] == figures["right_party_contacts"] == len(answered)
    assert (figures["promises"], figures["promised_amount"]) == (1, 50_000)
    assert (figures["promises_kept"], figures["promises_broken"]) == (0, 1)
    assert figures["minutes"] == round(sum(a.billed_seconds for a in attempts) / 60, 2)
    assert figures["cost"] == round(sum(a.cost_units for a in attempts) / 60, 4)
    assert figures["cost_per_promise"] == figures["cost"]

    async def hooks_delivered() -> bool:
        return {json.loads(x.body)["type"] for x in receiver.received} >= {
            "promise.created", "promise.broken", "call.completed", "job.finished",
            "batch.completed",
        }  # fmt: skip

    await run_until(worker, hooks_delivered)
    bodies = [json.loads(x.body) for x in receiver.received]
    types = [b["type"] for b in bodies]
    assert types.count("call.completed") == 3
    assert types.count("job.finished") == 2
    assert types.count("batch.completed") == 1
    created = next(b for b in bodies if b["type"] == "promise.created")
    assert (created["data"]["amount"], created["data"]["due_on"]) == (50_000, "2026-12-04")
    assert len({b["id"] for b in bodies}) == len(bodies)


async def test_callbacks_are_honoured_at_the_requested_time_or_the_next_opening(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    await api_debtor_batch(admin, acc, [debtor(1), debtor(2)], collections={"callbacks": True},
                   retry_settings={"max_attempts": 3, "retry_delay_hours": 4})  # fmt: skip
    callback = {"outcome": "completed", "business_result": "call_back_later"}
    worker = worker_for(
        database, settings, frozen_clock,
        n1=[{**callback, "extracted": {"callback_at": "mañana a las 11"}}, ANSWER],
        n2=[{**callback, "extracted": {"volver_a_llamar": "mañana a las 22:00"}}, ANSWER],
    )  # fmt: skip

    async def settled(n: int) -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == n

    await run_until(worker, lambda: settled(2))
    one, two = [await rows(database, Job, Job.dni == rut(i)) for i in (1, 2)]
    assert (one[0].status, one[0].wait_reason) == ("scheduled", "callback")
    assert one[0].next_attempt_at == local(2026, 12, 3, 11, 0)  # as asked, no retry delay
    assert one[0].result["follow_up"]["moved"] is False
    # 22:00 is outside the 09:00-20:00 window: Friday's opening, and the move is recorded.
    assert two[0].next_attempt_at == local(2026, 12, 4, 9, 0)
    assert two[0].result["follow_up"]["moved"] is True
    assert two[0].result["follow_up"]["requested_at"] == "2026-12-04T01:00:00Z"

    frozen_clock.set(local(2026, 12, 3, 11, 0))
    await run_until(worker, lambda: settled(3))
    latest = {a.phone: a for a in sorted(await rows(database, CallAttempt), key=lambda a: a.number)}
    assert latest[phone(1)].number == 2
    assert latest[phone(1)].started_at == local(2026, 12, 3, 11, 0)
    assert latest[phone(2)].number == 1  # its callback is tomorrow
    frozen_clock.set(local(2026, 12, 4, 9, 0))
    await run_until(worker, lambda: settled(4))
    second = max(
        await rows(database, CallAttempt, CallAttempt.phone == phone(2)), key=lambda a: a.number
    )
    assert second.started_at == local(2026, 12, 4, 9, 0)


async def test_each_business_result_is_structured_on_attempt_and_job(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    results = {
        1: ("wrong_person", {"wrong_person": True}),
        2: ("refused", {}),
        3: ("dispute", {"resultado": "no reconoce la deuda"}),
        4: ("do_not_call", {"resultado": "no_llamar"}),
        5: ("already_paid", {"monto_pagado": "30 lucas", "fecha_pagado": "2026-11-30"}),
        6: (
            "promise_to_pay",
            {"fecha_pago_cliente": "cuando pueda", "monto_pago_cliente": "50000"},
        ),
    }
    batch = await api_debtor_batch(admin, acc, [debtor(n) for n in results])
    script = {f"n{n}": [{"outcome": "completed", "business_result": kind, "extracted": extra}]
              for n, (kind, extra) in results.items()}  # fmt: skip
    worker = worker_for(database, settings, frozen_clock, **script)

    async def settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 6

    await run_until(worker, settled)
    by_phone = {a.phone: a for a in await rows(database, CallAttempt)}
    for n, (kind, _extra) in results.items():
        a = by_phone[phone(n)]
        assert (a.business_result, a.result["kind"]) == (kind, kind), n
    paid = by_phone[phone(5)].result["paid"]
    assert (paid["amount"], paid["date"]) == (30_000, "2026-11-30")
    vague = by_phone[phone(6)].result
    assert vague["needs_review"] is True
    assert vague["promise_to_pay"] == {
        "amount": 50_000,
        "currency": "CLP",
        "date": None,
        "method": None,
    }
    assert [u["field"] for u in vague["unparsed"]] == ["fecha_pago_cliente"]
    jobs = {j.dni: j for j in await rows(database, Job, Job.batch_id == batch["batch_id"])}
    assert jobs[rut(3)].result["outcome"]["kind"] == "dispute"
    figures = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/recovery")).json()["totals"]
    assert (figures["contacts"], figures["right_party_contacts"]) == (6, 5)  # not the wrong person
    assert (figures["promises"], figures["promised_amount"]) == (1, 50_000)


async def test_voicemail_leaves_the_message_and_retries_in_another_band(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)  # the morning band
    acc = await account_with_balance(admin)
    vm = {"action": "leave_message", "message": "Hola, le llamamos de Cobranzas Sur.",
          "retry_other_band": True}  # fmt: skip
    await api_debtor_batch(admin, acc, [debtor(1)], collections={"voicemail": vm},
                   retry_settings={"max_attempts": 3, "retry_delay_hours": 0.5})  # fmt: skip
    worker = worker_for(database, settings, frozen_clock, n1=[{"outcome": "voicemail"}, ANSWER])

    async def settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 1

    await run_until(worker, settled)
    [a] = await rows(database, CallAttempt)
    assert a.extracted["voicemail_message_left"] == vm["message"]
    [job] = await rows(database, Job)
    # 11:30 would be the morning band again: the retry moves to the midday band.
    assert job.next_attempt_at == local(2026, 12, 2, 12, 0)
    assert job.result["follow_up"]["reason"] == "voicemail_band"


async def test_an_analysis_after_the_settlement_records_the_promise_once(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    # Retell sends call_ended first and call_analyzed (the analysis) seconds later.
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    batch = await api_debtor_batch(admin, acc, [debtor(1)])
    worker = worker_for(database, settings, frozen_clock, n1=[{"outcome": "completed"}])

    async def settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 1

    await run_until(worker, settled)
    [a] = await rows(database, CallAttempt)
    analyzed = CallEvent(
        provider=a.provider, provider_call_id=a.provider_call_id or "", attempt_id=a.id,
        event_key=f"{a.provider}:{a.provider_call_id}:call_analyzed", final=True,
        status="call_analyzed", outcome="completed",
        raw={"call_analysis": {"custom_analysis_data": {
            "resultado": "promesa_de_pago", "fecha_promesa": "15/12/2026",
            "monto_promesa": "$80.000"}}},
        extracted={"fecha_promesa": "15/12/2026", "monto_promesa": "$80.000"},
    )  # fmt: skip
    for _ in range(2):  # delivered twice: recorded once
        async with database.write() as s:
            await apply_events(s, [analyzed], frozen_clock.now())
    [a] = await rows(database, CallAttempt)
    assert a.result["promise_to_pay"]["amount"] == 80_000
    [promise] = await rows(database, Promise)
    assert (promise.amount, promise.due_on.isoformat()) == (80_000, "2026-12-15")
    figures = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/recovery")).json()["totals"]
    assert (figures["attempts"], figures["promises"], figures["promised_amount"]) == (1, 1, 80_000)


def _analyzed(a: CallAttempt, fields: dict[str, str]) -> CallEvent:
    """Retell's ``call_analyzed``: the analysis after ``call_ended`` settled the call
    (webhook shape: docs.retellai.com/features/webhook-overview, call.call_analysis)."""
    return CallEvent(
        provider=a.provider, provider_call_id=a.provider_call_id or "", attempt_id=a.id,
        event_key=f"{a.provider}:{a.provider_call_id}:call_analyzed", final=True,
        status="call_analyzed", outcome="completed",
        raw={"call_analysis": {"custom_analysis_data": fields}}, extracted=fields,
    )  # fmt: skip


async def test_a_callback_or_promise_only_the_later_analysis_reports_is_followed_up(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    # Default collections settings: callbacks and promise follow-ups are on.
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    batch = await api_debtor_batch(admin, acc, [debtor(1), debtor(2), debtor(3)])
    plain = {"outcome": "completed"}  # call_ended: no analysis yet
    worker = worker_for(database, settings, frozen_clock, n1=[plain, ANSWER], n2=[plain],
                        n3=[NO_ANSWER])  # fmt: skip

    async def settled(n: int) -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == n

    await run_until(worker, lambda: settled(3))
    by_phone = {a.phone: a for a in await rows(database, CallAttempt)}
    late = [
        _analyzed(by_phone[phone(1)], {"resultado": "volver_a_llamar",
                                       "callback_at": "mañana a las 11"}),
        _analyzed(by_phone[phone(2)], {"resultado": "promesa_de_pago",
                                       "fecha_promesa": "el viernes", "monto_promesa": "$50.000"}),
    ]  # fmt: skip
    for _ in range(2):  # delivered twice: followed up once
        async with database.write() as s:
            await apply_events(s, late, frozen_clock.now())
    jobs = {j.dni: j for j in await rows(database, Job, Job.batch_id == batch["batch_id"])}
    one, two = jobs[rut(1)], jobs[rut(2)]
    assert (one.status, one.wait_reason, one.completed_at) == ("scheduled", "callback", None)
    assert one.next_attempt_at == local(2026, 12, 3, 11, 0)
    assert one.result["callbacks"] == 1
    assert one.result["outcome"]["kind"] == "call_back_later"
    # Promised for Friday, a day of grace, judged at Sunday's start: Monday's opening.
    assert (two.status, two.wait_reason) == ("scheduled", "promise")
    assert two.next_attempt_at == local(2026, 12, 7, 9, 0)
    [promise] = await rows(database, Promise)
    assert (promise.job_id, promise.amount) == (two.id, 50_000)
    r = await admin.get(f"/api/v1/batches/{batch['batch_id']}")
    assert r.status_code == 200, r.text
    counts = r.json()
    assert (counts["pending_jobs"], counts["completed_jobs"], counts["status"]) == (
        3, 0, "active",
    )  # fmt: skip

    frozen_clock.set(local(2026, 12, 3, 11, 0))  # the callback is honoured at 11:00

    async def called_back() -> bool:
        mine = CallAttempt.phone == phone(1), CallAttempt.status == "ended"
        return len(await rows(database, CallAttempt, *mine)) == 2

    await run_until(worker, called_back)
    second = max(
        await rows(database, CallAttempt, CallAttempt.phone == phone(1)), key=lambda a: a.number
    )
    assert (second.number, second.started_at) == (2, local(2026, 12, 3, 11, 0))


async def test_a_callback_the_last_calls_analysis_asks_for_reopens_the_campaign(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    batch = await api_debtor_batch(admin, acc, [debtor(1)])
    worker = worker_for(database, settings, frozen_clock, n1=[{"outcome": "completed"}])

    async def status() -> str:
        r = await admin.get(f"/api/v1/batches/{batch['batch_id']}")
        assert r.status_code == 200, r.text
        return str(r.json()["status"])

    async def completed() -> bool:
        return await status() == "completed"

    await run_until(worker, completed)  # call_ended settled the only call
    [a] = await rows(database, CallAttempt)
    late = _analyzed(a, {"resultado": "volver_a_llamar", "callback_at": "mañana a las 11"})
    for _ in range(2):  # delivered twice: reopened once
        async with database.write() as s:
            await apply_events(s, [late], frozen_clock.now())
    assert await status() == "active"
    [job] = await rows(database, Job)
    assert (job.status, job.wait_reason) == ("scheduled", "callback")
    reopened = await rows(database, Event, Event.type == "batch.reopened")
    assert [e.data["reason"] for e in reopened] == ["callback"]

    frozen_clock.set(local(2026, 12, 3, 11, 0))  # called back, and the campaign ends again
    await run_until(worker, completed)
    assert len(await rows(database, CallAttempt)) == 2


async def test_max_callbacks_ends_the_job_at_the_limit(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    await api_debtor_batch(admin, acc, [debtor(1)], collections={"max_callbacks": 2})
    later = {"outcome": "completed", "business_result": "call_back_later",
             "extracted": {"callback_at": "en 2 horas"}}  # fmt: skip
    worker = worker_for(database, settings, frozen_clock, n1=[later])  # every call asks again

    for n, (hour, status) in enumerate(((13, "scheduled"), (15, "scheduled"), (15, "completed"))):

        async def settled(n: int = n + 1) -> bool:
            return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == n

        await run_until(worker, settled)
        [job] = await rows(database, Job)
        assert job.status == status, n
        if status == "scheduled":
            assert (job.wait_reason, job.result["callbacks"]) == ("callback", n + 1)
            assert job.next_attempt_at == local(2026, 12, 2, hour, 0)
            frozen_clock.set(local(2026, 12, 2, hour, 0))
    assert job.result["callbacks"] == 2  # the third request ended the job


async def test_callback_and_promise_times_are_read_on_the_debtors_own_clock(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    # Easter Island is two hours behind Santiago in December: 11:00 in Santiago is 09:00
    # there, when the island's window opens.
    easter = ZoneInfo("Pacific/Easter")
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    await api_debtor_batch(admin, acc, [debtor(n, zona_horaria="Pacific/Easter") for n in (1, 2)])
    callback = {"outcome": "completed", "business_result": "call_back_later",
                "extracted": {"callback_at": "mañana a las 11"}}  # fmt: skip
    worker = worker_for(database, settings, frozen_clock, n1=[callback], n2=[PROMISE])

    async def settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 2

    await run_until(worker, settled)
    jobs = {j.dni: j for j in await rows(database, Job)}
    assert jobs[rut(1)].timezone == "Pacific/Easter"
    assert jobs[rut(1)].next_attempt_at == datetime(2026, 12, 3, 11, 0, tzinfo=easter)
    # Friday's promise, a day of grace: broken at the island's Sunday 00:00, followed up
    # at its Monday opening.
    [promise] = await rows(database, Promise)
    assert promise.judge_at == datetime(2026, 12, 6, 0, 0, tzinfo=easter)
    assert jobs[rut(2)].next_attempt_at == datetime(2026, 12, 7, 9, 0, tzinfo=easter)


async def test_a_promise_kept_by_a_partial_payment_ends_the_follow_up(
    admin: httpx.AsyncClient, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(WED_11)
    acc = await account_with_balance(admin)
    batch = await api_debtor_batch(admin, acc, [debtor(1, 200_000), debtor(2)])
    worker = worker_for(database, settings, frozen_clock, n1=[PROMISE, ANSWER], n2=[NO_ANSWER])

    async def settled() -> bool:
        return len(await rows(database, CallAttempt, CallAttempt.status == "ended")) == 2

    await run_until(worker, settled)
    [job] = await rows(database, Job, Job.dni == rut(1))
    assert (job.status, job.wait_reason) == ("scheduled", "promise")  # the default follow-up
    # Thursday: the debtor pays the 50,000 promised, not the whole 200,000 debt.
    r = await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[{"rut": rut(1), "amount": "$50.000", "date": "03/12/2026", "reference": "K-1"}],
    )
    assert r.status_code == 200, r.text
    assert (r.json()["promises_kept"], r.json()["jobs_cancelled"]) == (1, 0)
    [job] = await rows(database, Job, Job.dni == rut(1))
    assert (job.status, job.result["cancelled_reason"]) == ("cancelled", "promise_kept")
    assert job.payload["amount"] == 150_000  # still owed, for any later campaign
    [promise] = await rows(database, Promise)
    assert (promise.status, promise.paid_amount) == ("kept", 50_000)

    frozen_clock.set(local(2026, 12, 7, 9, 0))  # when the follow-up would have called

    async def other_retried() -> bool:
        mine = CallAttempt.phone == phone(2), CallAttempt.status == "ended"
        return len(await rows(database, CallAttempt, *mine)) >= 2

    await run_until(worker, other_retried)
    assert len(await rows(database, CallAttempt, CallAttempt.phone == phone(1))) == 1
    b = (await admin.get(f"/api/v1/batches/{batch['batch_id']}")).json()
    assert b["cancelled_jobs"] == 1
