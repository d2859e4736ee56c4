"""Chile's caller-ID rule (SUBTEL Res. Exenta 286/2025: 600 for collection, 809 for
unsolicited sales) on every number a call may present: the batch's own
``provider_options.from_number``, the default number of the account's provider
configuration (when the batch gives none, and after it changes), and the number the
adapter actually puts in the create request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import Batch, ProviderConfig
from dialer.telephony.base import CallerIdRefusedError
from dialer.telephony.providers import retell, twilio
from dialer.worker.runner import Worker
from tests.compliance.test_dial_time import claim
from tests.factories import (
    NewAccount,
    cl_cobranza_settings,
    jobs_of,
    make_account,
    make_debtor_batch,
)
from tests.telephony.contract.harness import call_request
from tests.telephony.recorded import Recorder, no_sleep

# Tuesday 2026-03-10 10:00 in Santiago (UTC-3).
TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Santiago")).astimezone(UTC)
LANDLINE = "+56229998888"  # a Santiago landline: not a 600 number
SIX_HUNDRED = "+566001234567"


async def configure(db: Database, account_id: str, provider: str, from_number: str) -> None:
    """The account's provider configuration with a default caller ID (options only: the
    credentials play no part in the rule)."""
    async with db.write() as s:
        row = (
            await s.execute(
                select(ProviderConfig).where(
                    ProviderConfig.account_id == account_id, ProviderConfig.provider == provider
                )
            )
        ).scalar_one_or_none()
        if row is None:
            row = ProviderConfig(account_id=account_id, provider=provider)
            s.add(row)
        row.options = {"from_number": from_number}


class TestAtStart:
    async def test_the_accounts_default_number_is_checked_when_the_batch_gives_none(
        self, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        await configure(database, acc, "twilio", LANDLINE)
        body = {"account_id": acc, "name": "Marzo", "provider": "twilio",
                "call_settings": cl_cobranza_settings()}  # fmt: skip
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["rule"] == "cl.caller_id_600"
        assert "twilio configuration" in r.json()["detail"]
        assert LANDLINE in r.json()["detail"]
        # The batch's own number takes precedence over the account's default.
        r = await client.post("/api/v1/batches", json={
            **body, "provider_options": {"from_number": SIX_HUNDRED}})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        await configure(database, acc, "twilio", SIX_HUNDRED)
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code in (200, 201), r.text

    async def test_resuming_rechecks_the_accounts_number(
        self, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        await configure(database, acc, "retell", SIX_HUNDRED)
        r = await client.post("/api/v1/batches", json={
            "account_id": acc, "name": "Marzo", "provider": "retell",
            "call_settings": cl_cobranza_settings()})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        batch_id = r.json()["batch_id"]
        assert (await client.post(f"/api/v1/batches/{batch_id}/pause")).status_code == 200
        await configure(database, acc, "retell", LANDLINE)
        r = await client.post(f"/api/v1/batches/{batch_id}/resume")
        assert r.status_code == 422, r.text
        assert r.json()["rule"] == "cl.caller_id_600"


class TestAtDialTime:
    async def test_a_default_number_changed_mid_campaign_holds_the_calls(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        frozen_clock.set(TUESDAY_10)
        acc = await make_account(database, cap=100)
        await configure(database, acc, "simulated", SIX_HUNDRED)
        batch = await make_debtor_batch(database, acc, [("12345678-5", ["+56911111111"]),
                                                 ("11111111-1", ["+56922222222"])],
                                 now=TUESDAY_10)  # fmt: skip
        claimed = await claim(database, TUESDAY_10)
        assert len(claimed) == 2
        assert {c.caller_id_prefix for c in claimed} == {"+56600"}

        other = await make_debtor_batch(database, acc, [("22222222-2", ["+56933333333"])],
                                 now=TUESDAY_10)  # fmt: skip
        await configure(database, acc, "simulated", LANDLINE)
        assert await claim(database, TUESDAY_10) == []
        [job] = await jobs_of(database, other)
        assert job.wait_reason == "compliance_caller_id"
        assert job.attempts == 0
        assert job.next_attempt_at == TUESDAY_10 + timedelta(minutes=15)
        assert batch != other

        await configure(database, acc, "simulated", SIX_HUNDRED)
        later = TUESDAY_10 + timedelta(minutes=15)
        frozen_clock.set(later)
        [again] = await claim(database, later)
        assert again.job_id == job.id

    async def test_the_batchs_own_number_is_checked_at_dial_time(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        # A batch stored before the rule existed (or written by another path).
        frozen_clock.set(TUESDAY_10)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(database, acc, [("12345678-5", ["+56911111111"])],
                                 now=TUESDAY_10)  # fmt: skip
        async with database.write() as s:
            row = await s.get(Batch, batch)
            assert row is not None
            row.provider_options = {"from_number": LANDLINE}
        assert await claim(database, TUESDAY_10) == []
        [job] = await jobs_of(database, batch)
        assert job.wait_reason == "compliance_caller_id"

    async def test_without_a_profile_any_number_is_dialed(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        frozen_clock.set(TUESDAY_10)
        acc = await make_account(database, cap=100)
        await configure(database, acc, "simulated", LANDLINE)
        await make_debtor_batch(database, acc, [("12345678-5", ["+56911111111"])], now=TUESDAY_10,
                         settings=cl_cobranza_settings(compliance_profile="none"))  # fmt: skip
        [job] = await claim(database, TUESDAY_10)
        assert job.caller_id_prefix is None


class TestTheNumberTheAdapterPresents:
    """The adapter resolves the caller ID last (the request's, else its configured
    default, which may be up to a minute older than the database's): it refuses a
    number of the wrong numbering before sending anything to the provider."""

    @staticmethod
    def adapter(vendor: str, rec: Recorder) -> twilio.TwilioProvider | retell.RetellProvider:
        if vendor == "twilio":
            return twilio.TwilioProvider(account_sid="AC" + "X" * 32, auth_token="tok",
                                         client=rec.client(), sleep=no_sleep,
                                         from_number=LANDLINE,
                                         stream_url="wss://agent.example/media")  # fmt: skip
        return retell.RetellProvider(api_key="key", client=rec.client(), sleep=no_sleep,
                                     agent_id="agent", from_number=LANDLINE)  # fmt: skip

    @pytest.mark.parametrize("vendor", ["twilio", "retell"])
    async def test_wrong_numbering_is_never_sent(self, vendor: str) -> None:
        rec = Recorder()  # any request would fail the test
        provider = self.adapter(vendor, rec)
        with pytest.raises(CallerIdRefusedError, match="286/2025"):
            await provider.place_call(call_request("att_1", caller_id_prefix="+56600"))
        with pytest.raises(CallerIdRefusedError):
            await provider.place_call(
                call_request("att_2", from_number=LANDLINE, caller_id_prefix="+56600")
            )
        assert rec.requests == []

    async def test_a_claimed_cl_cobranza_call_carries_the_rule_to_the_adapter(
        self, database: Database, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        # The adapter's cached default is a landline while the database already says
        # 600 (the claim let it through): the adapter still refuses to present it.
        frozen_clock.set(TUESDAY_10)
        acc = await make_account(database, cap=100)
        await configure(database, acc, "simulated", SIX_HUNDRED)
        await make_debtor_batch(database, acc, [("12345678-5", ["+56911111111"])], now=TUESDAY_10)
        [job] = await claim(database, TUESDAY_10)
        rec = Recorder()
        provider = self.adapter("twilio", rec)
        request = Worker(database, settings).request_for(job, provider)
        assert request.caller_id_prefix == "+56600"
        with pytest.raises(CallerIdRefusedError):
            await provider.place_call(request)
        assert rec.requests == []
