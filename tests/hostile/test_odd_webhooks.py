"""Signed webhooks with absurd values: a clear 4xx, never a 500, nothing applied.

A user relies on: a provider (or a tenant holding its own provider key) sending a
timestamp of 10^20, a ``start_timestamp`` of 1e308, an ``attempt_id`` that is a list or a
simulated ``outcome`` that is not one of ours gets a 4xx naming the problem, and the
attempt is left as it was. Payloads are the recorded Retell webhooks
(tests/fixtures/providers/retell, shaped as docs.retellai.com "Webhook" documents them)
with one field replaced.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.telephony.providers.retell import sign
from dialer.telephony.simulated import SIGNATURE_HEADER
from dialer.telephony.simulated import sign as sim_sign
from tests.telephony.recorded import load
from tests.telephony.test_provider_webhooks import RETELL_KEY, dial_one, snapshot
from tests.telephony.test_simulated import WEBHOOK, placed_call, state


def _retell(attempt_id: Any, **call: Any) -> bytes:
    payload = load("retell", "webhook_call_ended")
    payload["call"]["metadata"] = {"attempt_id": attempt_id, "account_id": "acc-acme"}
    payload["call"].update(call)
    return json.dumps(payload).encode()


async def _post_retell(client: httpx.AsyncClient, body: bytes, ts_ms: int) -> httpx.Response:
    return await client.post(
        "/api/v1/webhooks/retell",
        content=body,
        headers={
            "content-type": "application/json",
            "x-retell-signature": sign(body, RETELL_KEY, ts_ms),
        },
    )


async def test_absurd_signed_retell_values_are_refused(
    database: Database, settings: Settings, admin: httpx.AsyncClient, client: httpx.AsyncClient,
    frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    attempt, _ = await dial_one(database, settings, admin, "retell")
    before = await snapshot(database, attempt.id)
    now_ms = int(frozen_clock.now().timestamp() * 1000)
    cases = {
        "timestamp 10^20": (_retell(attempt.id), 10**20),
        "start_timestamp 1e308": (_retell(attempt.id, start_timestamp=1e308), now_ms),
        "list attempt_id": (_retell([attempt.id]), now_ms),
        "object attempt_id": (_retell({"id": attempt.id}), now_ms),
        "huge duration": (_retell(attempt.id, duration_ms=10**30), now_ms),
    }
    for name, (body, ts) in cases.items():
        r = await _post_retell(client, body, ts)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
        assert r.json()["detail"], name
    assert await snapshot(database, attempt.id) == before


async def test_absurd_signed_simulated_values_are_refused(
    database: Database, settings: Settings, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    sim, row, acc, batch, _ = await placed_call(database, settings, now)
    before = await state(database, acc, batch)
    body, _ = sim.build_webhook(row, now)
    good = json.loads(body)
    cases = {
        "outcome pwned<b>": {**good, "outcome": "pwned<b>"},
        "list attempt_id": {**good, "attempt_id": [good["attempt_id"]]},
        "duration 1e308": {**good, "duration_s": 1e308},
        "duration 10^30": {**good, "duration_s": 10**30},
        "started_at year 99999": {**good, "started_at": "99999-01-01T00:00:00"},
    }
    for name, payload in cases.items():
        content = json.dumps(payload).encode()
        r = await client.post(
            WEBHOOK,
            content=content,
            headers={
                "content-type": "application/json",
                SIGNATURE_HEADER: sim_sign(sim.secret, content, now),
            },
        )
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    # A signature header with a timestamp of 10^20.
    r = await client.post(
        WEBHOOK,
        content=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: f"t={10**20},v1=00"},
    )
    assert r.status_code == 401
    assert await state(database, acc, batch) == before
