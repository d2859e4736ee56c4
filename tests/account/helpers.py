"""HTTP helpers shared by the API tests: create accounts and batches the way a client does."""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_SETTINGS: dict[str, Any] = {
    "allowed_call_hours": {"start": "09:00", "end": "20:00"},
    "retry_settings": {"max_attempts": 4, "retry_delay_hours": 1},
    "max_concurrent_calls": 3,
}


async def create_account(admin: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"account_name": "Cobranzas Sur", "country": "CL"} | overrides
    r = await admin.post("/api/v1/accounts", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def as_key(admin: httpx.AsyncClient, key: str) -> httpx.AsyncClient:
    """A client for the same app authenticated with an account key."""
    return httpx.AsyncClient(
        transport=admin._transport,
        base_url=str(admin.base_url),
        headers={"Authorization": f"Bearer {key}"},
    )


def contacts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "contact_name": f"Deudor {i}",
            "dni": f"{10_000_000 + i}-{i % 10}",
            "phones": [f"+5691234{i:04d}"],
            "payload": {"monto": 1000 + i},
            "row_number": i + 2,
        }
        for i in range(n)
    ]


async def create_batch(
    client: httpx.AsyncClient, account_id: str, *, jobs: int = 0, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "name": "Octubre",
        "call_settings": DEFAULT_SETTINGS,
    } | overrides
    if jobs:
        body["jobs"] = contacts(jobs)
    r = await client.post("/api/v1/batches", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
