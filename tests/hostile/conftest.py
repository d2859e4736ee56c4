"""Two tenants with one of everything, for the hostile-input and cross-tenant tests.

Account A owns a batch with jobs, a script, a provider config, a do-not-call entry and
progress events; account B owns a batch of its own. Everything is created through the
public API, the way a client would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.account.helpers import as_key, create_account, create_batch
from tests.ingestion.conftest import new_account

__all__ = ["new_account"]  # the fixture, shared with the ingestion tests

A_SECRET = "a-secret-auth-token-0001"
USER_PASSWORD = "clave-hostil-2026"
A_DNC_PHONE = "+56987654321"


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

    def fill(self, template: str) -> str:
        """A route path with every id taken from account A."""
        return template.format(
            account_id=self.a_id,
            batch_id=self.a_batch,
            job_id=self.a_job,
            script_id=self.a_script,
            phone=A_DNC_PHONE,
            debtor_id="12345678-5",
            provider="retell",
            use_case="debt_collection",
            user_id=self.a_user,
            key_id=self.a_key_id,
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
        ]


@pytest.fixture
async def tenants(admin: httpx.AsyncClient) -> AsyncIterator[Tenants]:
    a = await create_account(admin, account_id="tenant-a", initial_minutes=30)
    b = await create_account(admin, account_id="tenant-b", initial_minutes=30)
    a_batch = await create_batch(admin, "tenant-a", jobs=3, name="Octubre A")
    b_batch = await create_batch(admin, "tenant-b", jobs=1, name="Octubre B")
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
    }
