"""The viewer role: reads the overview, campaigns, contacts and exports, changes nothing.

A person gets it as a dashboard user's role; a machine as a read-only API key. Every
write either sends is refused (403) and changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.dashboard.helpers import csrf_token, login
from tests.factories import api_account, api_batch, as_key
from tests.hostile.routes import all_routes

PASSWORD = "una-clave-larga-1"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


async def _read_only_key(admin: httpx.AsyncClient, account_id: str) -> str:
    r = await admin.post(
        f"/api/v1/accounts/{account_id}/api-keys", json={"name": "bi", "read_only": True}
    )
    assert r.status_code == 201, r.text
    assert r.json()["read_only"] is True
    return str(r.json()["api_key"])


async def test_a_read_only_key_reads_everything_and_every_api_write_is_refused(
    admin: httpx.AsyncClient, app: Any
) -> None:
    await api_account(admin, account_id="acc-v")
    batch = await api_batch(admin, "acc-v", jobs=2)
    bid = batch["batch_id"]
    key = await _read_only_key(admin, "acc-v")
    listed = (await admin.get("/api/v1/accounts/acc-v/api-keys")).json()
    assert [k["read_only"] for k in listed if k["name"] == "bi"] == [True]

    async with as_key(admin, key) as viewer:
        for path in (
            "/api/v1/batches",
            f"/api/v1/batches/{bid}",
            f"/api/v1/batches/{bid}/jobs",
            f"/api/v1/batches/{bid}/status",
            "/api/v1/accounts/acc-v",
        ):
            r = await viewer.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])

        # The writes a campaign depends on, with valid bodies: refused, nothing changes.
        refused = [
            await viewer.post(f"/api/v1/batches/{bid}/pause"),
            await viewer.patch(f"/api/v1/batches/{bid}", json={"name": "Cambiada"}),
            await viewer.post(
                "/api/v1/batches",
                json={"account_id": "acc-v", "name": "Nueva", "jobs": []},
            ),
            await viewer.delete(f"/api/v1/batches/{bid}"),
        ]
        for r in refused:
            assert r.status_code == 403, (r.request.url, r.status_code, r.text[:200])
            assert "viewer" in r.json()["detail"]
        after = (await viewer.get(f"/api/v1/batches/{bid}")).json()
        assert (after["name"], after["status"]) == (batch["name"], "active")
        assert (await viewer.get("/api/v1/batches")).json()["total"] == 1

        # Every other write route of the API: where a key is needed at all (an anonymous
        # request is a 401), the read-only key gets a 403, whatever the route does.
        async with httpx.AsyncClient(
            transport=admin._transport, base_url=str(admin.base_url)
        ) as anonymous:
            checked = 0
            for method, template in sorted(all_routes(app)):
                if method not in WRITES or not template.startswith("/api/v1"):
                    continue
                if template.startswith("/api/v1/webhooks"):
                    continue  # providers sign their reports: no key is involved
                path = re.sub(r"\{[^}]+\}", "x", template)
                assert (await anonymous.request(method, path)).status_code == 401, template
                r = await viewer.request(method, path, json={})
                assert r.status_code == 403, (method, template, r.status_code, r.text[:200])
                checked += 1
    assert checked > 30  # the whole API, not a handful


async def test_a_viewer_user_sees_the_pages_but_no_controls_and_cannot_write(
    admin: httpx.AsyncClient, app: Any
) -> None:
    await api_account(admin, account_id="acc-w")
    batch = await api_batch(admin, "acc-w", jobs=2)
    bid = batch["batch_id"]
    r = await admin.post(
        "/api/v1/accounts/acc-w/users",
        json={"username": "mirona", "password": PASSWORD, "role": "viewer"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "viewer"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await login(c, "mirona", PASSWORD)).status_code == 303
        home = await c.get("/dashboard/")
        assert home.status_code == 200
        assert 'href="/dashboard/upload"' not in home.text  # no upload in the menu
        page = await c.get(f"/dashboard/batches/{bid}")
        assert page.status_code == 200
        assert 'id="btn-pause"' not in page.text
        assert "/cancel" not in page.text
        for path in (
            f"/dashboard/batches/{bid}/jobs",
            f"/dashboard/batches/{bid}/export.csv",
            f"/dashboard/batches/{bid}/export.xlsx",
            f"/dashboard/batches/{bid}/settings",
        ):
            r = await c.get(path)
            assert r.status_code == 200, (path, r.status_code)
        settings = await c.get(f"/dashboard/batches/{bid}/settings")
        assert 'id="settings-readonly"' in settings.text
        for path in ("/dashboard/upload", "/dashboard/users", "/dashboard/audit"):
            assert (await c.get(path)).status_code == 403, path
        account = await c.get("/dashboard/account")
        assert 'id="ledger-title"' not in account.text
        assert 'id="keys"' not in account.text

        token = await csrf_token(c)
        r = await c.post(
            f"/dashboard/batches/{bid}/pause",
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert r.status_code == 403
        assert (await admin.get(f"/api/v1/batches/{bid}")).json()["status"] == "active"
        # Logging out is the one form a viewer may send.
        out = await c.post("/dashboard/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 303


async def test_a_supervisor_assigns_the_viewer_role_on_the_users_page(
    admin: httpx.AsyncClient, app: Any
) -> None:
    await api_account(admin, account_id="acc-x")
    for name, role in (("jefa", "supervisor"), ("pato", "operator")):
        r = await admin.post(
            "/api/v1/accounts/acc-x/users",
            json={"username": name, "password": PASSWORD, "role": role},
        )
        assert r.status_code == 201, r.text
    pato = next(
        u for u in (await admin.get("/api/v1/accounts/acc-x/users")).json()
        if u["username"] == "pato"
    )  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as boss:
        await login(boss, "jefa", PASSWORD)
        users = await boss.get("/dashboard/users")
        assert '<option value="viewer"' in users.text
        assert "solo lectura" in users.text
        token = await csrf_token(boss)
        r = await boss.post(
            f"/dashboard/users/{pato['user_id']}",
            data={"role": "viewer"},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 303, r.text
        r = await boss.post(
            "/dashboard/users",
            data={"username": "lectora", "password": PASSWORD, "role": "viewer"},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 303, r.text
        # A read-only key from the account page.
        r = await boss.post(
            "/dashboard/account/keys",
            data={"name": "tablero", "read_only": "true"},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 200, r.text
    roles = {
        u["username"]: u["role"] for u in (await admin.get("/api/v1/accounts/acc-x/users")).json()
    }
    assert roles == {"jefa": "supervisor", "pato": "viewer", "lectora": "viewer"}
    keys = (await admin.get("/api/v1/accounts/acc-x/api-keys")).json()
    assert {k["name"]: k["read_only"] for k in keys} == {"default": False, "tablero": True}
    audit = (await admin.get("/api/v1/accounts/acc-x/audit")).json()
    changes = [e for e in audit["items"] if e["action"] == "user.update"]
    assert [e["details"]["role"] for e in changes] == ["viewer"]
