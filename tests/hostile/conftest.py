"""Two tenants with one of everything, for the hostile-input and cross-tenant tests.

Account A owns a batch with jobs, a script, provider configs, a do-not-call entry,
progress events, a payment, an outbound webhook subscription with a delivery, and an ended
Twilio call attempt; account B owns a batch and a Twilio report secret of its own.
Everything is created through the public API, the way a client would, except what only
the system itself produces: the outbox event behind A's webhook delivery and A's ended
call attempt (written as the worker and the settlement would).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from dialer.hooks.delivery import fan_out
from dialer.hooks.outbox import enqueue
from dialer.kit import clock
from dialer.models.states import AttemptStatus
from tests.factories import api_account, api_batch, as_key, attempt_row, new_account

__all__ = ["new_account"]  # the fixture (tests/factories.py)

A_SECRET = "a-secret-auth-token-0001"
USER_PASSWORD = "clave-hostil-2026"
A_DNC_PHONE = "+56987654321"
A_PAYMENT = "PAGO-A-0001"
A_HOOK_URL = "https://93.184.215.14/hooks/tenant-a"  # a public address literal: no lookup
A_TWILIO_SID = "CA0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
B_REPORT_SECRET = "rsec_tenant_b_0001"


@dataclass
class Tenants:
    a_id: str
    b_id: str
    a_key: str
    b_key: str
    a_batch: str
    b_batch: str
    a_job: str
    a_script: str
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    a_user: str = ""
    a_key_id: str = ""
    b_user: str = ""
    a_hook: str = ""
    a_delivery: int = 0
    a_attempt: str = ""

    def fill(self, template: str) -> str:
        """A route path with every id taken from account A."""
        return template.format(
            account_id=self.a_id,
            batch_id=self.a_batch,
            job_id=self.a_job,
            attempt_id=self.a_attempt,
            script_id=self.a_script,
            phone=A_DNC_PHONE,
            debtor_id="12345678-5",
            provider="retell",
            use_case="debt_collection",
            user_id=self.a_user,
            key_id=self.a_key_id,
            subscription_id=self.a_hook,
            delivery_id=self.a_delivery,
        )

    def a_markers(self) -> list[str]:
        """Strings only A's data contains: none may appear in an answer to B."""
        return [
            self.a_batch,
            self.a_job,
            self.a_script,
            A_SECRET,
            "agent-a",
            A_DNC_PHONE,
            "Octubre A",
            "guion A",
            "persona-a",
            A_PAYMENT,
            A_HOOK_URL,
            self.a_hook,
            A_TWILIO_SID,
        ]


@pytest.fixture
async def tenants(admin: httpx.AsyncClient, database: Database) -> AsyncIterator[Tenants]:
    a = await api_account(admin, account_id="tenant-a", initial_minutes=30)
    b = await api_account(admin, account_id="tenant-b", initial_minutes=30)
    a_batch = await api_batch(admin, "tenant-a", jobs=3, name="Octubre A")
    b_batch = await api_batch(admin, "tenant-b", jobs=1, name="Octubre B")
    jobs = (await admin.get(f"/api/v1/batches/{a_batch['batch_id']}/jobs")).json()["items"]
    script = await admin.post(
        "/api/v1/scripts",
        json={"account_id": "tenant-a", "name": "guion A", "template": "Hola {{nombre}}"},
    )
    assert script.status_code == 201, script.text
    r = await admin.put(
        "/api/v1/accounts/tenant-a/providers/retell",
        json={"credentials": {"api_key": A_SECRET}, "options": {"agent_id": "agent-a"}},
    )
    assert r.status_code == 200, r.text
    r = await admin.post("/api/v1/accounts/tenant-a/do-not-call", json={"phone": A_DNC_PHONE})
    assert r.status_code == 201, r.text
    # A pause and resume leave progress events in A's stream.
    assert (await admin.post(f"/api/v1/batches/{a_batch['batch_id']}/pause")).status_code == 200
    assert (await admin.post(f"/api/v1/batches/{a_batch['batch_id']}/resume")).status_code == 200
    a_user = await admin.post(
        "/api/v1/accounts/tenant-a/users",
        json={"username": "persona-a", "password": USER_PASSWORD, "role": "supervisor"},
    )
    assert a_user.status_code == 201, a_user.text
    b_user = await admin.post(
        "/api/v1/accounts/tenant-b/users",
        json={"username": "persona-b", "password": USER_PASSWORD, "role": "supervisor"},
    )
    assert b_user.status_code == 201, b_user.text
    a_keys = (await admin.get("/api/v1/accounts/tenant-a/api-keys")).json()
    # A payment by one of A's debtors.
    r = await admin.post(
        "/api/v1/accounts/tenant-a/payments",
        json=[
            {
                "debtor_id": "12.345.678-5",
                "amount": 100,
                "date": "2026-11-30",
                "reference": A_PAYMENT,
            }
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    # An outbound webhook subscription with one delivery queued for it.
    r = await admin.post(
        "/api/v1/accounts/tenant-a/webhooks",
        json={"url": A_HOOK_URL, "events": ["call.completed"], "description": "hook A"},
    )
    assert r.status_code == 201, r.text
    a_hook = r.json()["id"]
    async with database.write() as s:
        await enqueue(
            s, account_id="tenant-a", type="call.completed", at=clock.now(), data={"n": 1}
        )
    assert await fan_out(database) == 1
    deliveries = (await admin.get("/api/v1/accounts/tenant-a/webhooks/deliveries")).json()
    # A's Twilio call on its first job, ended; both accounts sign agent reports.
    for account, secret in (("tenant-a", "rsec_tenant_a_0001"), ("tenant-b", B_REPORT_SECRET)):
        r = await admin.put(
            f"/api/v1/accounts/{account}/providers/twilio",
            json={
                "credentials": {
                    "account_sid": f"AC{account}",
                    "auth_token": "t" * 32,
                    "report_secret": secret,
                }
            },
        )
        assert r.status_code == 200, r.text
    a_attempt = f"att-{jobs[0]['job_id']}-1"
    async with database.write() as s:
        s.add(
            attempt_row(
                id=a_attempt,
                job_id=jobs[0]["job_id"],
                batch_id=a_batch["batch_id"],
                account_id="tenant-a",
                phone=jobs[0]["phones"][0],
                provider="twilio",
                provider_call_id=A_TWILIO_SID,
                status=AttemptStatus.ENDED,
                outcome="completed",
                started_at=clock.now(),
                ended_at=clock.now(),
                duration_s=30,
            )
        )
    async with as_key(admin, a["api_key"]) as ca, as_key(admin, b["api_key"]) as cb:
        yield Tenants(
            a_id="tenant-a",
            b_id="tenant-b",
            a_key=a["api_key"],
            b_key=b["api_key"],
            a_batch=a_batch["batch_id"],
            b_batch=b_batch["batch_id"],
            a_job=jobs[0]["job_id"],
            a_script=script.json()["script_id"],
            a=ca,
            b=cb,
            a_user=a_user.json()["user_id"],
            a_key_id=a_keys[0]["api_key_id"],
            b_user="persona-b",
            a_hook=a_hook,
            a_delivery=deliveries[0]["id"],
            a_attempt=a_attempt,
        )


async def snapshot_a(admin: httpx.AsyncClient, t: Tenants) -> dict[str, Any]:
    """What A owns, as the admin sees it: must not change under B's attempts."""
    batch = (await admin.get(f"/api/v1/batches/{t.a_batch}")).json()
    return {
        "batch": {k: batch[k] for k in ("name", "status", "is_active", "total_jobs")},
        "balance": (await admin.get(f"/api/v1/accounts/{t.a_id}/balance")).json(),
        "account": (await admin.get(f"/api/v1/accounts/{t.a_id}")).json()["status"],
        "dnc": (await admin.get(f"/api/v1/accounts/{t.a_id}/do-not-call")).json()["total"],
        "script": (await admin.get(f"/api/v1/scripts/{t.a_script}")).json()["version"],
        "provider": (await admin.get(f"/api/v1/accounts/{t.a_id}/providers/retell")).json(),
        "users": (await admin.get(f"/api/v1/accounts/{t.a_id}/users")).json(),
        "keys": (await admin.get(f"/api/v1/accounts/{t.a_id}/api-keys")).json(),
        "payments": (await admin.get(f"/api/v1/accounts/{t.a_id}/payments")).json(),
        "webhooks": (await admin.get(f"/api/v1/accounts/{t.a_id}/webhooks")).json(),
        "deliveries": (await admin.get(f"/api/v1/accounts/{t.a_id}/webhooks/deliveries")).json(),
        "job": (await admin.get(f"/api/v1/jobs/{t.a_job}")).json(),
    }
