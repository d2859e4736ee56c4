"""A revoked or rotated API key is refused at once by every API process, not only by the
one that revoked it: two app instances (each its own pools and state, as two uvicorn
processes have) on one database."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import api_account, as_key


def _with_key(key: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {key}"}}


async def test_a_key_revoked_in_one_process_is_refused_by_the_other_at_once(
    admin: httpx.AsyncClient, second_api: httpx.AsyncClient
):
    acc = await api_account(admin)
    extra = (
        await admin.post(f"/api/v1/accounts/{acc['account_id']}/api-keys", json={"name": "crm"})
    ).json()
    url = f"/api/v1/accounts/{acc['account_id']}"
    auth = _with_key(extra["api_key"])
    for _ in range(3):  # the second process has served the key several times
        assert (await second_api.get(url, **auth)).status_code == 200

    r = await admin.delete(f"{url}/api-keys/{extra['api_key_id']}")
    assert r.status_code == 200, r.text

    # The very next request to the other process, a read and a write with a body.
    refused = await second_api.get(url, **auth)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "Unauthorized"
    assert (await second_api.patch(url, json={"name": "x"}, **auth)).status_code == 401
    # The account's other key is untouched, in both processes.
    assert (await second_api.get(url, **_with_key(acc["api_key"]))).is_success
    async with as_key(admin, acc["api_key"]) as own:
        assert (await own.get(url)).status_code == 200


async def test_a_key_rotated_in_one_process_changes_in_the_other_at_once(
    admin: httpx.AsyncClient, second_api: httpx.AsyncClient
):
    acc = await api_account(admin)
    url = f"/api/v1/accounts/{acc['account_id']}"
    old = _with_key(acc["api_key"])
    assert (await second_api.get(url, **old)).status_code == 200
    keys = (await admin.get(f"{url}/api-keys")).json()

    r = await admin.post(f"{url}/api-keys/{keys[0]['api_key_id']}/rotate")
    assert r.status_code == 200, r.text

    assert (await second_api.get(url, **old)).status_code == 401
    new = _with_key(r.json()["api_key"])
    assert (await second_api.get(url, **new)).status_code == 200
