"""Fake vendor APIs for the provider contract suite.

Each fake keeps the calls it was asked to create (so a create whose answer is lost still
exists at the vendor, as it would) and answers the vendor's documented endpoints with the
recorded payloads of ``tests/fixtures/providers/<vendor>`` (see SOURCES.md there for the
SDK version / doc page each follows), with ids and state substituted. It signs webhooks
the way the vendor does.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from dialer.telephony.base import Provider
from dialer.telephony.providers import elevenlabs, retell, twilio, vapi
from tests.telephony.recorded import load, no_sleep

TO = "+56912345678"


@dataclass
class VendorCall:
    call_id: str
    attempt_id: str
    to_number: str
    ended: bool = False
    hung_up: bool = False


@dataclass
class Webhook:
    body: bytes
    headers: dict[str, str]
    url: str = "https://dialer.example.com/api/v1/webhooks/x"


@dataclass
class FakeVendor:
    """Base: state and the transport; subclasses speak one vendor's API."""

    name: str = ""
    calls: dict[str, VendorCall] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    lose_create_answer: bool = False
    counter: int = 0

    # -- plumbing ---------------------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.handle(request)
        if self.lose_create_answer and self.is_create(request):
            # The vendor acted on the request; its answer never reaches us.
            raise httpx.ReadTimeout("read timed out", request=request)
        return response

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:04d}"

    def creates(self) -> list[httpx.Request]:
        return [r for r in self.requests if self.is_create(r)]

    # -- per vendor ---------------------------------------------------------------------
    def adapter(self) -> Provider:
        raise NotImplementedError

    def is_create(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        raise NotImplementedError

    def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        raise NotImplementedError

    def resign(self, hook: Webhook, at: datetime) -> Webhook:
        """The same body signed at ``at`` (a replay captured earlier, re-sent)."""
        raise NotImplementedError


# -- Retell -----------------------------------------------------------------------------


class FakeRetell(FakeVendor):
    KEY = "key_contract_retell"

    def __init__(self) -> None:
        super().__init__(name="retell")

    def adapter(self) -> Provider:
        return retell.RetellProvider(
            api_key=self.KEY, client=self.client(), agent_id="agent_x",
            from_number="+56229145000", sleep=no_sleep,
        )  # fmt: skip

    def is_create(self, request: httpx.Request) -> bool:
        return request.url.path == "/v2/create-phone-call"

    def _call(self, c: VendorCall) -> dict[str, Any]:
        data = load("retell", "get_call_response" if c.ended else "create_phone_call_response")
        data.update(call_id=c.call_id, to_number=c.to_number,
                    metadata={"attempt_id": c.attempt_id})  # fmt: skip
        if c.ended and c.hung_up:
            data["disconnection_reason"] = "manual_stopped"
        return data

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.is_create(request):
            body = json.loads(request.content)
            c = VendorCall(self.new_id("call_"), body["metadata"]["attempt_id"], body["to_number"])
            self.calls[c.call_id] = c
            return httpx.Response(201, json=self._call(c))
        if m := re.fullmatch(r"/v2/get-call/(.+)", path):
            c2 = self.calls.get(m.group(1))
            return httpx.Response(200, json=self._call(c2)) if c2 else httpx.Response(404)
        if m := re.fullmatch(r"/v2/stop-call/(.+)", path):
            c3 = self.calls.get(m.group(1))
            if c3 is None or c3.ended:
                return httpx.Response(404, json={"message": "call not found or ended"})
            c3.ended = c3.hung_up = True
            return httpx.Response(204)
        if path == "/v3/list-calls":
            crit = json.loads(request.content)["filter_criteria"]
            want = crit["metadata"][0]["value"]
            items = [self._call(c) for c in self.calls.values()
                     if c.attempt_id == want and c.to_number == crit["to_number"]["value"]]  # fmt: skip
            return httpx.Response(200, json={"items": items, "has_more": False})
        return httpx.Response(404)

    def _hook(self, event: str, c: VendorCall, at: datetime) -> Webhook:
        call = self._call(c)
        if event == "call_started":
            call.update(call_status="ongoing", start_timestamp=1772463600000)
        body = json.dumps({"event": event, "call": call}).encode()
        return self.resign(Webhook(body, {}), at)

    def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        call.ended = True
        return self._hook("call_ended", call, at)

    def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        return self._hook("call_started", call, at)

    def resign(self, hook: Webhook, at: datetime) -> Webhook:
        sig = retell.sign(hook.body, self.KEY, int(at.timestamp() * 1000))
        return Webhook(hook.body, {"content-type": "application/json",
                                   "x-retell-signature": sig}, hook.url)  # fmt: skip


# -- Twilio -----------------------------------------------------------------------------


class FakeTwilio(FakeVendor):
    SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    TOKEN = "contract_twilio_token"

    def __init__(self) -> None:
        super().__init__(name="twilio")
        self.callback_urls: dict[str, str] = {}
        # Call Events are readable 15 minutes after a call ends (call-event-resource):
        # until a test says so, Twilio has none to show.
        self.events_ready = False

    def adapter(self) -> Provider:
        return twilio.TwilioProvider(
            account_sid=self.SID, auth_token=self.TOKEN, client=self.client(),
            from_number="+56229145000", stream_url="wss://agent.example/media",
            webhook_base_url="https://dialer.example.com", sleep=no_sleep,
        )  # fmt: skip

    def is_create(self, request: httpx.Request) -> bool:
        return request.method == "POST" and request.url.path.endswith("/Calls.json")

    def _resource(self, c: VendorCall, created: str) -> dict[str, Any]:
        data = load("twilio", "get_call_response" if c.ended else "create_call_response")
        data.update(sid=c.call_id, to=c.to_number, date_created=created)
        if c.ended:
            data.update(status="completed", answered_by="human", duration="95",
                        price="-0.0425", price_unit="USD")  # fmt: skip
        return data

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        created = "Mon, 02 Mar 2026 15:00:00 +0000"
        if self.is_create(request):
            form = dict(parse_qsl(request.content.decode()))
            callback = form["StatusCallback"]
            attempt = dict(parse_qsl(httpx.URL(callback).query.decode()))["attempt_id"]
            c = VendorCall(self.new_id("CA000000000000000000000000000"), attempt, form["To"])
            self.calls[c.call_id] = c
            self.callback_urls[c.call_id] = callback
            return httpx.Response(201, json=self._resource(c, created))
        if request.method == "GET" and path.endswith("/Calls.json"):
            to = request.url.params.get("To")
            calls = [self._resource(c, created) for c in self.calls.values() if c.to_number == to]
            return httpx.Response(200, json={"calls": calls, "page": 0, "page_size": 20})
        if (m := re.search(r"/Calls/(CA\w+)/Events\.json$", path)) and self.events_ready:
            # https://www.twilio.com/docs/voice/api/call-event-resource: each event's
            # request.url is the status callback Twilio requested (ours: attempt_id).
            page = load("twilio", "call_events")
            url = self.callback_urls.get(m.group(1))
            for e in page["events"]:
                e["request"]["url"] = url or "https://elsewhere.example/status"
                e["request"]["parameters"]["call_sid"] = m.group(1)
            return httpx.Response(200, json=page)
        if m := re.search(r"/Calls/(CA\w+)\.json$", path):
            c2 = self.calls.get(m.group(1))
            if c2 is None:
                return httpx.Response(404, json={"code": 20404, "message": "not found"})
            if request.method == "POST":
                if dict(parse_qsl(request.content.decode())).get("Status") == "completed":
                    c2.ended = c2.hung_up = True
                return httpx.Response(200, json=self._resource(c2, created))
            return httpx.Response(200, json=self._resource(c2, created))
        return httpx.Response(404)

    def _hook(self, params: dict[str, str], c: VendorCall) -> Webhook:
        url = self.callback_urls[c.call_id]
        sig = twilio.compute_signature(url, params, self.TOKEN)
        return Webhook(urlencode(params).encode(),
                       {"content-type": "application/x-www-form-urlencoded",
                        "x-twilio-signature": sig}, url)  # fmt: skip

    def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        call.ended = True
        params = {**load("twilio", "status_callback_completed_human"), "CallSid": call.call_id,
                  "AccountSid": self.SID, "To": call.to_number}  # fmt: skip
        return self._hook(params, call)

    def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        params = {**load("twilio", "status_callback_ringing"), "CallSid": call.call_id,
                  "AccountSid": self.SID}  # fmt: skip
        return self._hook(params, call)

    def resign(self, hook: Webhook, at: datetime) -> Webhook:
        return hook  # Twilio's signature has no timestamp: a replay is byte-identical


# -- ElevenLabs -------------------------------------------------------------------------


class FakeElevenLabs(FakeVendor):
    KEY = "xi_contract_key"
    SECRET = "wsec_contract_elevenlabs"
    TWILIO_SID = "ACcontract0000000000000000000000aa"

    def __init__(self) -> None:
        super().__init__(name="elevenlabs")

    def adapter(self) -> Provider:
        return elevenlabs.ElevenLabsProvider(
            api_key=self.KEY, webhook_secret=self.SECRET, client=self.client(),
            agent_id="agent_01jx2w3v4u5t6s7r8q9p0n1m2k",
            phone_number_id="phnum_01jx9a8b7c6d5e4f3g2h1j0k9m", sleep=no_sleep,
            # The imported Twilio number's account: hangup ends the conversation's call.
            twilio_account_sid=self.TWILIO_SID, twilio_auth_token="contract_twilio_token",
        )  # fmt: skip

    @staticmethod
    def call_sid(c: VendorCall) -> str:
        return "CA" + c.call_id.removeprefix("conv_").rjust(32, "0")

    def is_create(self, request: httpx.Request) -> bool:
        return request.url.path.endswith("/outbound-call")

    def _conversation(self, c: VendorCall) -> dict[str, Any]:
        name = "get_conversation_done" if c.ended else "get_conversation_in_progress"
        data = load("elevenlabs", name)
        data.update(conversation_id=c.call_id, user_id=c.attempt_id)
        if c.hung_up:
            data["status"] = "done"
        # elevenlabs-python 2.59 ConversationHistoryMetadataCommonModel.phone_call
        # (ConversationHistoryTwilioPhoneCallModel: direction, phone_number_id, agent_number,
        # external_number, type "twilio", stream_sid, call_sid).
        data["metadata"]["phone_call"] = {
            "direction": "outbound", "phone_number_id": "phnum_01jx9a8b7c6d5e4f3g2h1j0k9m",
            "agent_number": "+56229145000", "external_number": c.to_number, "type": "twilio",
            "stream_sid": "MZ" + "0" * 32, "call_sid": self.call_sid(c),
        }  # fmt: skip
        data["conversation_initiation_client_data"]["user_id"] = c.attempt_id
        data["conversation_initiation_client_data"]["dynamic_variables"]["dialer_attempt_id"] = (
            c.attempt_id
        )
        return data

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.is_create(request):
            body = json.loads(request.content)
            client_data = body["conversation_initiation_client_data"]
            c = VendorCall(self.new_id("conv_"), client_data["user_id"], body["to_number"])
            self.calls[c.call_id] = c
            answer = load("elevenlabs", "twilio_outbound_call_response")
            answer["conversation_id"] = c.call_id
            return httpx.Response(200, json=answer)
        if path == "/v1/convai/conversations":
            user = request.url.params.get("user_id")
            page = load("elevenlabs", "list_conversations")
            template = page["conversations"][0]
            page["conversations"] = [
                {**template, "conversation_id": c.call_id}
                for c in self.calls.values()
                if c.attempt_id == user
            ]
            return httpx.Response(200, json=page)
        twilio_call = re.fullmatch(
            rf"/2010-04-01/Accounts/{self.TWILIO_SID}/Calls/(CA\w+)\.json", path
        )
        if twilio_call and request.method == "POST":
            # Twilio's Calls API (https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource).
            for c3 in self.calls.values():
                if self.call_sid(c3) == twilio_call.group(1):
                    c3.ended = c3.hung_up = True
                    return httpx.Response(200, json={"sid": twilio_call.group(1),
                                                     "status": "completed"})  # fmt: skip
            return httpx.Response(404, json={"code": 20404, "message": "not found"})
        if m := re.fullmatch(r"/v1/convai/conversations/([^/]+)", path):
            c2 = self.calls.get(m.group(1))
            if c2 is None:
                return httpx.Response(404, json={"detail": {"status": "conversation_not_found"}})
            return httpx.Response(200, json=self._conversation(c2))
        return httpx.Response(404)

    def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        call.ended = True
        payload = load("elevenlabs", "webhook_post_call_transcription")
        payload["data"] = self._conversation(call)
        return self.resign(Webhook(json.dumps(payload).encode(), {}), at)

    def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        # ElevenLabs sends no progress webhook; a transcription-less event type stands in
        # (post_call_audio), which must change nothing.
        body = json.dumps({"type": "post_call_audio", "event_timestamp": 1772463700,
                           "data": {"agent_id": "a", "conversation_id": call.call_id,
                                    "full_audio": ""}}).encode()  # fmt: skip
        return self.resign(Webhook(body, {}), at)

    def resign(self, hook: Webhook, at: datetime) -> Webhook:
        sig = elevenlabs.sign(hook.body, self.SECRET, int(at.timestamp()))
        return Webhook(hook.body, {"content-type": "application/json",
                                   "ElevenLabs-Signature": sig}, hook.url)  # fmt: skip


# -- Vapi -------------------------------------------------------------------------------


class FakeVapi(FakeVendor):
    KEY = "vapi_contract_private_key"
    SECRET = "vapi_contract_hmac_secret"

    def __init__(self) -> None:
        super().__init__(name="vapi")

    def adapter(self) -> Provider:
        return vapi.VapiProvider(
            api_key=self.KEY, webhook_secret=self.SECRET, client=self.client(),
            assistant_id="5b0a9a46-2f7e-4b8c-9d1e-3f4a5b6c7d8e",
            phone_number_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", sleep=no_sleep,
        )  # fmt: skip

    def is_create(self, request: httpx.Request) -> bool:
        return request.method == "POST" and request.url.path == "/call"

    def _call(self, c: VendorCall) -> dict[str, Any]:
        data = load("vapi", "get_call_ended" if c.ended else "create_call_response")
        data["id"] = c.call_id
        data["customer"] = {"number": c.to_number}
        data["assistantOverrides"]["metadata"] = {"attempt_id": c.attempt_id}
        data["monitor"]["controlUrl"] = f"https://control.vapi.example/{c.call_id}/control"
        if c.hung_up:
            data["endedReason"] = "manually-canceled"
        return data

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.is_create(request):
            body = json.loads(request.content)
            attempt = body["assistantOverrides"]["metadata"]["attempt_id"]
            c = VendorCall(self.new_id("4c1e8a52-"), attempt, body["customer"]["number"])
            self.calls[c.call_id] = c
            return httpx.Response(201, json=self._call(c))
        if request.method == "GET" and path == "/call":
            return httpx.Response(200, json=[self._call(c) for c in self.calls.values()])
        if m := re.fullmatch(r"/call/([^/]+)", path):
            c2 = self.calls.get(m.group(1))
            return httpx.Response(200, json=self._call(c2)) if c2 else httpx.Response(404)
        if m := re.fullmatch(r"/([^/]+)/control", path):
            c3 = self.calls.get(m.group(1))
            if c3 is None:
                return httpx.Response(404)
            assert json.loads(request.content) == {"type": "end-call"}
            c3.ended = c3.hung_up = True
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404)

    def _hook(self, message: dict[str, Any], at: datetime) -> Webhook:
        message["timestamp"] = int(at.timestamp() * 1000)
        return self.resign(Webhook(json.dumps({"message": message}).encode(), {}), at)

    def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        call.ended = True
        message = load("vapi", "webhook_end_of_call_report")["message"]
        message["call"] = self._call(call)
        return self._hook(message, at)

    def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        message = load("vapi", "webhook_status_update_in_progress")["message"]
        message["call"] = {**self._call(call), "status": "in-progress"}
        return self._hook(message, at)

    def resign(self, hook: Webhook, at: datetime) -> Webhook:
        stamp = str(int(at.timestamp() * 1000))
        return Webhook(hook.body, {"content-type": "application/json", "x-timestamp": stamp,
                                   "x-signature": vapi.sign(hook.body, self.SECRET, stamp)},
                       hook.url)  # fmt: skip


VENDORS: dict[str, type[FakeVendor]] = {
    "retell": FakeRetell,
    "twilio": FakeTwilio,
    "elevenlabs": FakeElevenLabs,
    "vapi": FakeVapi,
}


def tampered(hook: Webhook) -> Webhook:
    """The same signature over a body changed by one field (a forged outcome)."""
    body = copy.copy(hook.body)
    for old, new in ((b"completed", b"completeX"), (b"user_hangup", b"dial_no_answer"),
                     (b"customer-ended-call", b"customer-did-not-answer"),
                     (b'"done"', b'"fail"')):  # fmt: skip
        if old in body:
            return Webhook(body.replace(old, new, 1), hook.headers, hook.url)
    return Webhook(body + b" ", hook.headers, hook.url)


STALE = timedelta(hours=2)
