"""Twilio Programmable Voice adapter against recorded payloads from Twilio's docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from dialer.kit.clock import FrozenClock
from dialer.telephony.base import (
    CallNotAttributable,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    Provider,
    ProviderError,
    RetryableProviderError,
    WebhookVerificationError,
)
from dialer.telephony.providers.twilio import (
    ATTRIBUTION_DEADLINE,
    TwilioProvider,
    compute_signature,
)
from tests.telephony.recorded import Recorder, load, no_sleep

SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TOKEN = "auth_token_0123456789abcdef"
NOW = datetime(2026, 3, 2, 15, 2, tzinfo=UTC)
CALLBACK = "https://dialer.example.com/api/v1/webhooks/twilio?attempt_id=att_0001"


def provider(recorder: Recorder, **kw: object) -> TwilioProvider:
    opts: dict[str, object] = {
        "from_number": "+56229145000",
        "stream_url": "wss://agent.example.com/media",
        "webhook_base_url": "https://dialer.example.com",
        "sleep": no_sleep,
    }
    opts.update(kw)
    return TwilioProvider(
        account_sid=SID,
        auth_token=TOKEN,
        client=recorder.client(),
        **opts,  # type: ignore[arg-type]
    )


def request(**kw: object) -> CallRequest:
    base: dict[str, object] = {
        "attempt_id": "att_0001",
        "to_number": "+56912345678",
        "from_number": None,
        "agent_id": None,
        "variables": {"nombre": "María José Pérez", "monto": "$1.234.567"},
        "metadata": {"account_id": "acc-demo"},
        "max_duration_s": 300,
    }
    base.update(kw)
    return CallRequest(**base)  # type: ignore[arg-type]


def form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def signed(params: dict[str, str], url: str = CALLBACK, token: str = TOKEN) -> dict[str, str]:
    return {
        "content-type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(url, params, token),
    }


class TestSignature:
    def test_matches_twilios_documented_example(self) -> None:
        # The worked example from Twilio's "Webhooks security" page.
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        params = {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+14158675309",
            "Digits": "1234",
            "From": "+14158675309",
            "To": "+18005551212",
        }
        assert compute_signature(url, params, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="

    def test_repeated_parameters_follow_twilios_vector(self) -> None:
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        params = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}
        assert compute_signature(url, params, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


class TestPlaceCall:
    async def test_sends_documented_form_with_callbacks_and_amd(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("twilio", "create_call_response")))
        placed = await provider(rec).place_call(request())

        assert placed.provider_call_id == "CA5d0d0d8047bf685c3f0ff980fe62c123"
        assert placed.status == "queued"
        (sent,) = rec.requests
        assert sent.method == "POST"
        assert str(sent.url) == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json"
        assert sent.headers["authorization"] == httpx.BasicAuth(SID, TOKEN)._auth_header
        assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
        fields = parse_qs(sent.content.decode())
        assert fields["To"] == ["+56912345678"]
        assert fields["From"] == ["+56229145000"]
        assert fields["MachineDetection"] == ["Enable"]
        assert fields["TimeLimit"] == ["300"]
        assert fields["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
        callback = urlsplit(fields["StatusCallback"][0])
        assert callback.netloc == "dialer.example.com"
        assert callback.path == "/api/v1/webhooks/twilio"
        assert parse_qs(callback.query) == {"attempt_id": ["att_0001"], "account_id": ["acc-demo"]}
        twiml = fields["Twiml"][0]
        assert '<Stream url="wss://agent.example.com/media">' in twiml
        assert '<Parameter name="nombre" value="María José Pérez"/>' in twiml
        assert '<Parameter name="monto" value="$1.234.567"/>' in twiml
        assert "Url" not in fields

    async def test_hosted_twiml_url_carries_the_attempt(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("twilio", "create_call_response")))
        p = provider(rec, stream_url=None, twiml_url="https://agent.example.com/twiml?x=1")
        await p.place_call(request())
        fields = parse_qs(rec.requests[0].content.decode())
        assert fields["Url"] == ["https://agent.example.com/twiml?x=1&attempt_id=att_0001"]
        assert "Twiml" not in fields

    async def test_variables_are_xml_escaped(self) -> None:
        rec = Recorder(httpx.Response(201, json=load("twilio", "create_call_response")))
        await provider(rec).place_call(request(variables={"empresa": 'A&B "Cobros" <SpA>'}))
        twiml = parse_qs(rec.requests[0].content.decode())["Twiml"][0]
        assert 'value="A&amp;B &quot;Cobros&quot; &lt;SpA&gt;"' in twiml

    async def test_invalid_number_error_code_is_invalid_number(self) -> None:
        rec = Recorder(httpx.Response(400, json=load("twilio", "create_call_error_invalid_number")))
        with pytest.raises(InvalidNumberError):
            await provider(rec).place_call(request(to_number="+5691234"))

    async def test_auth_error_is_permanent(self) -> None:
        rec = Recorder(httpx.Response(401, json=load("twilio", "create_call_error_auth")))
        with pytest.raises(PermanentProviderError) as info:
            await provider(rec).place_call(request())
        assert not isinstance(info.value, InvalidNumberError)
        assert "Authenticate" in str(info.value)

    async def test_rate_limit_honours_retry_after_then_gives_up_retryable(self) -> None:
        waits: list[float] = []

        async def sleep(s: float) -> None:
            waits.append(s)

        limited = load("twilio", "create_call_error_rate_limited")
        rec = Recorder(
            *[httpx.Response(429, json=limited, headers={"Retry-After": "2"}) for _ in range(3)]
        )
        with pytest.raises(RetryableProviderError):
            await provider(rec, max_retries=2, sleep=sleep).place_call(request())
        assert waits == [2.0, 2.0]
        assert len(rec.requests) == 3

    async def test_missing_agent_route_is_a_configuration_error(self) -> None:
        p = provider(Recorder(), stream_url=None, twiml_url=None)
        with pytest.raises(PermanentProviderError, match="twiml_url or stream_url"):
            await p.place_call(request())

    def test_implements_the_provider_protocol_and_hides_the_token(self) -> None:
        p = provider(Recorder())
        assert isinstance(p, Provider)
        assert TOKEN not in repr(p)


class TestHangupAndGet:
    async def test_hangup_posts_status_completed(self) -> None:
        rec = Recorder(httpx.Response(200, json=load("twilio", "create_call_response")))
        await provider(rec).hangup("CA5d0d0d8047bf685c3f0ff980fe62c123")
        (sent,) = rec.requests
        assert str(sent.url).endswith("/Calls/CA5d0d0d8047bf685c3f0ff980fe62c123.json")
        assert parse_qs(sent.content.decode()) == {"Status": ["completed"]}

    async def test_hangup_of_a_finished_call_is_not_an_error(self) -> None:
        rec = Recorder(httpx.Response(400, json={"code": 21220, "message": "not in-progress"}))
        await provider(rec).hangup("CA1")

    async def test_get_call_maps_machine_answer_to_voicemail(self) -> None:
        rec = Recorder(httpx.Response(200, json=load("twilio", "get_call_response")))
        event = await provider(rec).get_call("CA5d0d0d8047bf685c3f0ff980fe62c123")
        assert rec.requests[0].method == "GET"
        assert event is not None
        assert event.final
        assert event.outcome == "voicemail"
        assert event.duration_s == 15


class TestStatusCallbacks:
    @pytest.mark.parametrize(
        ("fixture", "outcome", "duration"),
        [
            ("status_callback_completed_human", "completed", 87),
            ("status_callback_completed_machine", "voicemail", 21),
            ("status_callback_no_answer", "no_answer", 0),
            ("status_callback_busy", "busy", 0),
            ("status_callback_failed_invalid", "invalid_number", 0),
        ],
    )
    def test_final_statuses_map_to_outcomes(
        self, fixture: str, outcome: str, duration: int
    ) -> None:
        params = load("twilio", fixture)
        (event,) = provider(Recorder()).parse_webhook(
            body=form(params), headers=signed(params), url=CALLBACK, now=NOW
        )
        assert event.final
        assert event.attempt_id == "att_0001"
        assert event.provider_call_id == params["CallSid"]
        assert event.outcome == outcome
        assert event.duration_s == duration

    def test_ringing_is_not_final(self) -> None:
        params = load("twilio", "status_callback_ringing")
        (event,) = provider(Recorder()).parse_webhook(
            body=form(params), headers=signed(params), url=CALLBACK, now=NOW
        )
        assert not event.final
        assert event.status == "ringing"

    def test_duplicate_callback_has_the_same_event_key(self) -> None:
        params = load("twilio", "status_callback_completed_human")
        p = provider(Recorder())
        first = p.parse_webhook(body=form(params), headers=signed(params), url=CALLBACK, now=NOW)
        again = p.parse_webhook(body=form(params), headers=signed(params), url=CALLBACK, now=NOW)
        assert first[0].event_key == again[0].event_key

    def test_tampered_parameter_is_rejected(self) -> None:
        params = load("twilio", "status_callback_completed_human")
        headers = signed(params)
        with pytest.raises(WebhookVerificationError):
            provider(Recorder()).parse_webhook(
                body=form({**params, "CallDuration": "1"}), headers=headers, url=CALLBACK, now=NOW
            )

    def test_attempt_id_in_url_is_covered_by_the_signature(self) -> None:
        params = load("twilio", "status_callback_completed_human")
        headers = signed(params)
        other = CALLBACK.replace("att_0001", "att_9999")
        with pytest.raises(WebhookVerificationError):
            provider(Recorder()).parse_webhook(
                body=form(params), headers=headers, url=other, now=NOW
            )

    def test_wrong_token_or_missing_header_is_rejected(self) -> None:
        params = load("twilio", "status_callback_completed_human")
        p = provider(Recorder())
        with pytest.raises(WebhookVerificationError):
            p.parse_webhook(
                body=form(params), headers=signed(params, token="other"), url=CALLBACK, now=NOW
            )
        with pytest.raises(WebhookVerificationError, match="missing"):
            p.parse_webhook(body=form(params), headers={}, url=CALLBACK, now=NOW)

    def test_signature_computed_with_explicit_port_is_accepted(self) -> None:
        params = load("twilio", "status_callback_busy")
        with_port = CALLBACK.replace("dialer.example.com", "dialer.example.com:443")
        (event,) = provider(Recorder()).parse_webhook(
            body=form(params), headers=signed(params, url=with_port), url=CALLBACK, now=NOW
        )
        assert event.outcome == "busy"

    def test_callback_for_another_twilio_account_is_rejected(self) -> None:
        params = {**load("twilio", "status_callback_busy"), "AccountSid": "ACother"}
        with pytest.raises(WebhookVerificationError, match="another"):
            provider(Recorder()).parse_webhook(
                body=form(params), headers=signed(params), url=CALLBACK, now=NOW
            )


class TestFindCallAfterAnUnknownCreate:
    """``find_call`` for an attempt whose create answer never came. Twilio's Call resource
    keeps no metadata: the candidates are our number's calls to the debtor around the
    create (list shaped as https://www.twilio.com/docs/voice/api/call-resource#read-
    multiple-call-resources), told apart by the claimed calls and the Call Events."""

    SENT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # when the lost create was sent

    def _call(self, sid: str, created: str) -> dict[str, object]:
        return {**load("twilio", "get_call_response"), "sid": sid, "date_created": created,
                "answered_by": "human"}  # fmt: skip

    def _list(self, *calls: dict[str, object]) -> httpx.Response:
        return httpx.Response(200, json={"calls": list(calls), "page": 0, "page_size": 50})

    async def _find(self, rec: Recorder, claimed: set[str] | None = None) -> object:
        async def owned(sids: list[str]) -> set[str]:
            return {s for s in sids if s in (claimed or set())}

        return await provider(rec).find_call(
            "att_0002", to_number="+56912345678", since=self.SENT, claimed=owned
        )

    async def test_an_earlier_attempts_call_to_the_same_number_is_not_a_candidate(self) -> None:
        rec = Recorder(self._list(
            self._call("CA1111111111111111111111111111111a", "Mon, 02 Mar 2026 13:58:00 +0000"),
            self._call("CA2222222222222222222222222222222b", "Mon, 02 Mar 2026 15:00:02 +0000"),
            self._call("CA3333333333333333333333333333333c", "Mon, 02 Mar 2026 15:40:00 +0000"),
        ))  # fmt: skip
        found = await self._find(rec)
        assert found.provider_call_id == "CA2222222222222222222222222222222b"  # type: ignore[attr-defined]
        sent = rec.requests[0].url.params
        assert (sent["To"], sent["From"]) == ("+56912345678", "+56229145000")

    async def test_a_call_another_attempt_owns_is_not_a_candidate(self) -> None:
        rec = Recorder(self._list(
            self._call("CA1111111111111111111111111111111a", "Mon, 02 Mar 2026 15:00:01 +0000"),
            self._call("CA2222222222222222222222222222222b", "Mon, 02 Mar 2026 15:00:02 +0000"),
        ))  # fmt: skip
        found = await self._find(rec, claimed={"CA1111111111111111111111111111111a"})
        assert found.provider_call_id == "CA2222222222222222222222222222222b"  # type: ignore[attr-defined]
        assert len(rec.requests) == 1  # no need to ask for call events

    async def test_two_unclaimed_calls_are_told_apart_by_their_call_events(self) -> None:
        a, b = "CA1111111111111111111111111111111a", "CA2222222222222222222222222222222b"
        other = load("twilio", "call_events")
        for e in other["events"]:
            e["request"]["url"] = e["request"]["url"].replace("att_0002", "att_0001")
        rec = Recorder(
            self._list(self._call(a, "Mon, 02 Mar 2026 15:00:01 +0000"),
                       self._call(b, "Mon, 02 Mar 2026 15:00:02 +0000")),
            httpx.Response(200, json=other),  # a: the other attempt's status callbacks
            httpx.Response(200, json=load("twilio", "call_events")),  # b: ours
        )  # fmt: skip
        found = await self._find(rec)
        assert found.provider_call_id == b  # type: ignore[attr-defined]
        assert [r.url.path.rsplit("/", 2)[-2] for r in rec.requests[1:]] == [a, b]

    async def test_undecided_waits_then_goes_to_the_operator_never_guessed(
        self, frozen_clock: FrozenClock
    ) -> None:
        a, b = "CA1111111111111111111111111111111a", "CA2222222222222222222222222222222b"
        listing = self._list(self._call(b, "Mon, 02 Mar 2026 15:00:02 +0000"),
                             self._call(a, "Mon, 02 Mar 2026 15:00:01 +0000"))  # fmt: skip
        not_yet = httpx.Response(404, json={"code": 20404, "message": "not found"})
        frozen_clock.set(self.SENT + timedelta(minutes=10))
        with pytest.raises(ProviderError, match="do not yet tell") as early:
            await self._find(Recorder(listing, not_yet, not_yet))
        assert not isinstance(early.value, CallNotAttributable)
        # An hour after the create, still no proof: no call is taken for the attempt
        # (the earliest is not guessed); the operator is told which calls to check.
        frozen_clock.set(self.SENT + ATTRIBUTION_DEADLINE)
        with pytest.raises(CallNotAttributable, match=f"{b}, {a}|{a}, {b}"):
            await self._find(Recorder(listing, not_yet, not_yet))

    async def test_a_call_whose_events_name_another_attempt_is_not_ours(self) -> None:
        a, b = "CA1111111111111111111111111111111a", "CA2222222222222222222222222222222b"
        other = load("twilio", "call_events")
        for e in other["events"]:
            e["request"]["url"] = e["request"]["url"].replace("att_0002", "att_0001")
        not_yet = httpx.Response(404, json={"code": 20404, "message": "not found"})
        rec = Recorder(
            self._list(self._call(a, "Mon, 02 Mar 2026 15:00:01 +0000"),
                       self._call(b, "Mon, 02 Mar 2026 15:00:02 +0000")),
            httpx.Response(200, json=other),  # a: provably another attempt's
            not_yet,  # b: no events yet, but the only call left
        )  # fmt: skip
        found = await self._find(rec)
        assert found.provider_call_id == b  # type: ignore[attr-defined]

    async def test_no_call_near_the_create_proves_none_was_made(self) -> None:
        rec = Recorder(self._list(
            self._call("CA1111111111111111111111111111111a", "Mon, 02 Mar 2026 13:58:00 +0000"),
        ))  # fmt: skip
        assert await self._find(rec) is None
