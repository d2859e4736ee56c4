"""Debtors with valid RUTs, and batches of them created through the API."""

from __future__ import annotations

from typing import Any

import httpx

from dialer.ingestion.normalize import rut_check_digit


def rut(n: int) -> str:
    body = str(15_000_000 + n)
    return f"{body}-{rut_check_digit(body)}"


def debtor(n: int, amount: int = 150_000, **payload: Any) -> dict[str, Any]:
    return {
        "contact_name": f"Deudor {n}",
        "dni": rut(n),
        "phones": [f"+5699{n:07d}"],
        "payload": {"amount": amount, "currency": "CLP", **payload},
    }


async def batch_of(
    client: httpx.AsyncClient, account_id: str, debtors: list[dict[str, Any]], **settings: Any
) -> dict[str, Any]:
    body = {
        "account_id": account_id,
        "name": "Cobranza",
        "call_settings": {
            "allowed_call_hours": {"start": "09:00", "end": "20:00"},
            "retry_settings": {"max_attempts": 3, "retry_delay_hours": 1},
            **settings,
        },
        "jobs": debtors,
    }
    r = await client.post("/api/v1/batches", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def jobs_of(client: httpx.AsyncClient, batch_id: str) -> dict[str, dict[str, Any]]:
    r = await client.get(f"/api/v1/batches/{batch_id}/jobs", params={"limit": 500})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return {j["dni"]: j for j in items}
