"""Retell AI adapter against recorded payloads from Retell's public API reference."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from dialer.telephony.base import (
    CallOutcomeUnknown,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    Provider,
    ProviderBusy,
    WebhookVerificationError,
)
from dialer.telephony.providers.retell import (
    DISCONNECTION_OUTCOMES,
    RetellProvider,
    event_from_call,
    sign,
)
from tests.telephony.recorded import Recorder, business, load, no_sleep, raw

API_KEY = "key_3f9b0c1d2e4a5b6c7d8e9f00"
NOW = datetime(2026, 3, 2, 15, 2, tzinfo=UTC)
CALL_ID = "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"


def provider(recorder: Recorder, **kw: object) -> RetellProvider:
    return RetellProvider(
        api_key=API_KEY,
        client=recorder.client(),
        agent_id="agent_default",
        from_number="+56229145000",
        sleep=no_sleep,
        **kw,  # type: ignore[arg-type]
    )


def request(**kw: object) -> CallRequest:
    base: dict[str, object] = {
        "attempt_id": "att_0001",
        "to_number": "+56912345678",
        "from_number": None,
        "agent_id": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
        "variables": {
            "nombre": "María José Pérez",
            "monto": "$1.234.567",
            "fecha_limite": "15/03/2026",
            "empresa": "Cobranzas Andes",
        },
        "metadata": {"account_id": "acc-demo", "job_id": "job_0001"},
    }
    base.update(kw)
    return CallRequest(**base)  # type: ignore[arg-type]


def signed_headers(body: bytes, at: datetime = NOW, key: str = API_KEY) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-retell-signature": sign(body, key, int(at.timestamp() * 1000)),
    }


class TestPlaceCall:
    async def test_sends_documented_request_with_dynamic_variables(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("retell", "create_phone_call_response")))
        placed = await provider(rec).place_call(request())

        assert placed.provider_call_id == CALL_ID
        assert placed.status == "registered"
        (sent,) = rec.requests
        assert sent.method == "POST"
        assert str(sent.url) == "https://api.retellai.com/v2/create-phone-call"
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        body = json.loads(sent.content)
        assert body == {
            "from_number": "+56229145000",
            "to_number": "+56912345678",
            "override_agent_id": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
            "metadata": {"account_id": "acc-demo", "job_id": "job_0001", "attempt_id": "att_0001"},
            "retell_llm_dynamic_variables": {
                "nombre": "María José Pérez",
                "monto": "$1.234.567",
                "fecha_limite": "15/03/2026",
                "empresa": "Cobranzas Andes",
            },
            # The job's limit (Retell's 1 h default would outlive our call timeout).
            "agent_override": {"agent": {"max_call_duration_ms": 600_000}},
        }

    async def test_agent_override_and_pinned_version_follow_the_batch(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("retell", "create_phone_call_response")))
        await provider(rec).place_call(
            request(
                max_duration_s=240, ring_timeout_s=25, agent_version="7",
                voicemail_action="message", voicemail_message="Le llamamos de Cobranzas Andes.",
                webhook_url="https://dialer.example.com/api/v1/webhooks/retell",
            )
        )  # fmt: skip
        body = json.loads(rec.requests[0].content)
        assert body["override_agent_version"] == 7
        assert body["agent_override"] == {
            "agent": {
                "max_call_duration_ms": 240_000,
                "ring_duration_ms": 25_000,
                "voicemail_option": {
                    "action": {"type": "static_text", "text": "Le llamamos de Cobranzas Andes."}
                },
                "webhook_url": "https://dialer.example.com/api/v1/webhooks/retell",
            }
        }
        rec2 = Recorder(httpx.Response(201, json=load("retell", "create_phone_call_response")))
        await provider(rec2).place_call(request(max_duration_s=20, voicemail_action="hangup"))
        agent = json.loads(rec2.requests[0].content)["agent_override"]["agent"]
        assert agent["max_call_duration_ms"] == 60_000  # Retell's minimum
        assert agent["voicemail_option"] == {"action": {"type": "hangup"}}

    async def test_batch_from_number_overrides_the_configured_one(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("retell", "create_phone_call_response")))
        await provider(rec).place_call(request(from_number="+56229140000", agent_id=None))
        body = json.loads(rec.requests[0].content)
        assert body["from_number"] == "+56229140000"
        assert body["override_agent_id"] == "agent_default"

    async def test_rate_limit_is_retried_then_succeeds(self) -> None:
        # A 429 is a refusal: nothing was created, resending is safe.
        rec = Recorder(
            httpx.Response(429, json=load("retell", "create_phone_call_error_rate_limited")),
            httpx.Response(201, json=load("retell", "create_phone_call_response")),
        )
        placed = await provider(rec).place_call(request())
        assert placed.provider_call_id == CALL_ID
        assert len(rec.requests) == 2

    async def test_concurrency_limit_is_busy_not_a_failure(self) -> None:
        body = {"status": "error", "message": "Concurrency limit reached for your organization"}
        rec = Recorder(*[httpx.Response(429, json=body) for _ in range(3)])
        with pytest.raises(ProviderBusy):
            await provider(rec, max_retries=2).place_call(request())

    @pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
    async def test_5xx_or_408_on_create_is_an_unknown_outcome_never_resent(
        self, status: int
    ) -> None:
        rec = Recorder(httpx.Response(status, json={"message": "boom"}))
        with pytest.raises(CallOutcomeUnknown) as info:
            await provider(rec, max_retries=2).place_call(request())
        assert info.value.status_code == status
        assert len(rec.requests) == 1

    async def test_connection_refused_is_resent_since_nothing_arrived(self) -> None:
        def refused(req: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=req)

        rec = Recorder(
            refused, httpx.Response(201, json=load("retell", "create_phone_call_response"))
        )
        assert (await provider(rec).place_call(request())).provider_call_id == CALL_ID
        assert len(rec.requests) == 2

    async def test_connection_reset_after_sending_is_unknown(self) -> None:
        def reset(req: httpx.Request) -> httpx.Response:
            raise httpx.RemoteProtocolError("peer closed connection", request=req)

        with pytest.raises(CallOutcomeUnknown):
            await provider(Recorder(reset)).place_call(request())

    async def test_invalid_number_is_permanent(self) -> None:
        rec = Recorder(
            httpx.Response(400, json=load("retell", "create_phone_call_error_invalid_number"))
        )
        with pytest.raises(InvalidNumberError):
            await provider(rec).place_call(request(to_number="+5691234"))
        assert len(rec.requests) == 1

    async def test_bad_api_key_is_permanent_not_retried(self) -> None:
        rec = Recorder(httpx.Response(401, json={"message": "Unauthorized"}))
        with pytest.raises(PermanentProviderError) as info:
            await provider(rec).place_call(request())
        assert not isinstance(info.value, InvalidNumberError)
        assert len(rec.requests) == 1

    async def test_timeout_is_an_unknown_outcome_and_not_resent(self) -> None:
        def timeout(req: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=req)

        rec = Recorder(timeout)
        with pytest.raises(CallOutcomeUnknown):
            await provider(rec).place_call(request())
        # The call may have been created: resending could dial the debtor twice.
        assert len(rec.requests) == 1

    def test_implements_the_provider_protocol_and_hides_the_key(self) -> None:
        p = provider(Recorder())
        assert isinstance(p, Provider)
        assert API_KEY not in repr(p)


class TestCallObject:
    """``PhoneCallResponse`` fields beyond the outcome (retell-python-sdk 5.60)."""

    def test_cost_recording_and_collected_variables_are_kept(self) -> None:
        (call,) = load("retell", "list_calls_response")["items"]
        event = event_from_call("call_analyzed", call)
        assert event.recording_url == call["recording_url"]
        assert event.provider_cost == {"amount": 11.025, "unit": "usd_cents"}
        assert event.collected_variables == {
            "nombre": "María José Pérez", "fecha_acordada": "2026-03-20",
        }  # fmt: skip

    def test_every_documented_disconnection_reason_is_mapped(self) -> None:
        documented = {
            "user_hangup", "agent_hangup", "call_transfer", "voicemail_reached", "ivr_reached",
            "inactivity", "max_duration_reached", "concurrency_limit_reached",
            "no_concurrency_fallback", "no_valid_payment", "scam_detected", "dial_busy",
            "dial_failed", "dial_no_answer", "invalid_destination",
            "telephony_provider_permission_denied", "telephony_provider_unavailable",
            "sip_routing_error", "marked_as_spam", "user_declined", "registered_call_timeout",
            "transfer_bridged", "transfer_cancelled", "manual_stopped", "call_take_over",
        }  # fmt: skip
        assert documented <= set(DISCONNECTION_OUTCOMES)
        call = load("retell", "webhook_call_ended")["call"]
        for reason, outcome in [("manual_stopped", "completed"), ("transfer_bridged", "completed"),
                                ("registered_call_timeout", "failed"),
                                ("error_llm_websocket_lost_connection", "failed")]:  # fmt: skip
            assert (
                event_from_call("call_ended", {**call, "disconnection_reason": reason}).outcome
                == outcome
            )

    @pytest.mark.parametrize("reason", ["concurrency_limit_reached", "no_concurrency_fallback"])
    def test_concurrency_limit_spends_no_attempt(self, reason: str) -> None:
        call = {**load("retell", "webhook_call_ended_no_answer")["call"],
                "disconnection_reason": reason}  # fmt: skip
        event = event_from_call("call_ended", call)
        assert event.final
        assert not event.spend_attempt
        assert event.duration_s == 0
        ok = event_from_call("call_ended", load("retell", "webhook_call_ended")["call"])
        assert ok.spend_attempt

    async def test_hangup_stops_the_call_and_tolerates_an_ended_one(self) -> None:
        rec = Recorder(httpx.Response(204), httpx.Response(404, json={"message": "not found"}))
        await provider(rec).hangup(CALL_ID)
        await provider(rec).hangup(CALL_ID)
        assert [str(r.url) for r in rec.requests] == [
            f"https://api.retellai.com/v2/stop-call/{CALL_ID}"
        ] * 2
        assert all(r.method == "POST" for r in rec.requests)

    async def test_find_call_filters_by_attempt_metadata_and_number(self) -> None:
        rec = Recorder(httpx.Response(200, json=load("retell", "list_calls_response")),
                       httpx.Response(200, json=load("retell", "list_calls_empty")))  # fmt: skip
        found = await provider(rec).find_call("att_0001", to_number="+56912345678", since=NOW)
        assert found is not None
        assert found.final
        assert found.provider_call_id == CALL_ID
        body = json.loads(rec.requests[0].content)
        assert str(rec.requests[0].url) == "https://api.retellai.com/v3/list-calls"
        assert body["filter_criteria"]["metadata"] == [
            {"key": "attempt_id", "op": "eq", "type": "string", "value": "att_0001"}
        ]
        assert body["filter_criteria"]["to_number"]["value"] == "+56912345678"
        assert await provider(rec).find_call("att_0009", to_number="+56912345678",
                                             since=NOW) is None  # fmt: skip

    def test_webhook_secret_is_not_the_api_key_when_set(self) -> None:
        p = RetellProvider(api_key=API_KEY, webhook_secret="key_webhook_badge",
                           client=Recorder().client())  # fmt: skip
        body = raw("retell", "webhook_call_ended")
        assert p.parse_webhook(body=body, headers=signed_headers(body, key="key_webhook_badge"),
                               url="", now=NOW)  # fmt: skip
        with pytest.raises(WebhookVerificationError):
            p.parse_webhook(body=body, headers=signed_headers(body), url="", now=NOW)


class TestGetCall:
    async def test_maps_a_finished_call(self) -> None:
        rec = Recorder(httpx.Response(200, json=load("retell", "get_call_response")))
        event = await provider(rec).get_call(CALL_ID)
        assert str(rec.requests[0].url) == f"https://api.retellai.com/v2/get-call/{CALL_ID}"
        assert rec.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
        assert event is not None
        assert event.final
        assert event.attempt_id == "att_0001"
        assert event.outcome == "completed"
        assert business(event).kind == "call_back_later"
        assert event.duration_s == 95

    async def test_unknown_call_is_none(self) -> None:
        rec = Recorder(httpx.Response(404, json={"message": "Not found"}))
        assert await provider(rec).get_call("nope") is None


class TestWebhooks:
    def test_call_started_is_not_final(self) -> None:
        body = raw("retell", "webhook_call_started")
        (event,) = provider(Recorder()).parse_webhook(
            body=body, headers=signed_headers(body), url="https://x/api/v1/webhooks/retell", now=NOW
        )
        assert not event.final
        assert event.attempt_id == "att_0001"
        assert event.provider_call_id == CALL_ID
        assert event.started_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def test_call_ended_maps_outcome_duration_and_transcript(self) -> None:
        body = raw("retell", "webhook_call_ended")
        (event,) = provider(Recorder()).parse_webhook(
            body=body, headers=signed_headers(body), url="u", now=NOW
        )
        assert event.final
        assert event.outcome == "completed"
        assert event.duration_s == 95  # 94.5 s, started seconds count
        assert "Puedo pagar el 20 de marzo" in (event.transcript or "")
        assert event.event_key == f"retell:{CALL_ID}:call_ended"

    def test_call_analyzed_maps_promise_to_pay_with_date_and_amount(self) -> None:
        body = raw("retell", "webhook_call_analyzed")
        (event,) = provider(Recorder()).parse_webhook(
            body=body, headers=signed_headers(body), url="u", now=NOW
        )
        assert event.outcome == "completed"
        # The adapter passes the agent's fields as reported; the parser reads them.
        assert event.business_result is None
        assert event.extracted["monto_promesa"] == "$1.234.567"
        assert "promise_amount" not in event.extracted
        result = business(event)
        assert result.kind == "promise_to_pay"
        assert (result.promise.date, result.promise.amount) == (date(2026, 3, 20), 1234567)
        assert event.extracted["user_sentiment"] == "Positive"
        assert event.summary
        assert "20/03/2026" in event.summary
        assert event.event_key != f"retell:{CALL_ID}:call_ended"

    def test_no_answer_and_voicemail(self) -> None:
        p = provider(Recorder())
        body = raw("retell", "webhook_call_ended_no_answer")
        (no_answer,) = p.parse_webhook(body=body, headers=signed_headers(body), url="u", now=NOW)
        assert no_answer.outcome == "no_answer"
        assert no_answer.duration_s == 0
        assert business(no_answer) is None
        body = raw("retell", "webhook_call_analyzed_voicemail")
        (vm,) = p.parse_webhook(body=body, headers=signed_headers(body), url="u", now=NOW)
        assert vm.outcome == "voicemail"
        assert vm.extracted == {}

    def test_tampered_body_is_rejected(self) -> None:
        body = raw("retell", "webhook_call_analyzed")
        headers = signed_headers(body)
        tampered = body.replace(b"promesa_de_pago", b"ya_pago")
        with pytest.raises(WebhookVerificationError, match="does not match"):
            provider(Recorder()).parse_webhook(body=tampered, headers=headers, url="u", now=NOW)

    def test_signature_with_another_key_is_rejected(self) -> None:
        body = raw("retell", "webhook_call_ended")
        with pytest.raises(WebhookVerificationError):
            provider(Recorder()).parse_webhook(
                body=body, headers=signed_headers(body, key="key_other"), url="u", now=NOW
            )

    @pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)])
    def test_replayed_request_with_stale_timestamp_is_rejected(self, age: timedelta) -> None:
        body = raw("retell", "webhook_call_ended")
        headers = signed_headers(body, at=NOW - age)
        with pytest.raises(WebhookVerificationError, match="window"):
            provider(Recorder()).parse_webhook(body=body, headers=headers, url="u", now=NOW)

    def test_recent_timestamp_within_tolerance_is_accepted(self) -> None:
        body = raw("retell", "webhook_call_ended")
        headers = signed_headers(body, at=NOW - timedelta(minutes=4))
        assert provider(Recorder()).parse_webhook(body=body, headers=headers, url="u", now=NOW)

    @pytest.mark.parametrize("header", [None, "", "garbage", "v=abc,d=00"])
    def test_missing_or_malformed_signature_is_rejected(self, header: str | None) -> None:
        body = raw("retell", "webhook_call_ended")
        headers = {} if header is None else {"X-Retell-Signature": header}
        with pytest.raises(WebhookVerificationError):
            provider(Recorder()).parse_webhook(body=body, headers=headers, url="u", now=NOW)

    def test_other_events_are_ignored(self) -> None:
        body = json.dumps({"event": "transcript_updated", "call": {"call_id": "x"}}).encode()
        assert (
            provider(Recorder()).parse_webhook(
                body=body, headers=signed_headers(body), url="u", now=NOW
            )
            == []
        )
