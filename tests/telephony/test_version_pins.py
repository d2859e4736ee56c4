"""Agent versions pinned per batch for the vendors whose create-call takes one, beyond
Retell (tests/telephony/test_provider_webhooks.py): Vapi's ``assistantVersion``.

The vendor's HTTP API is faked with httpx.MockTransport answering as its documents show
(tests/fixtures/providers/vapi/SOURCES.md); the router, its pin store (the batch row) and
the worker's pin task are the real ones.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import Batch
from dialer.telephony.base import CallRequest
from dialer.telephony.pinning import pin_started_batches
from dialer.telephony.providers.routing import AccountRoutedProvider
from tests.factories import make_account, make_batch
from tests.telephony.recorded import load

ASSISTANT = "5b0a9a46-2f7e-4b8c-9d1e-3f4a5b6c7d8e"
NUMBER_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


class FakeVapi:
    def __init__(self) -> None:
        self.assistant: dict[str, Any] = load("vapi", "get_assistant")
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET" and request.url.path == f"/assistant/{ASSISTANT}":
            return httpx.Response(200, json=self.assistant)
        if request.method == "POST" and request.url.path == "/call":
            return httpx.Response(201, json=load("vapi", "create_call_response"))
        return httpx.Response(404, json={"message": "not found"})

    def creates(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


@pytest.fixture
def vapi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deployment-wide Vapi credentials (the account stores none of its own).
    monkeypatch.setenv("DIALER_VAPI_API_KEY", "vapi_private_key_0001")
    monkeypatch.setenv("DIALER_VAPI_WEBHOOK_SECRET", "vapi_webhook_secret")


async def vapi_batch(database: Database, frozen_clock: FrozenClock) -> tuple[str, str]:
    account = await make_account(database)
    batch = await make_batch(database, account, jobs=1, now=frozen_clock.now())
    async with database.write() as s:
        row = await s.get(Batch, batch)
        assert row is not None
        row.provider = "vapi"
        row.started_at = frozen_clock.now()  # started now
        row.provider_options = {"agent_id": ASSISTANT, "phone_number_id": NUMBER_ID}
    return account, batch


def vapi_router(settings: Settings, database: Database, vendor: FakeVapi) -> AccountRoutedProvider:
    """The routing provider a worker holds, its Vapi calls answered by ``vendor``."""
    return AccountRoutedProvider(
        "vapi", settings, database, client=httpx.AsyncClient(transport=httpx.MockTransport(vendor))
    )


def request_for(account: str, batch: str, attempt: str) -> CallRequest:
    return CallRequest(
        attempt_id=attempt, to_number="+56912345678", from_number=None, agent_id=ASSISTANT,
        from_number_id=NUMBER_ID, metadata={"account_id": account, "batch_id": batch},
    )  # fmt: skip


async def test_a_vapi_batch_keeps_the_assistant_version_current_at_its_start(
    database: Database, settings: Settings, frozen_clock: FrozenClock, vapi_env: None
) -> None:
    vendor = FakeVapi()
    router = vapi_router(settings, database, vendor)
    account, batch = await vapi_batch(database, frozen_clock)
    assert (
        await pin_started_batches(
            database, lambda name: router, default=settings.PROVIDER, now=frozen_clock.now()
        )
        == 1
    )
    async with database.read() as s:
        row = await s.get(Batch, batch)
        assert row is not None
        assert row.provider_options["agent_version"] == "v3"
    # The assistant is edited and published again: the campaign's calls keep v3.
    vendor.assistant["latestVersion"] = "v4"
    await router.place_call(request_for(account, batch, "att-1"))
    fresh = vapi_router(settings, database, vendor)
    await fresh.place_call(request_for(account, batch, "att-2"))  # another worker
    assert [c["assistantVersion"] for c in vendor.creates()] == ["v3", "v3"]
    assert all(c["assistantId"] == ASSISTANT for c in vendor.creates())


async def test_without_assistant_versioning_calls_follow_the_assistant_and_nothing_is_stored(
    database: Database, settings: Settings, frozen_clock: FrozenClock, vapi_env: None
) -> None:
    vendor = FakeVapi()
    vendor.assistant["latestVersion"] = None  # the org is not on assistant versioning
    router = vapi_router(settings, database, vendor)
    account, batch = await vapi_batch(database, frozen_clock)
    assert (
        await pin_started_batches(
            database, lambda name: router, default=settings.PROVIDER, now=frozen_clock.now()
        )
        == 0
    )
    await router.place_call(request_for(account, batch, "att-1"))
    await router.place_call(request_for(account, batch, "att-2"))
    assert [("assistantVersion" in c) for c in vendor.creates()] == [False, False]
    # Asked once, not before every call.
    assert sum(r.url.path.startswith("/assistant/") for r in vendor.requests) == 1
    async with database.read() as s:
        row = await s.get(Batch, batch)
        assert row is not None
        assert "agent_version" not in row.provider_options
