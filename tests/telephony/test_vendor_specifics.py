"""What each vendor does beyond the shared contract: Twilio async AMD and the TwiML limit,
error codes; ElevenLabs routes and failure webhooks; Vapi auth modes and endedReason
families. Payloads: tests/fixtures/providers/<vendor> (SOURCES.md names the SDK/doc)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from dialer.job.states import Outcome
from dialer.telephony.base import (
    InvalidNumberError,
    PermanentProviderError,
    RetryableProviderError,
    WebhookVerificationError,
)
from dialer.telephony.providers import elevenlabs, twilio, vapi
from tests.telephony.contract.harness import call_request
from tests.telephony.recorded import Recorder, business, load, no_sleep, raw

NOW = datetime(2026, 3, 2, 15, 2, tzinfo=UTC)
SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TOKEN = "tok"


def tw(rec: Recorder, **kw: object) -> twilio.TwilioProvider:
    opts: dict[str, object] = {"from_number": "+56229145000",
                               "stream_url": "wss://agent.example/media",
                               "webhook_base_url": "https://dialer.example.com"}  # fmt: skip
    opts.update(kw)
    return twilio.TwilioProvider(account_sid=SID, auth_token=TOKEN, client=rec.client(),
                                 sleep=no_sleep, **opts)  # type: ignore[arg-type]  # fmt: skip


class TestTwilio:
    async def test_async_amd_with_its_callback_carrying_the_voicemail_policy(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("twilio", "create_call_response")))
        await tw(rec).place_call(call_request("att_1", voicemail_action="message",
                                              voicemail_message="Llame al 600 123"))  # fmt: skip
        form = parse_qsl(rec.requests[0].content.decode())
        fields = dict(form)
        assert fields["MachineDetection"] == "DetectMessageEnd"
        assert fields["AsyncAmd"] == "true"
        amd = httpx.URL(fields["AsyncAmdStatusCallback"])
        assert dict(amd.params) == {"attempt_id": "att_1", "account_id": "acc-demo",
                                    "event": "amd", "vm": "message",
                                    "vm_text": "Llame al 600 123"}  # fmt: skip

    def test_machine_answer_ends_the_attempt_as_voicemail_and_a_person_does_not(self) -> None:
        p = tw(Recorder())
        url = ("https://dialer.example.com/api/v1/webhooks/twilio?"
               + urlencode({"attempt_id": "att_1", "event": "amd", "vm": "hangup"}))  # fmt: skip
        for name, final in (("amd_callback_machine", True), ("amd_callback_human", False)):
            params = load("twilio", name)
            headers = {"x-twilio-signature": twilio.compute_signature(url, params, TOKEN)}
            (event,) = p.parse_webhook(body=urlencode(params).encode(), headers=headers,
                                       url=url, now=NOW)  # fmt: skip
            assert event.final is final
            assert event.attempt_id == "att_1"
            if final:
                assert event.outcome == Outcome.VOICEMAIL
                assert event.duration_s == 5  # 4,210 ms of detection

    async def test_react_hangs_up_a_machine_or_leaves_the_message(self) -> None:
        rec = Recorder(httpx.Response(200, json={}), httpx.Response(200, json={}))
        p = tw(rec)
        params = load("twilio", "amd_callback_machine")
        event = twilio.amd_event(params, attempt_id="a", query={"vm": "hangup"})
        await p.react([event])
        message = twilio.amd_event(params, attempt_id="a",
                                   query={"vm": "message", "vm_text": "Hola & adiós"})  # fmt: skip
        await p.react([message])
        hang, say = (dict(parse_qsl(r.content.decode())) for r in rec.requests)
        assert hang == {"Status": "completed"}
        assert say == {"Twiml": "<Response><Say>Hola &amp; adiós</Say><Hangup/></Response>"}

    async def test_twiml_over_the_limit_is_refused_before_dialing(self) -> None:
        rec = Recorder()
        big = call_request("att_1", variables={"nota": "x" * 5000})
        with pytest.raises(PermanentProviderError, match="32018"):
            await tw(rec).place_call(big)
        assert rec.requests == []
        # With a hosted TwiML document configured, the call uses it instead.
        rec2 = Recorder(httpx.Response(201, json=load("twilio", "create_call_response")))
        await tw(rec2, twiml_url="https://agent.example/twiml").place_call(big)
        fields = dict(parse_qsl(rec2.requests[0].content.decode()))
        assert "Twiml" not in fields
        assert fields["Url"] == "https://agent.example/twiml?attempt_id=att_1"

    @pytest.mark.parametrize(
        ("code", "error"),
        [(21211, InvalidNumberError), (13224, InvalidNumberError),
         (21215, PermanentProviderError), (20429, RetryableProviderError),
         (21401, PermanentProviderError)],
    )  # fmt: skip
    async def test_voice_error_codes(self, code: int, error: type[Exception]) -> None:
        status = 429 if code == 20429 else 400
        rec = Recorder(*[httpx.Response(status, json={"code": code, "message": "m"})] * 4)
        with pytest.raises(error) as info:
            await tw(rec).place_call(call_request("att_1"))
        # 21401 is an SMS code: not taken for an invalid number any more.
        assert isinstance(info.value, InvalidNumberError) == (error is InvalidNumberError)


class TestElevenLabs:
    def provider(self, rec: Recorder, **kw: object) -> elevenlabs.ElevenLabsProvider:
        return elevenlabs.ElevenLabsProvider(
            api_key="xi", webhook_secret="wsec", client=rec.client(), agent_id="agent_1",
            phone_number_id="phnum_1", sleep=no_sleep, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    async def test_sip_trunk_route_with_dynamic_variables_and_phone_number_id(self) -> None:
        rec = Recorder(
            httpx.Response(200, json=load("elevenlabs", "get_agent_response")),
            httpx.Response(200, json=load("elevenlabs", "sip_trunk_outbound_call_response")),
        )
        placed = await self.provider(rec, telephony="sip_trunk").place_call(
            call_request("att_1", ring_timeout_s=25, max_duration_s=300)
        )
        sent = rec.requests[1]
        assert sent.url.path == "/v1/convai/sip-trunk/outbound-call"
        assert sent.headers["xi-api-key"] == "xi"
        body = json.loads(sent.content)
        assert body["agent_phone_number_id"] == "phnum_1"
        assert body["conversation_initiation_client_data"]["user_id"] == "att_1"
        assert body["conversation_initiation_client_data"]["dynamic_variables"] == {
            "nombre": "María José Pérez", "monto": "$1.234.567", "dialer_attempt_id": "att_1",
        }  # fmt: skip
        assert body["telephony_call_config"] == {"ringing_timeout_secs": 25}
        assert placed.provider_call_id == "conv_01jxk8c0z8f6rb7s4y3x2w1v0t"
        assert placed.other_ids["sip_call_id"].endswith("@sip.rtc.elevenlabs.io")

    async def test_a_batch_branch_runs_the_conversation_and_bounds_the_duration(self) -> None:
        # elevenlabs-python 2.59: ConversationInitiationClientDataRequestInput.branch_id
        # ("ID of the agent branch to use for this conversation"); agents.get(agent_id,
        # branch_id=...) reads that branch's configuration.
        rec = Recorder(
            httpx.Response(200, json=load("elevenlabs", "get_agent_response")),
            httpx.Response(200, json=load("elevenlabs", "sip_trunk_outbound_call_response")),
        )
        provider = self.provider(rec, telephony="sip_trunk", branch_id="agtbrch_main")
        await provider.place_call(
            call_request("att_1", max_duration_s=300, agent_branch="agtbrch_marzo")
        )
        agent, create = rec.requests
        assert agent.url.params["branch_id"] == "agtbrch_marzo"  # the batch's, not the account's
        client_data = json.loads(create.content)["conversation_initiation_client_data"]
        assert client_data["branch_id"] == "agtbrch_marzo"
        # A batch naming no branch runs the account's (the agent was read for it too).
        rec.responses.extend([
            httpx.Response(200, json=load("elevenlabs", "get_agent_response")),
            httpx.Response(200, json=load("elevenlabs", "sip_trunk_outbound_call_response")),
        ])  # fmt: skip
        await provider.place_call(call_request("att_2", max_duration_s=300))
        agent, create = rec.requests[2:]
        assert agent.url.params["branch_id"] == "agtbrch_main"
        assert json.loads(create.content)["conversation_initiation_client_data"][
            "branch_id"] == "agtbrch_main"  # fmt: skip

    async def test_a_call_elevenlabs_did_not_start_is_permanent(self) -> None:
        rec = Recorder(
            httpx.Response(200, json=load("elevenlabs", "get_agent_response")),
            httpx.Response(200, json=load("elevenlabs", "outbound_call_not_started")),
        )
        with pytest.raises(PermanentProviderError, match="unverified"):
            await self.provider(rec).place_call(call_request("att_1", max_duration_s=300))

    async def test_without_a_way_to_hang_up_an_agent_that_may_talk_too_long_is_not_dialled(
        self,
    ) -> None:
        agent = httpx.Response(200, json=load("elevenlabs", "get_agent_response"))  # 300 s
        created = httpx.Response(200, json=load("elevenlabs", "twilio_outbound_call_response"))
        rec = Recorder(agent, created, created)
        p = self.provider(rec)
        assert not p.supports_hangup
        with pytest.raises(PermanentProviderError, match="at most 120 s"):
            await p.place_call(call_request("att_1", max_duration_s=120))
        assert [r.url.path for r in rec.requests] == ["/v1/convai/agents/agent_1"]  # no dial
        # Within the job's limit it dials, and the agent is not asked again.
        await p.place_call(call_request("att_2", max_duration_s=300))
        await p.place_call(call_request("att_3", max_duration_s=600))
        assert [r.url.path for r in rec.requests[1:]] == ["/v1/convai/twilio/outbound-call"] * 2

    async def test_hangup_ends_the_conversations_twilio_call(self) -> None:
        conversation = load("elevenlabs", "get_conversation_in_progress")
        conversation["metadata"]["phone_call"] = {
            "direction": "outbound", "type": "twilio", "call_sid": "CA" + "1" * 32,
            "phone_number_id": "phnum_1", "agent_number": "+56229145000",
            "external_number": "+56912345678", "stream_sid": "MZ" + "2" * 32,
        }  # fmt: skip
        rec = Recorder(
            httpx.Response(200, json=conversation),
            httpx.Response(200, json={"sid": "CA" + "1" * 32, "status": "completed"}),
        )
        p = self.provider(rec, twilio_account_sid="AC" + "9" * 32, twilio_auth_token="tw_tok")
        assert p.supports_hangup
        await p.hangup("conv_1")
        get, end = rec.requests
        assert get.url.path == "/v1/convai/conversations/conv_1"
        assert (end.url.host, end.url.path) == (
            "api.twilio.com", f"/2010-04-01/Accounts/AC{'9' * 32}/Calls/CA{'1' * 32}.json")  # fmt: skip
        assert end.content == b"Status=completed"
        assert end.headers["authorization"].startswith("Basic ")

    def test_post_call_webhook_and_initiation_failure(self) -> None:
        p = self.provider(Recorder())
        body = raw("elevenlabs", "webhook_post_call_transcription")
        sig = elevenlabs.sign(body, "wsec", int(NOW.timestamp()))
        (done,) = p.parse_webhook(body=body, headers={"ElevenLabs-Signature": sig}, url="", now=NOW)
        assert (done.outcome, business(done).kind, done.duration_s) == (
            "completed",
            "promise_to_pay",
            95,
        )
        assert done.attempt_id == "att_0001"
        assert business(done).promise.date == date(2026, 3, 20)
        assert done.provider_cost == {"amount": 633, "unit": "elevenlabs_credits"}
        assert done.other_ids == {"call_sid": "CA1f2e3d4c5b6a79881726354433221100"}
        busy = raw("elevenlabs", "webhook_call_initiation_failure_busy")
        sig = elevenlabs.sign(busy, "wsec", int(NOW.timestamp()))
        (failed,) = p.parse_webhook(
            body=busy, headers={"ElevenLabs-Signature": sig}, url="", now=NOW
        )
        assert (failed.final, failed.outcome, failed.duration_s) == (True, "busy", 0)
        # Signed with the API key instead of the webhook secret: refused.
        wrong = elevenlabs.sign(body, "xi", int(NOW.timestamp()))
        with pytest.raises(WebhookVerificationError):
            p.parse_webhook(body=body, headers={"ElevenLabs-Signature": wrong}, url="", now=NOW)


class TestVapi:
    def provider(self, rec: Recorder, **kw: object) -> vapi.VapiProvider:
        return vapi.VapiProvider(
            api_key="pk", webhook_secret="whsec", client=rec.client(), assistant_id="asst",
            phone_number_id="pn", sleep=no_sleep, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    async def test_create_sends_the_documented_body(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("vapi", "create_call_response")))
        placed = await self.provider(rec).place_call(call_request("att_1", max_duration_s=300))
        body = json.loads(rec.requests[0].content)
        assert body["phoneNumberId"] == "pn"
        assert body["assistantId"] == "asst"
        assert body["customer"] == {"number": "+56912345678"}
        overrides = body["assistantOverrides"]
        assert overrides["maxDurationSeconds"] == 300
        assert overrides["metadata"]["attempt_id"] == "att_1"
        assert overrides["variableValues"]["nombre"] == "María José Pérez"
        assert overrides["monitorPlan"] == {"controlEnabled": True}
        assert placed.other_ids["control_url"].endswith("/control")

    def test_bearer_credential_and_message_timestamp(self) -> None:
        p = self.provider(Recorder(), webhook_auth="bearer")
        payload = load("vapi", "webhook_end_of_call_report")
        payload["message"]["timestamp"] = int(NOW.timestamp() * 1000)
        body = json.dumps(payload).encode()
        (event,) = p.parse_webhook(
            body=body, headers={"Authorization": "Bearer whsec"}, url="", now=NOW
        )
        assert (event.outcome, event.duration_s, business(event).kind) == (
            "completed",
            95,
            "promise_to_pay",
        )
        assert event.recording_url is not None
        assert event.provider_cost == {"amount": 0.1234, "unit": "usd"}
        with pytest.raises(WebhookVerificationError):
            p.parse_webhook(body=body, headers={"Authorization": "Bearer nope"}, url="", now=NOW)
        with pytest.raises(WebhookVerificationError):  # a captured message replayed later
            p.parse_webhook(body=body, headers={"Authorization": "Bearer whsec"}, url="",
                            now=NOW + timedelta(hours=1))  # fmt: skip

    @pytest.mark.parametrize(
        ("reason", "outcome", "spends"),
        [("customer-ended-call", Outcome.COMPLETED, True), ("voicemail", Outcome.VOICEMAIL, True),
         ("customer-did-not-answer", Outcome.NO_ANSWER, True), ("customer-busy", Outcome.BUSY, True),
         ("twilio-reported-customer-misdialed", Outcome.INVALID_NUMBER, True),
         ("pipeline-error-openai-llm-failed", Outcome.FAILED, True),
         ("call.start.error-subscription-concurrency-limit-reached", Outcome.FAILED, False)],
    )  # fmt: skip
    def test_ended_reason_families(self, reason: str, outcome: Outcome, spends: bool) -> None:
        call = {**load("vapi", "get_call_ended"), "endedReason": reason}
        event = vapi.event_from_call(call)
        assert event.final
        assert event.outcome == outcome
        assert event.spend_attempt is spends
