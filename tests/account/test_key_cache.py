"""Repeated requests with account keys: each key stays on its own account, a key one
character off is refused, and a key issued a moment ago works at once."""

from __future__ import annotations

import httpx

from tests.factories import api_account, as_key


async def test_repeated_requests_keep_each_key_on_its_own_account(admin: httpx.AsyncClient):
    a = await api_account(admin, account_name="Cobranzas Norte")
    b = await api_account(admin, account_name="Ventas Sur")
    async with as_key(admin, a["api_key"]) as ka, as_key(admin, b["api_key"]) as kb:
        for _ in range(3):
            assert (await ka.get(f"/api/v1/accounts/{a['account_id']}")).status_code == 200
            assert (await kb.get(f"/api/v1/accounts/{b['account_id']}")).status_code == 200
            assert (await ka.get(f"/api/v1/accounts/{b['account_id']}")).status_code == 404
            assert (await kb.get(f"/api/v1/accounts/{a['account_id']}")).status_code == 404
        # A key that differs from a cached one in one character is still refused.
        forged = a["api_key"][:-1] + ("A" if a["api_key"][-1] != "A" else "B")
        async with as_key(admin, forged) as bad:
            r = await bad.get(f"/api/v1/accounts/{a['account_id']}")
        assert r.status_code == 401


async def test_a_key_issued_while_others_are_cached_works_at_once(admin: httpx.AsyncClient):
    acc = await api_account(admin)
    async with as_key(admin, acc["api_key"]) as first:
        assert (await first.get(f"/api/v1/accounts/{acc['account_id']}")).status_code == 200
    r = await admin.post(f"/api/v1/accounts/{acc['account_id']}/api-keys", json={"name": "poller"})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    async with as_key(admin, key) as own:
        assert (await own.get(f"/api/v1/accounts/{acc['account_id']}")).status_code == 200
