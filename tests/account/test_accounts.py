"""Accounts API: creation with its key, validation, listing, suspension, stats."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import api_account, api_batch, as_key


class TestCreateAccount:
    async def test_returns_account_and_a_working_key(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, account_id="sur-cobranzas", plan_type="minutes_based")
        assert acc["account_id"] == "sur-cobranzas"
        assert acc["timezone"] == "America/Santiago"
        assert acc["status"] == "active"
        assert acc["api_key"].startswith("dk_")
        async with as_key(admin, acc["api_key"]) as own:
            r = await own.get("/api/v1/accounts/sur-cobranzas")
        assert r.status_code == 200
        assert "api_key" not in r.json()

    async def test_argentina_defaults_to_buenos_aires(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, country="AR")
        assert acc["timezone"] == "America/Argentina/Buenos_Aires"

    async def test_initial_minutes_become_a_topup(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, initial_minutes=120)
        assert acc["balance"] == 120
        assert acc["balance_units"] == 120 * 60
        r = await admin.get(f"/api/v1/accounts/{acc['account_id']}/transactions")
        [entry] = r.json()["items"]
        assert entry["kind"] == "topup"
        assert entry["amount"] == 120

    async def test_credit_plan_with_pricing(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(
            admin,
            plan_type="credit_based",
            initial_credits=50.5,
            settings={"pricing": {"credits_per_minute_units": 150, "rounding": "second"}},
        )
        assert acc["balance_unit"] == "credits"
        assert acc["balance"] == 50.5
        assert acc["settings"]["pricing"]["credits_per_minute_units"] == 150

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"country": "PE"}, "country"),
            ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
            ({"account_id": "Bad Id!"}, "account_id"),
            ({"settings": {"pricing": {"rounding": "hour"}}}, "settings.pricing.rounding"),
            # A setting nothing would read is refused, not stored and ignored.
            ({"settings": {"max_calls_per_day": 10}}, "settings.max_calls_per_day"),
            ({"initial_minutes": -5}, "initial_minutes"),
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self, admin: httpx.AsyncClient, body: dict[str, object], field: str
    ) -> None:
        r = await admin.post("/api/v1/accounts", json={"account_name": "X"} | body)
        assert r.status_code == 422
        assert field in [e["field"] for e in r.json()["errors"]]

    async def test_duplicate_id_is_409(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="dup-acc")
        r = await admin.post(
            "/api/v1/accounts", json={"account_name": "B", "account_id": "dup-acc"}
        )
        assert r.status_code == 409
        assert r.json()["field"] == "account_id"

    async def test_needs_admin(self, admin: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
        acc = await api_account(admin)
        assert (
            await client.post("/api/v1/accounts", json={"account_name": "x"})
        ).status_code == 401
        async with as_key(admin, acc["api_key"]) as own:
            r = await own.post("/api/v1/accounts", json={"account_name": "x"})
        assert r.status_code == 403


class TestListAccounts:
    async def test_admin_sees_all_and_filters(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="acc-cl", country="CL")
        await api_account(admin, account_id="acc-ar", country="AR")
        r = await admin.get("/api/v1/accounts")
        assert r.json()["total"] == 2
        r = await admin.get("/api/v1/accounts", params={"country": "AR"})
        assert [a["account_id"] for a in r.json()["items"]] == ["acc-ar"]

    async def test_account_key_sees_only_itself(self, admin: httpx.AsyncClient) -> None:
        a = await api_account(admin, account_id="acc-a")
        await api_account(admin, account_id="acc-b")
        async with as_key(admin, a["api_key"]) as own:
            r = await own.get("/api/v1/accounts")
        assert [x["account_id"] for x in r.json()["items"]] == ["acc-a"]


class TestSuspendActivate:
    async def test_suspend_records_reason_and_activate_clears_it(
        self, admin: httpx.AsyncClient
    ) -> None:
        acc = await api_account(admin, account_id="acc-s")
        r = await admin.put("/api/v1/accounts/acc-s/suspend", params={"reason": "impago"})
        assert r.status_code == 200
        assert r.json()["status"] == "suspended"
        assert r.json()["suspended_reason"] == "impago"
        r = await admin.put("/api/v1/accounts/acc-s/activate")
        assert r.json()["status"] == "active"
        assert r.json()["suspended_reason"] is None
        async with as_key(admin, acc["api_key"]) as own:
            assert (await own.put("/api/v1/accounts/acc-s/suspend")).status_code == 403
            assert (await own.put("/api/v1/accounts/acc-s/activate")).status_code == 403

    async def test_unknown_account_is_404(self, admin: httpx.AsyncClient) -> None:
        r = await admin.put("/api/v1/accounts/nope/suspend")
        assert r.status_code == 404


class TestStatsAndLastSettings:
    async def test_stats_sum_batch_counters(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, account_id="acc-st")
        await api_batch(admin, "acc-st", jobs=3)
        b2 = await api_batch(admin, "acc-st", jobs=2)
        await admin.post(f"/api/v1/batches/{b2['batch_id']}/cancel")
        r = await admin.get(f"/api/v1/accounts/{acc['account_id']}/stats")
        s = r.json()
        assert s["total_batches"] == 2
        assert s["active_batches"] == 1
        assert s["cancelled_batches"] == 1
        assert s["total_jobs"] == 5
        assert s["pending_jobs"] == 3
        assert s["cancelled_jobs"] == 2

    async def test_last_call_settings_prefill(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="acc-l")
        r = await admin.get("/api/v1/accounts/acc-l/last-call-settings")
        assert r.json()["call_settings"] is None
        await api_batch(admin, "acc-l", name="first")
        newest = await api_batch(
            admin,
            "acc-l",
            name="second",
            call_settings={"allowed_call_hours": {"start": "10:00", "end": "18:30"}},
        )
        r = await admin.get("/api/v1/accounts/acc-l/last-call-settings")
        body = r.json()
        assert body["batch_id"] == newest["batch_id"]
        assert body["call_settings"]["allowed_call_hours"] == {"start": "10:00", "end": "18:30"}


class TestApiKeys:
    async def test_admin_issues_extra_key_that_works(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="acc-k")
        r = await admin.post("/api/v1/accounts/acc-k/api-keys", json={"name": "crm"})
        assert r.status_code == 201
        key = r.json()["api_key"]
        async with as_key(admin, key) as own:
            assert (await own.get("/api/v1/accounts/acc-k/balance")).status_code == 200
            assert (await own.post("/api/v1/accounts/acc-k/api-keys")).status_code == 403
