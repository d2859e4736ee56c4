"""Webhooks are bound to the attempt they concern (hostile cases, issue 19 items 2, 4, 5).

* Tenant A, signing with its own provider key, cannot post events for tenant B's attempt
  (Retell, Twilio), and a simulated-signed webhook cannot touch a Retell attempt.
* A tenant's own key cannot settle what the provider does not confirm.
* Unsigned webhooks naming thousands of accounts or attempts do not grow the adapter cache.
"""

from __future__ import annotations

import gc
import json
from urllib.parse import urlencode

import httpx
import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.telephony.base import WebhookVerificationError
from dialer.telephony.providers.retell import sign
from dialer.telephony.providers.routing import AccountRoutedProvider
from dialer.telephony.providers.twilio import compute_signature
from dialer.telephony.simulated import sign as sim_sign
from tests.factories import make_account
from tests.telephony import test_provider_webhooks as pw
from tests.telephony.recorded import load

EVIL_KEY = "key_evil_tenant_own_retell"
EVIL_TOKEN = "evil_tenant_twilio_token"


async def evil_tenant(admin: httpx.AsyncClient, database: Database, provider: str) -> None:
    """A second tenant with its own credentials for ``provider``."""
    await make_account(database, "acc-evil", minutes=0)
    creds = (
        {"api_key": EVIL_KEY}
        if provider == "retell"
        else {"account_sid": pw.SID, "auth_token": EVIL_TOKEN}
    )
    r = await admin.put(
        f"/api/v1/accounts/acc-evil/providers/{provider}",
        json={"credentials": creds, "options": {"from_number": "+56229140000",
                                                "stream_url": "wss://evil.example/media"}
              if provider == "twilio" else {"from_number": "+56229140000"}},
    )  # fmt: skip
    assert r.status_code == 200, r.text


class TestCrossTenant:
    async def test_retell_event_signed_by_another_tenant_is_refused(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        victim, _ = await pw.dial_one(database, settings, admin, "retell")
        await evil_tenant(admin, database, "retell")
        before = await pw.snapshot(database, victim.id)
        payload = load("retell", "webhook_call_ended")
        # The attacker names the victim's attempt and its own account, with 3,600 s.
        payload["call"]["metadata"] = {"attempt_id": victim.id, "account_id": "acc-evil"}
        payload["call"]["duration_ms"] = 3_600_000
        payload["call"]["transcript"] = "injected"
        body = json.dumps(payload).encode()
        r = await pw.post_retell(client, body, frozen_clock, key=EVIL_KEY)
        assert r.status_code == 401
        assert await pw.snapshot(database, victim.id) == before

    async def test_twilio_callback_signed_by_another_tenant_is_refused(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        victim, _ = await pw.dial_one(database, settings, admin, "twilio")
        await evil_tenant(admin, database, "twilio")
        before = await pw.snapshot(database, victim.id)
        query = urlencode({"attempt_id": victim.id, "account_id": "acc-evil"})
        url = f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/twilio?{query}"
        params = {**load("twilio", "status_callback_completed_human"),
                  "CallSid": "CA5d0d0d8047bf685c3f0ff980fe62c123", "CallDuration": "3600"}  # fmt: skip
        r = await client.post(
            url[len(settings.PUBLIC_BASE_URL):], content=urlencode(params),
            headers={"content-type": "application/x-www-form-urlencoded",
                     "x-twilio-signature": compute_signature(url, params, EVIL_TOKEN)},
        )  # fmt: skip
        assert r.status_code == 401
        assert await pw.snapshot(database, victim.id) == before

    async def test_simulated_webhook_cannot_touch_a_retell_attempt(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        victim, _ = await pw.dial_one(database, settings, admin, "retell")
        before = await pw.snapshot(database, victim.id)
        body = json.dumps({
            "event": "call.ended", "call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
            "attempt_id": victim.id, "outcome": "completed", "business_result": "already_paid",
            "duration_s": 3600, "transcript": "injected",
        }).encode()  # fmt: skip
        secret = settings.SECRET_KEY.get_secret_value()
        r = await client.post(
            "/api/v1/webhooks/simulated", content=body,
            headers={"content-type": "application/json",
                     "x-dialer-signature": sim_sign(secret, body, frozen_clock.now())},
        )  # fmt: skip
        assert r.status_code == 401
        assert await pw.snapshot(database, victim.id) == before


class TestConfirmation:
    async def test_a_tenant_signed_final_the_provider_does_not_confirm_settles_nothing(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, _ = await pw.dial_one(database, settings, admin, "retell")
        before = await pw.snapshot(database, attempt.id)
        # Signed with the account's own (valid) key, but Retell has no such ended call.
        payload = load("retell", "webhook_call_ended")
        payload["call"]["metadata"] = {"attempt_id": attempt.id}
        r = await pw.post_retell(client, json.dumps(payload).encode(), frozen_clock)
        assert r.status_code == 200
        assert r.json()["applied"] == 0
        assert await pw.snapshot(database, attempt.id) == before

    async def test_the_provider_record_is_what_gets_billed(
        self, database: Database, settings: Settings, admin: httpx.AsyncClient,
        client: httpx.AsyncClient, frozen_clock: FrozenClock,
    ) -> None:  # fmt: skip
        attempt, _ = await pw.dial_one(database, settings, admin, "retell")
        truth = load("retell", "webhook_call_ended")["call"]
        pw.VENDOR.records[truth["call_id"]] = {**truth, "metadata": {"attempt_id": attempt.id}}
        forged = load("retell", "webhook_call_ended")
        forged["call"].update(metadata={"attempt_id": attempt.id}, duration_ms=3_600_000,
                              end_timestamp=truth["start_timestamp"] + 3_600_000)  # fmt: skip
        r = await pw.post_retell(client, json.dumps(forged).encode(), frozen_clock)
        assert r.status_code == 200
        state = await pw.snapshot(database, attempt.id)
        assert state["attempt"][:2] == ("ended", "completed")
        assert state["attempt"][3] == 95  # Retell's 94.5 s, not the 3,600 s claimed


class TestBoundedCache:
    async def test_unsigned_webhooks_naming_many_accounts_do_not_grow_memory(
        self, database: Database, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        router = AccountRoutedProvider("retell", settings, database, client=httpx.AsyncClient())
        template = load("retell", "webhook_call_ended")

        async def one(i: int) -> None:
            template["call"]["metadata"] = {"attempt_id": f"att-{i}", "account_id": f"acc-{i}"}
            template["call"]["call_id"] = f"call-{i}"
            body = json.dumps(template).encode()
            bad = sign(body, "not-a-key", int(frozen_clock.now().timestamp() * 1000))
            with pytest.raises(WebhookVerificationError):
                await router.verify_webhook(body=body, headers={"x-retell-signature": bad},
                                            url="", now=frozen_clock.now())  # fmt: skip

        for i in range(50):  # warm-up: imports, statement caches
            await one(i)
        gc.collect()
        before = len(gc.get_objects())
        for i in range(50, 2050):
            await one(i)
        gc.collect()
        grown = len(gc.get_objects()) - before
        assert router.cached_accounts == 0  # nothing cached for claims nobody proved
        # The old per-claimed-account cache kept an adapter (and its state) per webhook.
        assert grown < 500, f"{grown} objects kept after 2,000 unsigned webhooks"
