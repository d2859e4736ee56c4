"""Records and in-call requests: a debtor who asks not to be called again; the retention
of transcripts and recordings (the contact log stays); what the default scripts say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dialer.compliance.service import purge_call_records
from dialer.db.session import Database
from dialer.job.states import JobStatus, Outcome
from dialer.kit.clock import FrozenClock
from dialer.models import CallAttempt, ContactLog, DoNotCall
from dialer.script.defaults import ACQUISITION, BASIC
from dialer.script.render import available_variables, job_variables
from dialer.telephony.base import CallEvent
from dialer.telephony.webhooks import handle_events
from tests.compliance.test_dial_time import claim
from tests.factories import (
    cl_cobranza_settings,
    contact_log,
    jobs_of,
    make_account,
    make_debtor_batch,
)

RUT = "12345678-5"
NOW = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # Tuesday 10:00 in Santiago


async def _answer(db: Database, attempt_id: str, at: datetime, result: str) -> None:
    event = CallEvent(
        provider="simulated", provider_call_id=f"sim-{attempt_id}", event_key=f"t:{attempt_id}",
        attempt_id=attempt_id, final=True, status="ended", outcome=Outcome.COMPLETED.value,
        business_result=result, duration_s=60, started_at=at, answered_at=at,
        ended_at=at + timedelta(seconds=60), transcript="Agente: ... Cliente: no me llamen más",
        summary="pide no ser llamado",
    )  # fmt: skip
    async with db.write() as s:
        await handle_events(s, [event], now=at + timedelta(seconds=60))


class TestDoNotCallRequest:
    async def test_number_listed_and_the_debtors_other_jobs_cancelled(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        frozen_clock.set(NOW)
        acc = await make_account(database, cap=100)
        none = cl_cobranza_settings(compliance_profile="none")
        a = await make_debtor_batch(
            database, acc, [(RUT, ["+56987654321"])], now=NOW, settings=none
        )
        [c] = await claim(database, NOW)
        b = await make_debtor_batch(database, acc, [(RUT, ["+56987654322"]), ("11111111-1",
                             ["+56987654323"])], now=NOW, settings=none)  # fmt: skip
        await _answer(database, c.attempt_id, NOW, "no_llamar")
        async with database.read() as s:
            listed = set(
                (
                    await s.execute(select(DoNotCall.phone).where(DoNotCall.account_id == acc))
                ).scalars()
            )
        assert listed == {"+56987654321"}
        others = {j.dni: j for j in await jobs_of(database, b)}
        assert (others[RUT].status, others[RUT].last_outcome) == (
            JobStatus.CANCELLED,
            "do_not_call",
        )
        assert others["11111111-1"].status == JobStatus.PENDING  # another debtor: untouched
        [called] = await jobs_of(database, a)
        assert called.status == JobStatus.COMPLETED

    async def test_other_results_list_nothing(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        frozen_clock.set(NOW)
        acc = await make_account(database, cap=100)
        await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=NOW,
                         settings=cl_cobranza_settings(compliance_profile="none"))  # fmt: skip
        [c] = await claim(database, NOW)
        await _answer(database, c.attempt_id, NOW, "promise_to_pay")
        async with database.read() as s:
            assert (
                await s.execute(select(DoNotCall).where(DoNotCall.account_id == acc))
            ).first() is None


class TestRetention:
    async def test_old_transcripts_go_the_contact_log_stays(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        frozen_clock.set(NOW)
        acc = await make_account(database, cap=100)
        await make_debtor_batch(database, acc, [(RUT, ["+56987654321"]), ("11111111-1", ["+56987654322"])],
                         now=NOW, settings=cl_cobranza_settings(compliance_profile="none"))  # fmt: skip
        old, new = await claim(database, NOW)
        await _answer(database, old.attempt_id, NOW, "promise_to_pay")
        await _answer(database, new.attempt_id, NOW, "promise_to_pay")
        async with database.write() as s:
            row = await s.get(CallAttempt, new.attempt_id)
            assert row is not None
            row.started_at = NOW + timedelta(days=100)  # a recent call, 80 days before "now"
            row.recording_url = "https://example.invalid/rec.mp3"
        later = NOW + timedelta(days=181)
        async with database.write() as s:
            assert await purge_call_records(s, now=later, retention_days=180) == 1
        async with database.write() as s:
            assert await purge_call_records(s, now=later, retention_days=180) == 0
        async with database.read() as s:
            rows = {
                a.id: a
                for a in (
                    await s.execute(select(CallAttempt).where(CallAttempt.account_id == acc))
                ).scalars()
            }
            s.expunge_all()
        gone, kept = rows[old.attempt_id], rows[new.attempt_id]
        assert (gone.transcript, gone.summary, gone.recording_url) == (None, None, None)
        assert (gone.outcome, gone.duration_s) == ("completed", 60)  # the record of the call stays
        assert kept.transcript is not None
        assert kept.recording_url is not None
        assert len(await contact_log(database, acc)) == 2
        async with database.read() as s:
            assert (
                len((await s.execute(select(ContactLog).where(ContactLog.account_id == acc))).all())
                == 2
            )


class TestDefaultScripts:
    def test_creditor_and_collector_named_apart_and_recording_announced(self) -> None:
        for script in (BASIC, ACQUISITION):
            assert "{{empresa_cobranza}}" in script.template
            assert "{{empresa}}" in script.template
            assert "grabada" in script.first_message
        # The creditor is not named before the debtor is identified.
        assert "{{empresa}}" not in BASIC.first_message
        assert "terceros" in BASIC.template

    def test_the_collector_is_the_account_unless_the_row_names_an_agency(self) -> None:
        v = job_variables(contact_name="Ana", dni=RUT, payload={"empresa": "Banco Andino"},
                          collector="Cobranzas Sur SpA")  # fmt: skip
        assert (v["empresa"], v["empresa_cobranza"]) == ("Banco Andino", "Cobranzas Sur SpA")
        v = job_variables(contact_name="Ana", dni=RUT, payload={"agencia": "Recupera Ltda"},
                          collector="Cobranzas Sur SpA")  # fmt: skip
        assert v["empresa_cobranza"] == "Recupera Ltda"
        assert "empresa_cobranza" in available_variables(["monto"])
