"""Chile's caller-ID rule (SUBTEL Res. Exenta 286/2025) for the vendors that name the
caller number only by id (Vapi ``phoneNumberId``, ElevenLabs ``agent_phone_number_id``):
the number behind the id is read from the vendor (Vapi ``GET /phone-number/{id}``,
ElevenLabs ``GET /v1/convai/phone-numbers/{id}``; recorded payloads in
tests/fixtures/providers/*/get_phone_number.json, sources in their SOURCES.md) when the
account's configuration is saved and right before each call, and the same rules as for
Twilio/Retell apply: 422 at create/start, the claim holding the batch, the adapter
refusing to send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import ProviderConfig
from dialer.telephony.base import CallerIdRefusedError, PermanentProviderError
from dialer.telephony.providers.elevenlabs import ElevenLabsProvider
from dialer.telephony.providers.routing import AccountRoutedProvider
from dialer.telephony.providers.vapi import VapiProvider
from dialer.telephony.registry import Providers
from tests.compliance.test_caller_id import LANDLINE, SIX_HUNDRED, TUESDAY_10
from tests.compliance.test_dial_time import claim
from tests.factories import (
    NewAccount,
    cl_cobranza_settings,
    jobs_of,
    make_account,
    make_debtor_batch,
)
from tests.telephony.contract.harness import call_request
from tests.telephony.recorded import Recorder, load, no_sleep

VAPI_ID = "b1f3a2c4-5d6e-4f70-8a9b-0c1d2e3f4a5b"
ELEVEN_ID = "phnum_01jw9x5m3c8e2r7t4y6u"


def vapi_number(number: str) -> httpx.Response:
    return httpx.Response(200, json={**load("vapi", "get_phone_number"), "number": number})


def eleven_number(number: str) -> httpx.Response:
    body = {**load("elevenlabs", "get_phone_number"), "phone_number": number}
    return httpx.Response(200, json=body)


def adapter(vendor: str, rec: Recorder) -> VapiProvider | ElevenLabsProvider:
    if vendor == "vapi":
        return VapiProvider(api_key="key", webhook_secret="whsec", client=rec.client(),
                            assistant_id="asst", phone_number_id=VAPI_ID, sleep=no_sleep)  # fmt: skip
    return ElevenLabsProvider(api_key="key", webhook_secret="whsec", client=rec.client(),
                              agent_id="agent", phone_number_id=ELEVEN_ID, sleep=no_sleep,
                              twilio_account_sid="AC" + "X" * 32, twilio_auth_token="t")  # fmt: skip


NUMBER_RESPONSE = {"vapi": vapi_number, "elevenlabs": eleven_number}
LOOKUP_PATH = {
    "vapi": f"/phone-number/{VAPI_ID}",
    "elevenlabs": f"/v1/convai/phone-numbers/{ELEVEN_ID}",
}
CREATED = {
    "vapi": httpx.Response(201, json=load("vapi", "create_call_response")),
    "elevenlabs": httpx.Response(200, json=load("elevenlabs", "twilio_outbound_call_response")),
}


class TestTheAdapterReadsTheNumberBehindTheId:
    @pytest.mark.parametrize("vendor", ["vapi", "elevenlabs"])
    async def test_a_landline_behind_the_id_is_never_dialed(self, vendor: str) -> None:
        rec = Recorder(NUMBER_RESPONSE[vendor](LANDLINE))
        provider = adapter(vendor, rec)
        with pytest.raises(CallerIdRefusedError, match="286/2025"):
            await provider.place_call(call_request("att_1", caller_id_prefix="+56600"))
        # Only the number was read; no call was created.
        assert [(r.method, r.url.path) for r in rec.requests] == [("GET", LOOKUP_PATH[vendor])]

    @pytest.mark.parametrize("vendor", ["vapi", "elevenlabs"])
    async def test_a_600_number_is_dialed_and_read_once(self, vendor: str) -> None:
        rec = Recorder(NUMBER_RESPONSE[vendor](SIX_HUNDRED), CREATED[vendor], CREATED[vendor])
        provider = adapter(vendor, rec)
        await provider.place_call(call_request("att_1", caller_id_prefix="+56600"))
        await provider.place_call(call_request("att_2", caller_id_prefix="+56600"))
        methods = [r.method for r in rec.requests]
        assert methods == ["GET", "POST", "POST"]  # the number is cached

    @pytest.mark.parametrize("vendor", ["vapi", "elevenlabs"])
    async def test_without_a_rule_the_number_is_not_read(self, vendor: str) -> None:
        rec = Recorder(CREATED[vendor])
        await adapter(vendor, rec).place_call(call_request("att_1"))
        assert [r.method for r in rec.requests] == ["POST"]

    async def test_an_unknown_id_is_a_permanent_error(self) -> None:
        rec = Recorder(httpx.Response(404, json={"message": "Not Found", "statusCode": 404}))
        with pytest.raises(PermanentProviderError):
            await adapter("vapi", rec).phone_number(VAPI_ID)


def install(client: httpx.AsyncClient, database: Database, vendor: str, rec: Recorder) -> None:
    """The app's ``vendor`` provider, speaking to ``rec`` instead of the vendor."""
    providers: Providers = client._transport.app.state.providers  # type: ignore[attr-defined]
    routed = AccountRoutedProvider(vendor, providers.settings, database, client=rec.client())
    providers.install(vendor, routed)


def config_body(vendor: str, number_id: str) -> dict[str, Any]:
    agent = "assistant_id" if vendor == "vapi" else "agent_id"
    return {"credentials": {"api_key": "key", "webhook_secret": "whsec"},
            "options": {agent: "agent", "phone_number_id": number_id}}  # fmt: skip


class TestTheAccountsConfiguredNumber:
    @pytest.mark.parametrize("vendor", ["vapi", "elevenlabs"])
    async def test_saving_the_id_reads_its_number_and_batches_are_checked_on_it(
        self, vendor: str, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        number_id = VAPI_ID if vendor == "vapi" else ELEVEN_ID
        rec = Recorder(NUMBER_RESPONSE[vendor](LANDLINE), NUMBER_RESPONSE[vendor](SIX_HUNDRED))
        install(client, database, vendor, rec)
        url = f"/api/v1/accounts/{acc}/providers/{vendor}"
        r = await client.put(url, json=config_body(vendor, number_id))
        assert r.status_code == 200, r.text
        assert r.json()["options"]["phone_number"] == LANDLINE
        assert rec.requests[0].url.path == LOOKUP_PATH[vendor]

        body = {"account_id": acc, "name": "Marzo", "provider": vendor,
                "call_settings": cl_cobranza_settings()}  # fmt: skip
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["rule"] == "cl.caller_id_600"
        assert f"{vendor} configuration options.phone_number_id" in r.json()["detail"]
        assert LANDLINE in r.json()["detail"]

        # The operator points the id at a 600 number in the vendor and saves again
        # (another id): the new number is read, the batch may be created.
        r = await client.put(url, json={"options": {"phone_number_id": number_id + "2"}})
        assert r.status_code == 200, r.text
        assert r.json()["options"]["phone_number"] == SIX_HUNDRED
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code in (200, 201), r.text
        # Saving other options does not ask the vendor again.
        r = await client.put(url, json={"options": {"replay_tolerance_s": 60}})
        assert r.status_code == 200, r.text
        assert r.json()["options"]["phone_number"] == SIX_HUNDRED
        assert len(rec.requests) == 2

    async def test_an_id_the_vendor_does_not_know_is_refused_naming_the_field(
        self, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        install(client, database, "vapi", Recorder(httpx.Response(404, json={"message": "x"})))
        r = await client.put(f"/api/v1/accounts/{acc}/providers/vapi",
                             json=config_body("vapi", "nope"))  # fmt: skip
        assert r.status_code == 422, r.text
        assert "phone_number_id" in r.text
        r = await client.get(f"/api/v1/accounts/{acc}/providers/vapi")
        assert r.json()["configured"] is False  # nothing was saved

    async def test_an_account_key_naming_a_server_variable_never_makes_a_lookup(
        self, database: Database, new_account: NewAccount, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Only the admin key may reference the server's environment: an account key's
        # reference is refused (403) before the server's variable is read or sent anywhere.
        monkeypatch.setenv("SERVER_VAPI_KEY", "server-secret")
        acc, client = await new_account("CL")
        rec = Recorder()  # any request fails the test
        install(client, database, "vapi", rec)
        body = config_body("vapi", VAPI_ID)
        body["credentials"] = {"api_key_env": "SERVER_VAPI_KEY", "webhook_secret": "whsec"}
        r = await client.put(f"/api/v1/accounts/{acc}/providers/vapi", json=body)
        assert r.status_code == 403, r.text
        assert rec.requests == []

    async def test_a_batchs_own_id_is_checked_when_it_is_the_configured_one(
        self, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        await configure_by_id(database, acc, "vapi", VAPI_ID, LANDLINE)
        body = {"account_id": acc, "name": "Marzo", "provider": "vapi",
                "call_settings": cl_cobranza_settings(),
                "provider_options": {"phone_number_id": VAPI_ID}}  # fmt: skip
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 422, r.text
        assert "provider_options.phone_number_id" in r.json()["detail"]


async def configure_by_id(
    db: Database, account_id: str, provider: str, number_id: str, number: str
) -> None:
    """The account's configuration naming its number by id, with the number read when
    it was saved."""
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
        row.options = {"phone_number_id": number_id, "phone_number": number}


async def test_the_claim_holds_a_batch_whose_configured_id_names_a_landline(
    database: Database, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(TUESDAY_10)
    acc = await make_account(database, cap=100)
    # The dial-time filters read the configuration of the batch's provider (here the
    # simulated one, standing for a vendor that names numbers by id).
    await configure_by_id(database, acc, "simulated", VAPI_ID, LANDLINE)
    batch = await make_debtor_batch(
        database, acc, [("12345678-5", ["+56911111111"])], now=TUESDAY_10
    )
    assert await claim(database, TUESDAY_10) == []
    [job] = await jobs_of(database, batch)
    assert job.wait_reason == "compliance_caller_id"
    assert job.attempts == 0
    await configure_by_id(database, acc, "simulated", VAPI_ID, SIX_HUNDRED)
    later = TUESDAY_10 + timedelta(minutes=15)
    frozen_clock.set(later)
    [again] = await claim(database, later)
    assert again.job_id == job.id
