"""A new user's first session, all through HTTP with API keys:
create account -> topup -> create batch with call_settings -> status -> pause -> resume
-> cancel -> the ledger shows the topup."""

from __future__ import annotations

import httpx

ADMIN_HEADERS = {"Authorization": "Bearer test-admin-key-0123456789"}


async def test_walkthrough(client: httpx.AsyncClient) -> None:
    # 1. The operator (admin key) creates the customer's account and gets its key once.
    r = await client.post(
        "/api/v1/accounts",
        headers=ADMIN_HEADERS,
        json={
            "account_id": "cobranzas-andes",
            "account_name": "Cobranzas Andes SpA",
            "contact_email": "ops@andes.cl",
            "country": "CL",
            "plan_type": "minutes_based",
            "max_concurrent_calls": 5,
        },
    )
    assert r.status_code == 201, r.text
    account = r.json()
    key = {"Authorization": f"Bearer {account['api_key']}"}
    assert account["balance"] == 0

    # 2. Topup: 500 minutes, safe to retry.
    topup = {"minutes": 500, "idempotency_key": "oc-2026-001"}
    r = await client.post(
        "/api/v1/accounts/cobranzas-andes/topup", headers=ADMIN_HEADERS, json=topup
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/accounts/cobranzas-andes/topup", headers=ADMIN_HEADERS, json=topup
    )
    assert r.json()["applied"] is False
    r = await client.get("/api/v1/accounts/cobranzas-andes/balance", headers=key)
    assert r.json()["minutes"] == 500

    # 3. The customer creates a batch with call_settings using its own key.
    r = await client.post(
        "/api/v1/batches",
        headers=key,
        json={
            "account_id": "cobranzas-andes",
            "name": "Mora octubre",
            "description": "Clientes con 30 días de mora",
            "priority": 2,
            "call_settings": {
                "allowed_call_hours": {"start": "09:00", "end": "19:00"},
                "timezone": "America/Santiago",
                "retry_settings": {"max_attempts": 3, "retry_delay_hours": 4},
                "max_concurrent_calls": 2,
                "compliance_profile": "cl_cobranza",
            },
            "jobs": [
                {"contact_name": "Ana Rojas", "dni": "12345678-5", "phones": ["+56911111111"],
                 "payload": {"monto": 150000, "fecha_limite": "2026-03-10"}},
                {"contact_name": "Luis Soto", "dni": "9876543-3",
                 "phones": ["+56922222222", "+56223334444"], "payload": {"monto": 99000}},
            ],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    batch_id = r.json()["batch_id"]

    # 4. Status: tiny and polling friendly.
    r = await client.get(f"/api/v1/batches/{batch_id}/status", headers=key)
    s = r.json()
    assert (s["status"], s["is_active"], s["total_jobs"], s["pending_jobs"]) == (
        "active", True, 2, 2,
    )  # fmt: skip
    assert s["progress_percentage"] == 0

    # 5. Pause, 6. resume.
    r = await client.post(f"/api/v1/batches/{batch_id}/pause", headers=key)
    assert r.json()["status"] == "paused"
    r = await client.get(f"/api/v1/batches/{batch_id}/status", headers=key)
    assert (r.json()["status"], r.json()["is_active"]) == ("paused", False)
    r = await client.post(f"/api/v1/batches/{batch_id}/resume", headers=key)
    assert r.json()["status"] == "active"

    # 7. Cancel with a reason.
    r = await client.post(
        f"/api/v1/batches/{batch_id}/cancel", headers=key, params={"reason": "campaña retirada"}
    )
    assert r.status_code == 200
    r = await client.get(f"/api/v1/batches/{batch_id}/status", headers=key)
    s = r.json()
    assert (s["status"], s["is_active"], s["cancelled_jobs"], s["pending_jobs"]) == (
        "cancelled", False, 2, 0,
    )  # fmt: skip
    assert s["completed_at"] is not None

    # 8. The ledger shows the topup, once.
    r = await client.get("/api/v1/accounts/cobranzas-andes/transactions", headers=key)
    ledger = r.json()
    assert [(e["kind"], e["amount"]) for e in ledger["items"]] == [("topup", 500)]
    assert ledger["balance"] == 500
