"""Dial-time enforcement in the dispatcher's claim: the weekly contact limit across
batches, one call at a time per debtor, and the do-not-call list checked before dialing.

Calls end through the real webhook path (``handle_events``), as a provider would report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job.states import JobStatus, Outcome
from dialer.kit.clock import FrozenClock
from dialer.models import LedgerEntry
from dialer.telephony.base import CallEvent
from dialer.telephony.webhooks import handle_events
from dialer.worker.claim import ClaimedJob, claim_due_jobs
from tests.factories import (
    account_attempts,
    cl_cobranza_settings,
    contact_log,
    jobs_of,
    make_account,
    make_debtor_batch,
)

SANTIAGO = ZoneInfo("America/Santiago")
# Tuesday 2026-03-10 10:00 in Santiago (UTC-3).
TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=SANTIAGO).astimezone(UTC)
RUT = "12345678-5"


async def claim(db: Database, now: datetime) -> list[ClaimedJob]:
    async with db.write() as s:
        return await claim_due_jobs(
            s, worker_id="w-test", now=now, limit=50, lease=timedelta(minutes=5)
        )


async def end_call(db: Database, job: ClaimedJob, outcome: Outcome, at: datetime) -> None:
    answered = outcome == Outcome.COMPLETED
    event = CallEvent(
        provider="simulated", provider_call_id=f"sim-{job.attempt_id}",
        event_key=f"test:{job.attempt_id}", attempt_id=job.attempt_id, final=True,
        status="ended", outcome=outcome.value, duration_s=90 if answered else 0,
        started_at=at, answered_at=at if answered else None,
        ended_at=at + timedelta(seconds=90 if answered else 25),
    )  # fmt: skip
    async with db.write() as s:
        await handle_events(s, [event], now=at + timedelta(seconds=90))


class TestWeeklyContactLimit:
    async def test_debtor_in_two_batches_gets_one_contact_a_week(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        march = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=now)
        april = await make_debtor_batch(database, acc, [(RUT, ["+56987654322"])], now=now)

        # Both jobs are due: only one of the debtor's jobs may be on the line at a time.
        first = await claim(database, now)
        assert len(first) == 1
        other_batch = april if first[0].batch_id == march else march
        [waiting] = await jobs_of(database, other_batch)
        assert (waiting.status, waiting.attempts) == (JobStatus.SCHEDULED, 0)
        assert waiting.wait_reason == "compliance_debtor_in_flight"

        await end_call(database, first[0], Outcome.COMPLETED, now)
        # The in-flight wait is over, but the debtor was contacted: a week's wait.
        later = now + timedelta(minutes=10)
        frozen_clock.set(later)
        assert await claim(database, later) == []
        [waiting] = await jobs_of(database, other_batch)
        assert waiting.wait_reason == "compliance_weekly_limit"
        assert waiting.attempts == 0
        assert waiting.next_attempt_at == now + timedelta(days=7)

        # Six days later: still held. Seven days after the contact: dialed.
        assert await claim(database, now + timedelta(days=6, hours=1)) == []
        week = now + timedelta(days=7)
        frozen_clock.set(week)
        second = await claim(database, week)
        assert [c.batch_id for c in second] == [other_batch]
        assert second[0].phone == waiting.phones[0]

    async def test_snooze_ends_inside_the_calling_window(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        # Contact on Friday 2026-04-24 19:57 (the latest start leaving the 2 minutes a call
        # needs); a week later is Friday 1 May, a holiday:
        # the job waits for Saturday 2 May at 08:00.
        contact_at = datetime(2026, 4, 24, 19, 57, tzinfo=SANTIAGO).astimezone(UTC)
        frozen_clock.set(contact_at)
        acc = await make_account(database, cap=100)
        a = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=contact_at)
        [c] = await claim(database, contact_at)
        await end_call(database, c, Outcome.COMPLETED, contact_at)
        b = await make_debtor_batch(database, acc, [(RUT, ["+56987654329"])], now=contact_at)
        monday = datetime(2026, 4, 27, 9, 0, tzinfo=SANTIAGO).astimezone(UTC)
        frozen_clock.set(monday)
        assert await claim(database, monday) == []
        [job] = await jobs_of(database, b)
        wake = job.next_attempt_at.astimezone(SANTIAGO)
        assert (wake.date().isoformat(), wake.hour, wake.minute) == ("2026-05-02", 8, 0)
        assert a != b

    async def test_unanswered_attempts_are_not_contacts(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database, acc, [(RUT, ["+56987654321", "+56987654322"])], now=now
        )
        [c1] = await claim(database, now)
        await end_call(database, c1, Outcome.NO_ANSWER, now)
        # Phone fallback at once, same day: the week is not spent.
        [c2] = await claim(database, now + timedelta(minutes=2))
        assert (c2.phone, c2.attempt_number) == ("+56987654322", 2)
        await end_call(database, c2, Outcome.BUSY, now + timedelta(minutes=2))
        # Retry delay (1 h) then the first phone again, still the same day.
        [c3] = await claim(database, now + timedelta(hours=1, minutes=3))
        assert c3.attempt_number == 3
        assert await contact_log(database, acc) == []
        [job] = await jobs_of(database, batch)
        assert job.wait_reason is None

    async def test_without_a_profile_no_weekly_limit(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        plain = cl_cobranza_settings(compliance_profile="none")
        await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=now, settings=plain)
        [c] = await claim(database, now)
        await end_call(database, c, Outcome.COMPLETED, now)
        await make_debtor_batch(database, acc, [(RUT, ["+56987654322"])], now=now, settings=plain)
        assert len(await claim(database, now + timedelta(minutes=5))) == 1

    async def test_contacts_of_another_account_do_not_count(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc_a, acc_b = await make_account(database, cap=100), await make_account(database, cap=100)
        await make_debtor_batch(database, acc_a, [(RUT, ["+56987654321"])], now=now)
        [c] = await claim(database, now)
        await end_call(database, c, Outcome.COMPLETED, now)
        await make_debtor_batch(database, acc_b, [(RUT, ["+56987654321"])], now=now)
        claimed = await claim(database, now + timedelta(minutes=5))
        assert [x.account_id for x in claimed] == [acc_b]


class TestDoNotCallAtDialTime:
    async def test_number_listed_while_the_batch_runs_is_never_dialed(
        self, database: Database, frozen_clock: FrozenClock, admin: httpx.AsyncClient
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database,
            acc,
            [
                ("11111111-1", ["+56911111111", "+56922222222"]),
                ("22222222-2", ["+56933333333"]),
                ("33333333-3", ["+56944444444"]),
            ],
            now=now,
            settings=cl_cobranza_settings(max_concurrent_calls=1),
        )
        [first] = await claim(database, now)
        assert first.phone == "+56911111111"
        await end_call(database, first, Outcome.NO_ANSWER, now)
        # The operator lists two numbers after the upload, while the batch runs.
        r = await admin.post(
            f"/api/v1/accounts/{acc}/do-not-call",
            json={"phones": ["922222222", "+56933333333"], "reason": "solicitó no ser llamado"},
        )
        assert r.status_code == 201, r.text

        dialed: list[str] = [first.phone]
        at = now
        for _ in range(10):
            at += timedelta(hours=2)
            for c in await claim(database, at):
                dialed.append(c.phone)
                await end_call(database, c, Outcome.NO_ANSWER, at)
        assert "+56922222222" not in dialed
        assert "+56933333333" not in dialed
        assert "+56944444444" in dialed

        jobs = {j.dni: j for j in await jobs_of(database, batch)}
        # Only phone left is listed: the job ends without a call.
        ended = jobs["22222222-2"]
        assert (ended.status, ended.last_outcome, ended.attempts) == (
            JobStatus.FAILED, "do_not_call", 0,
        )  # fmt: skip
        # A job with another phone keeps calling it (its fallback skips the listed one).
        assert {a.phone for a in await account_attempts(database, acc) if a.job_id == jobs["11111111-1"].id} == {
            "+56911111111"
        }  # fmt: skip
        assert all(
            a.phone not in ("+56922222222", "+56933333333")
            for a in await account_attempts(database, acc)
        )
        summary = (await admin.get(f"/api/v1/batches/{batch}/summary")).json()
        assert summary["compliance"]["do_not_call_jobs"] == 1
        assert summary["failed_jobs"] >= 1
        # Nothing was reserved or charged for the job that was never dialed.
        async with database.read() as s:
            entries = (
                await s.execute(select(LedgerEntry.id).where(LedgerEntry.job_id == ended.id))
            ).all()
        assert entries == []

    async def test_argentine_registry_spelling_blocks_the_mobile_number(
        self, database: Database, frozen_clock: FrozenClock, admin: httpx.AsyncClient
    ) -> None:
        now = TUESDAY_10
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database, acc, [(None, ["+5491145678901"])], now=now,
            settings=cl_cobranza_settings(compliance_profile="none"),
        )  # fmt: skip
        r = await admin.post(
            f"/api/v1/accounts/{acc}/do-not-call/import",
            files={"file": ("no_llame.txt", b"1145678901\n")},
            data={"country": "AR"},
        )
        assert r.json()["added"] == 1
        assert await claim(database, now) == []
        [job] = await jobs_of(database, batch)
        assert (job.status, job.last_outcome) == (JobStatus.FAILED, "do_not_call")
