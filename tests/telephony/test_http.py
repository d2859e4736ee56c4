"""The adapters' shared HTTP side (providers/_http.py): each vendor's SDK timeout on every
request even through a shared client, and no credential in an error message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dialer.telephony.base import CallRequest, PermanentProviderError
from dialer.telephony.providers.elevenlabs import ElevenLabsProvider
from dialer.telephony.providers.retell import RetellProvider
from dialer.telephony.providers.twilio import TwilioProvider
from dialer.telephony.providers.vapi import VapiProvider
from tests.telephony.recorded import Recorder, no_sleep

KEY = "key_3f9b0c1d2e4a5b6c7d8e9f00"
REQUEST = CallRequest(attempt_id="att_1", to_number="+56912345678", from_number="+56229145000",
                      agent_id="agent_1", from_number_id="phnum_1")  # fmt: skip


def _echo_key(request: httpx.Request) -> httpx.Response:
    # A vendor error that quotes what it was sent (some echo the Authorization header).
    return httpx.Response(400, json={"message": f"bad request with key {KEY}"})


def _adapters(client: httpx.AsyncClient) -> dict[str, Any]:
    return {
        "retell": RetellProvider(api_key=KEY, client=client, sleep=no_sleep),
        "twilio": TwilioProvider(
            account_sid="AC1", auth_token=KEY, twiml_url="https://a/t", client=client,
            sleep=no_sleep,
        ),
        "elevenlabs": ElevenLabsProvider(
            api_key=KEY, webhook_secret="whsec", agent_id="a", phone_number_id="p",
            client=client, sleep=no_sleep,
        ),
        "vapi": VapiProvider(
            api_key=KEY, webhook_secret="whsec", assistant_id="a", phone_number_id="p",
            client=client, sleep=no_sleep,
        ),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["retell", "twilio", "elevenlabs", "vapi"])
async def test_a_vendor_error_never_carries_the_credential(name: str) -> None:
    rec = Recorder(_echo_key)
    adapter = _adapters(rec.client())[name]
    with pytest.raises(PermanentProviderError) as caught:
        await adapter.place_call(REQUEST)
    assert KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert KEY not in repr(adapter)


async def test_each_vendor_gets_its_sdks_read_timeout_through_one_shared_client() -> None:
    seen: dict[str, float | None] = {}

    def record(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.extensions["timeout"]["read"]
        return httpx.Response(404, json={"message": "not found"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(record), timeout=10.0)
    adapters = _adapters(client)
    for adapter in adapters.values():
        assert await adapter.get_call("c1") is None
    # retell-python-sdk 5.x 120 s; twilio-python none (120 s used); VapiAI 1.x 60 s;
    # elevenlabs-python 2.x 240 s.
    assert seen == {
        "api.retellai.com": 120.0,
        "api.twilio.com": 120.0,
        "api.elevenlabs.io": 240.0,
        "api.vapi.ai": 60.0,
    }
