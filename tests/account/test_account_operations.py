"""Account PATCH, summary and dashboard stats; the ``unlimited`` plan (never held back for
balance, every call still reserved and charged in the ledger)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from dialer.billing import service as billing
from dialer.billing.service import Charge
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import PlanType
from dialer.worker.claim import claim_due_jobs
from tests.factories import account_row, api_account, as_key, ledger_sum, make_account, make_batch


class TestPatch:
    async def test_changes_only_given_fields(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, account_id="acc-patch", contact_name="Ana")
        r = await admin.patch(
            "/api/v1/accounts/acc-patch",
            json={
                "account_name": "Cobranzas Norte",
                "contact_email": "ops@norte.cl",
                "timezone": "America/Punta_Arenas",
                "max_concurrent_calls": 25,
                "features": {"recordings": True},
            },
        )
        assert r.status_code == 200, r.text
        a = r.json()
        assert (a["account_name"], a["contact_name"], a["contact_email"]) == (
            "Cobranzas Norte", "Ana", "ops@norte.cl")  # fmt: skip
        assert (a["timezone"], a["max_concurrent_calls"]) == ("America/Punta_Arenas", 25)
        assert a["features"] == {"recordings": True}
        assert (await admin.get("/api/v1/accounts/acc-patch")).json()["max_concurrent_calls"] == 25
        bad = await admin.patch("/api/v1/accounts/acc-patch", json={"timezone": "Mars/Base"})
        assert bad.status_code == 422
        assert "timezone" in bad.json()["detail"]
        unknown = await admin.patch("/api/v1/accounts/acc-patch", json={"balance": 10})
        assert unknown.status_code == 422
        async with as_key(admin, acc["api_key"]) as own:
            # Caps and plan are the operator's: an account key cannot raise its own.
            r = await own.patch("/api/v1/accounts/acc-patch", json={"max_concurrent_calls": 999})
            assert r.status_code == 403


class TestSummaryAndStats:
    async def test_summary(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="acc-sum", initial_minutes=30)
        await admin.post("/api/v1/accounts/acc-sum/topup", json={"minutes": 15})
        s = (await admin.get("/api/v1/accounts/acc-sum/summary")).json()
        assert s["account"]["account_id"] == "acc-sum"
        assert s["balance"]["balance"] == 45.0
        assert s["stats"]["total_batches"] == 0
        assert s["ledger"] == {
            "topped_up": 45.0, "charged": 0.0, "refunded": 0.0, "held_now": 0.0, "entries": 2
        }  # fmt: skip
        assert (await admin.get("/api/v1/accounts/acc-nope/summary")).status_code == 404

    async def test_dashboard_stats(self, admin: httpx.AsyncClient) -> None:
        acc = await api_account(admin, account_id="acc-dash", initial_minutes=10)
        await api_account(admin, account_id="acc-dash2")
        await admin.put("/api/v1/accounts/acc-dash2/suspend")
        system = (await admin.get("/api/v1/dashboard/stats")).json()
        assert system["system"] == {
            "total_accounts": 2, "active_accounts": 1, "suspended_accounts": 1
        }  # fmt: skip
        one = (await admin.get("/api/v1/dashboard/stats?account_id=acc-dash")).json()
        assert one["account"]["account_id"] == "acc-dash"
        assert one["balance"]["balance"] == 10.0
        async with as_key(admin, acc["api_key"]) as own:
            mine = (await own.get("/api/v1/dashboard/stats")).json()
            assert mine["system"] is None
            assert mine["account"]["account_id"] == "acc-dash"


class TestUnlimitedPlan:
    async def test_created_without_balance_and_refuses_topups(
        self, admin: httpx.AsyncClient
    ) -> None:
        a = await api_account(admin, account_id="acc-unl", plan_type="unlimited")
        assert (a["plan_type"], a["balance_unit"], a["balance"]) == ("unlimited", "minutes", 0)
        r = await admin.post("/api/v1/accounts/acc-unl/topup", json={"minutes": 10})
        assert r.status_code == 422
        assert "unlimited" in r.json()["detail"]
        bad = await admin.post(
            "/api/v1/accounts",
            json={"account_name": "X", "plan_type": "unlimited", "initial_minutes": 5},
        )
        assert bad.status_code == 422
        listed = (await admin.get("/api/v1/accounts?plan_type=unlimited")).json()
        assert [x["account_id"] for x in listed["items"]] == ["acc-unl"]

    async def test_claims_without_balance_and_meters_usage(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        acc = await make_account(database, cap=10, minutes=0, plan=PlanType.UNLIMITED)
        await make_batch(database, acc, jobs=3, now=now)
        async with database.write() as s:
            claimed = await claim_due_jobs(
                s, worker_id="w1", now=now, limit=10, lease=timedelta(seconds=60)
            )
        # No balance at all, yet every due job is dialed; each hold is in the ledger.
        assert len(claimed) == 3
        assert all(c.reserved_units == 300 for c in claimed)
        assert await ledger_sum(database, acc) == -900
        first = claimed[0]
        charge = Charge(acc, first.attempt_id, first.batch_id, first.job_id, reserved=300, cost=120)
        async with database.write() as s:
            [settled] = await billing.settle(s, [charge], now=frozen_clock.now())
        charged = settled.charged
        # Charged in full (no balance to cap at): usage is metered, in seconds.
        assert charged == 120
        assert (await account_row(database, acc)).balance == -600 - 120
        assert await ledger_sum(database, acc) == -720
