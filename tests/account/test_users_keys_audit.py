"""Users, API-key management and the audit log through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import httpx

from dialer.kit import clock
from dialer.worker.claim import claim_due_jobs
from tests.dashboard.helpers import csrf_token, login
from tests.factories import api_account, as_key, job_bodies

PASSWORD = "una-clave-larga-1"


async def _user(admin: httpx.AsyncClient, account: str, name: str, role: str) -> dict:
    r = await admin.post(
        f"/api/v1/accounts/{account}/users",
        json={"username": name, "password": PASSWORD, "role": role, "email": f"{name}@x.cl"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert "password" not in str(body)
    assert "hash" not in str(body)
    return body


class TestUsers:
    async def test_create_list_and_refuse_duplicates_and_weak_passwords(self, admin):
        await api_account(admin, account_id="acc-u")
        made = await _user(admin, "acc-u", "Ana.Perez", "supervisor")
        assert made["username"] == "ana.perez"  # log-in names are case-insensitive
        listed = (await admin.get("/api/v1/accounts/acc-u/users")).json()
        assert [u["username"] for u in listed] == ["ana.perez"]

        again = await admin.post(
            "/api/v1/accounts/acc-u/users",
            json={"username": "ANA.PEREZ", "password": PASSWORD},
        )
        assert again.status_code == 409
        assert again.json()["field"] == "username"
        weak = await admin.post(
            "/api/v1/accounts/acc-u/users", json={"username": "beto", "password": "corta"}
        )
        assert weak.status_code == 422
        assert "10 characters" in weak.text

    async def test_a_supervisor_cannot_make_admins_and_operators_cannot_manage(self, admin, app):
        await api_account(admin, account_id="acc-r")
        await _user(admin, "acc-r", "jefa", "supervisor")
        await _user(admin, "acc-r", "oper", "operator")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as boss:
            await login(boss, "jefa", PASSWORD)
            token = await csrf_token(boss)
            r = await boss.post(
                "/dashboard/users",
                data={"username": "x-admin", "password": PASSWORD, "role": "admin"},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code in (403, 422)
            r = await boss.post(
                "/dashboard/users",
                data={"username": "nuevo", "password": PASSWORD, "role": "operator"},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code == 303
            # A refused field is named once, by the one ValidationError conversion.
            r = await boss.post(
                "/dashboard/users",
                data={"username": "corto", "password": "x", "role": "operator"},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code == 422
            assert "password: " in r.text
            assert "password: password:" not in r.text
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as oper:
            await login(oper, "oper", PASSWORD)
            assert (await oper.get("/dashboard/users")).status_code == 403
            account = await oper.get("/dashboard/account")
            assert account.status_code == 200
            assert 'id="ledger-title"' not in account.text  # no ledger for operators
            assert 'id="keys"' not in account.text
        names = [u["username"] for u in (await admin.get("/api/v1/accounts/acc-r/users")).json()]
        assert sorted(names) == ["jefa", "nuevo", "oper"]

    async def test_deactivating_or_demoting_ends_the_users_sessions(self, admin, app):
        await api_account(admin, account_id="acc-d")
        made = await _user(admin, "acc-d", "temporal", "supervisor")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await login(c, "temporal@x.cl", PASSWORD)).status_code == 303
            assert (await c.get("/dashboard/batches")).status_code == 200
            r = await admin.patch(
                f"/api/v1/accounts/acc-d/users/{made['user_id']}", json={"is_active": False}
            )
            assert r.status_code == 200
            assert r.json()["is_active"] is False
            assert (await c.get("/dashboard/batches")).status_code == 303
            assert (await login(c, "temporal", PASSWORD)).status_code == 401


class TestApiKeys:
    async def test_list_name_revoke_at_once_and_last_used(self, admin):
        created = await api_account(admin, account_id="acc-k2")
        key = created["api_key"]
        extra = (await admin.post("/api/v1/accounts/acc-k2/api-keys", json={"name": "crm"})).json()
        async with as_key(admin, extra["api_key"]) as crm:
            assert (await crm.get("/api/v1/accounts/acc-k2/balance")).status_code == 200
            listed = (await admin.get("/api/v1/accounts/acc-k2/api-keys")).json()
            by_name = {k["name"]: k for k in listed}
            assert set(by_name) == {"default", "crm"}
            assert by_name["crm"]["last_used_at"] is not None
            assert by_name["default"]["last_used_at"] is None
            assert all("api_key" not in k and "key_hash" not in k for k in listed)
            assert by_name["crm"]["prefix"] == extra["api_key"][:10]

            r = await admin.delete(f"/api/v1/accounts/acc-k2/api-keys/{extra['api_key_id']}")
            assert r.status_code == 200
            assert r.json()["revoked"] is True
            # The key was used a moment ago: revocation still takes effect at once.
            assert (await crm.get("/api/v1/accounts/acc-k2/balance")).status_code == 401
        assert (
            await admin.delete(f"/api/v1/accounts/acc-k2/api-keys/{extra['api_key_id']}")
        ).status_code == 409
        async with as_key(admin, key) as default:
            assert (await default.get("/api/v1/accounts/acc-k2/balance")).status_code == 200

    async def test_rotate_gives_a_new_key_and_kills_the_old(self, admin):
        created = await api_account(admin, account_id="acc-rot")
        old_key = created["api_key"]
        async with as_key(admin, old_key) as old:
            assert (await old.get("/api/v1/accounts/acc-rot")).status_code == 200
            keys = (await admin.get("/api/v1/accounts/acc-rot/api-keys")).json()
            r = await admin.post(
                f"/api/v1/accounts/acc-rot/api-keys/{keys[0]['api_key_id']}/rotate"
            )
            assert r.status_code == 200, r.text
            new_key = r.json()["api_key"]
            assert new_key != old_key
            assert r.json()["name"] == "default"
            assert (await old.get("/api/v1/accounts/acc-rot")).status_code == 401
        async with as_key(admin, new_key) as new:
            assert (await new.get("/api/v1/accounts/acc-rot")).status_code == 200


class TestAuditAndDrafts:
    async def test_a_draft_dials_nothing_until_started_and_the_audit_says_who(
        self, admin, app, database
    ):
        await api_account(admin, account_id="acc-a", initial_minutes=100)
        await _user(admin, "acc-a", "operadora", "operator")
        r = await admin.post(
            "/api/v1/batches",
            json={
                "account_id": "acc-a",
                "name": "Borrador",
                "status": "draft",
                "jobs": job_bodies(3),
                "call_settings": {
                    "allowed_call_hours": {"start": "00:00", "end": "24:00"},
                    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                },
            },
        )
        assert r.status_code == 201, r.text
        draft = r.json()
        assert (draft["status"], draft["is_active"], draft["jobs_created"]) == ("draft", False, 3)
        batch_id = draft["batch_id"]

        async with database.write() as s:
            claimed = await claim_due_jobs(
                s, worker_id="w", now=clock.now(), limit=10, lease=timedelta(minutes=1)
            )
        assert claimed == []  # a draft is never dialed
        assert (await admin.post(f"/api/v1/batches/{batch_id}/pause")).status_code == 409

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as op:
            await login(op, "operadora", PASSWORD)
            token = await csrf_token(op)
            started = await op.post(
                f"/dashboard/batches/{batch_id}/start", headers={"X-CSRF-Token": token}
            )
            assert started.status_code == 303, started.text
            # An operator may start and pause, but not cancel or see the audit log.
            assert (
                await op.post(
                    f"/dashboard/batches/{batch_id}/cancel", headers={"X-CSRF-Token": token}
                )
            ).status_code == 403
            assert (await op.get("/dashboard/audit")).status_code == 403
        async with database.write() as s:
            claimed = await claim_due_jobs(
                s, worker_id="w", now=clock.now(), limit=10, lease=timedelta(minutes=1)
            )
        assert len(claimed) == 3

        log = (await admin.get("/api/v1/accounts/acc-a/audit")).json()
        actions = [(e["action"], e["actor_name"]) for e in log["items"]]
        assert ("batch.start", "operadora") in actions
        assert ("batch.create", "admin key") in actions
        assert ("user.create", "admin key") in actions
        start = next(e for e in log["items"] if e["action"] == "batch.start")
        assert start["target_id"] == batch_id
        assert start["actor_type"] == "user"

    async def test_a_scheduled_start_waits_for_its_time(self, admin, database):
        await api_account(admin, account_id="acc-s", initial_minutes=100)
        r = await admin.post(
            "/api/v1/batches",
            json={
                "account_id": "acc-s",
                "name": "Mañana",
                "status": "draft",
                "jobs": job_bodies(2),
                "call_settings": {"allowed_call_hours": {"start": "00:00", "end": "24:00"},
                                  "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri",
                                                       "sat", "sun"]},
            },
        )  # fmt: skip
        batch_id = r.json()["batch_id"]
        at = clock.now() + timedelta(hours=3)
        s = await admin.post(f"/api/v1/batches/{batch_id}/start", json={"start_at": at.isoformat()})
        assert s.status_code == 200, s.text
        assert s.json()["status"] == "active"
        async with database.write() as session:
            early = await claim_due_jobs(
                session, worker_id="w", now=clock.now(), limit=10, lease=timedelta(minutes=1)
            )
            assert early == []
            late = await claim_due_jobs(
                session, worker_id="w", now=at + timedelta(seconds=1), limit=10,
                lease=timedelta(minutes=1),
            )  # fmt: skip
        assert len(late) == 2
        log = (await admin.get("/api/v1/accounts/acc-s/audit?action=batch.schedule")).json()
        assert log["total"] == 1
        naive = await admin.post(
            f"/api/v1/batches/{batch_id}/start", json={"start_at": "2026-12-01T09:00:00"}
        )
        assert naive.status_code == 422  # a time without its offset is ambiguous
