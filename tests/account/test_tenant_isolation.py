"""An account key never sees or touches another account's data: every read and write
endpoint answers 404 for it (as if it did not exist), and admin-only ones answer 403."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import api_account, api_batch, as_key


@pytest.fixture
async def tenants(admin: httpx.AsyncClient) -> dict[str, Any]:
    a = await api_account(admin, account_id="tenant-a", initial_minutes=30)
    b = await api_account(admin, account_id="tenant-b", initial_minutes=30)
    batch = await api_batch(admin, "tenant-a", jobs=2)
    jobs = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/jobs")).json()["items"]
    return {"a": a, "b": b, "batch_id": batch["batch_id"], "job_id": jobs[0]["job_id"]}


NOT_FOUND = [
    ("GET", "/api/v1/accounts/tenant-a", None),
    ("GET", "/api/v1/accounts/tenant-a/balance", None),
    ("GET", "/api/v1/accounts/tenant-a/stats", None),
    ("GET", "/api/v1/accounts/tenant-a/transactions", None),
    ("GET", "/api/v1/accounts/tenant-a/last-call-settings", None),
    ("GET", "/api/v1/batches?account_id=tenant-a", None),
    ("GET", "/api/v1/batches/{batch}", None),
    ("GET", "/api/v1/batches/{batch}/summary", None),
    ("GET", "/api/v1/batches/{batch}/status", None),
    ("GET", "/api/v1/batches/{batch}/jobs", None),
    ("GET", "/api/v1/jobs/{job}", None),
    ("GET", "/api/v1/dashboard/overview?account_id=tenant-a", None),
    ("POST", "/api/v1/batches", {"account_id": "tenant-a", "name": "intrusa"}),
    ("PATCH", "/api/v1/batches/{batch}", {"name": "hacked"}),
    ("POST", "/api/v1/batches/{batch}/pause", None),
    ("POST", "/api/v1/batches/{batch}/resume", None),
    ("POST", "/api/v1/batches/{batch}/cancel", None),
    ("POST", "/api/v1/batches/{batch}/start", None),
    ("GET", "/api/v1/accounts/tenant-a/audit", None),
    ("POST", "/api/v1/accounts/tenant-a/api-keys", None),
    ("GET", "/api/v1/accounts/tenant-a/users", None),
    (
        "POST",
        "/api/v1/accounts/tenant-a/users",
        {"username": "intruso", "password": "0123456789ab", "role": "supervisor"},
    ),
]

ADMIN_ONLY = [
    ("POST", "/api/v1/accounts", {"account_name": "x"}),
    ("POST", "/api/v1/accounts/tenant-a/topup", {"minutes": 10}),
    ("POST", "/api/v1/accounts/tenant-b/topup", {"minutes": 10}),
    ("PUT", "/api/v1/accounts/tenant-a/suspend", None),
    ("PUT", "/api/v1/accounts/tenant-a/activate", None),
    # A machine key cannot issue keys or create people, even in its own account.
    ("POST", "/api/v1/accounts/tenant-b/api-keys", None),
    (
        "POST",
        "/api/v1/accounts/tenant-b/users",
        {"username": "persist", "password": "0123456789ab", "role": "supervisor"},
    ),
]


def _path(template: str, t: dict[str, Any]) -> str:
    return template.format(batch=t["batch_id"], job=t["job_id"])


@pytest.mark.parametrize(("method", "path", "body"), NOT_FOUND)
async def test_other_tenant_gets_404(
    admin: httpx.AsyncClient,
    tenants: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    async with as_key(admin, tenants["b"]["api_key"]) as b:
        r = await b.request(method, _path(path, tenants), json=body)
    assert r.status_code == 404, r.text
    # Nothing of A changed.
    batch = (await admin.get(f"/api/v1/batches/{tenants['batch_id']}")).json()
    assert (batch["name"], batch["status"]) == ("Octubre", "active")
    # And A itself still gets 200 on reads (people, though, are listed to people only).
    if method == "GET" and not path.endswith("/users"):
        async with as_key(admin, tenants["a"]["api_key"]) as a:
            assert (await a.get(_path(path, tenants))).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_admin_only_endpoints_are_403_for_account_keys(
    admin: httpx.AsyncClient,
    tenants: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    async with as_key(admin, tenants["b"]["api_key"]) as b:
        r = await b.request(method, path, json=body)
    assert r.status_code == 403
    balance = (await admin.get("/api/v1/accounts/tenant-b/balance")).json()
    assert balance["minutes"] == 30


async def test_lists_without_filter_show_only_own_data(
    admin: httpx.AsyncClient, tenants: dict[str, Any]
) -> None:
    await api_batch(admin, "tenant-b", name="de B")
    async with as_key(admin, tenants["b"]["api_key"]) as b:
        batches = (await b.get("/api/v1/batches")).json()
        overview = (await b.get("/api/v1/dashboard/overview")).json()
    assert [x["name"] for x in batches["items"]] == ["de B"]
    assert overview["account_id"] == "tenant-b"
    assert overview["active_batches"] == 1


async def test_unknown_and_revoked_keys_are_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/batches", headers={"Authorization": "Bearer dk_nope"})
    assert r.status_code == 401
    assert (await client.get("/api/v1/batches")).status_code == 401
