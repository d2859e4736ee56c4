"""The ledger through the API: topups, idempotency, balance = sum of entries, never negative."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dialer.billing import service as billing
from dialer.billing.errors import InsufficientBalance
from dialer.billing.repository import LedgerRepository
from dialer.billing.service import BalanceMoved, Charge, Entry, Hold
from dialer.db.session import Database
from dialer.job.states import AttemptStatus
from dialer.kit import clock
from dialer.models import EntryKind
from tests.factories import api_account, api_batch, attempt_row


@pytest.fixture
async def acc(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await api_account(admin, account_id="led-acc", initial_minutes=10)


async def ledger_sum(database: Database, account_id: str) -> int:
    async with database.read() as s:
        return await LedgerRepository.from_session(s).sum_for(account_id)


class TestTopup:
    async def test_topup_adds_an_entry_and_balance_is_the_sum(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        r = await admin.post("/api/v1/accounts/led-acc/topup", json={"minutes": 2.5})
        assert r.status_code == 200
        body = r.json()
        assert body["applied"] is True
        assert body["amount"] == 2.5
        assert body["balance"]["minutes"] == 12.5
        bal = (await admin.get("/api/v1/accounts/led-acc/balance")).json()
        assert bal["balance_units"] == 750
        assert bal["balance_units"] == await ledger_sum(database, "led-acc")
        assert bal["reserved_in_flight_units"] == 0

    async def test_same_idempotency_key_applies_once(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        body = {"minutes": 5, "idempotency_key": "factura-881"}
        first = await admin.post("/api/v1/accounts/led-acc/topup", json=body)
        second = await admin.post("/api/v1/accounts/led-acc/topup", json=body)
        assert first.json()["applied"] is True
        assert second.status_code == 200
        assert second.json()["applied"] is False
        assert second.json()["transaction_id"] == first.json()["transaction_id"]
        assert second.json()["balance"]["minutes"] == 15
        assert await ledger_sum(database, "led-acc") == 15 * 60
        r = await admin.post(
            "/api/v1/accounts/led-acc/topup", json={"minutes": 7, "idempotency_key": "factura-881"}
        )
        assert r.status_code == 409
        assert r.json()["field"] == "idempotency_key"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"minutes": -5}, "minutes"),
            ({"minutes": 0}, "minutes"),
            ({"credits": -1}, "credits"),
            ({"credits": 10}, "credits"),  # wrong unit for a minutes plan
        ],
    )
    async def test_bad_amounts_are_422_naming_the_field(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], body: dict[str, Any], field: str
    ) -> None:
        r = await admin.post("/api/v1/accounts/led-acc/topup", json=body)
        assert r.status_code == 422
        payload = r.json()
        fields = [e["field"] for e in payload.get("errors", [])] + [payload.get("field")]
        assert field in fields
        assert (await admin.get("/api/v1/accounts/led-acc/balance")).json()["minutes"] == 10

    async def test_unknown_account_is_404(self, admin: httpx.AsyncClient) -> None:
        r = await admin.post("/api/v1/accounts/ghost/topup", json={"minutes": 1})
        assert r.status_code == 404

    async def test_credit_account_topup(self, admin: httpx.AsyncClient) -> None:
        await api_account(admin, account_id="cred", plan_type="credit_based")
        r = await admin.post("/api/v1/accounts/cred/topup", json={"credits": 12.34})
        assert r.json()["balance"]["credits"] == 12.34
        assert r.json()["balance"]["balance_units"] == 1234
        r = await admin.post("/api/v1/accounts/cred/topup", json={"minutes": 3})
        assert r.status_code == 422
        assert r.json()["field"] == "minutes"


class TestTransactions:
    async def test_newest_first_paged_with_units_and_display(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        for m in (1, 2, 3):
            await admin.post("/api/v1/accounts/led-acc/topup", json={"minutes": m})
        # A call: hold 5 minutes, then settle at 2 minutes (the claim's and the
        # settlement's own bulk forms).
        async with database.write() as s:
            account = await billing.lock_account(s, "led-acc")
            await billing.reserve_many(s, account, [Hold("att-9", "b", "j", 300)], now=clock.now())
            [settled] = await billing.settle(
                s, [Charge("led-acc", "att-9", "b", "j", reserved=300, cost=120)], now=clock.now()
            )
            assert settled.charged == 120
            # Settling the same attempt again (a replayed event) changes nothing.
            [again] = await billing.settle(
                s, [Charge("led-acc", "att-9", "b", "j", reserved=300, cost=120)], now=clock.now()
            )
            assert again.charged == 0
            assert again.entries == ()
        r = await admin.get("/api/v1/accounts/led-acc/transactions", params={"limit": 3})
        page = r.json()
        assert page["total"] == 7
        assert [e["kind"] for e in page["items"]] == ["charge", "release", "reservation"]
        assert page["items"][0]["amount"] == -2
        assert page["items"][0]["amount_units"] == -120
        assert page["items"][0]["unit"] == "minutes"
        assert page["balance"] == 10 + 6 - 2
        older = await admin.get(
            "/api/v1/accounts/led-acc/transactions", params={"limit": 10, "skip": 3}
        )
        assert [e["amount"] for e in older.json()["items"]] == [3, 2, 1, 10]
        only_topups = await admin.get(
            "/api/v1/accounts/led-acc/transactions", params={"kind": "topup"}
        )
        assert only_topups.json()["total"] == 4
        assert page["balance"] * 60 == await ledger_sum(database, "led-acc")

    async def test_reserved_in_flight_shows_in_balance(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        batch = await api_batch(admin, "led-acc", jobs=1)
        bid = batch["batch_id"]
        job_id = (await admin.get(f"/api/v1/batches/{bid}/jobs")).json()["items"][0]["job_id"]
        async with database.write() as s:
            account = await billing.lock_account(s, "led-acc")
            await billing.reserve_many(
                s, account, [Hold("att-1", bid, job_id, 240)], now=clock.now()
            )
            s.add(
                attempt_row(
                    id="att-1", job_id=job_id, batch_id=bid, account_id="led-acc",
                    phone="+56911112222", status=AttemptStatus.IN_PROGRESS,
                    reserved_units=240,
                )
            )  # fmt: skip
        bal = (await admin.get("/api/v1/accounts/led-acc/balance")).json()
        assert bal["minutes"] == 6
        assert bal["reserved_in_flight"] == 4
        assert bal["total"] == 10

    async def test_balance_never_goes_negative(
        self, admin: httpx.AsyncClient, acc: dict[str, Any], database: Database
    ) -> None:
        async with database.write() as s:
            account = await billing.lock_account(s, "led-acc")
            with pytest.raises(BalanceMoved):
                await billing.reserve_many(
                    s, account, [Hold("att-x", "b", "j", 601)], now=clock.now()
                )
            with pytest.raises(InsufficientBalance):
                await billing.append_entries(
                    s,
                    {"led-acc": account},
                    [Entry("led-acc", EntryKind.CHARGE, -601, "k-neg")],
                    now=clock.now(),
                )
            # A call longer than the balance is charged up to the balance, never below zero.
            [settled] = await billing.settle(
                s, [Charge("led-acc", "att-y", "b", "j", reserved=0, cost=900)], now=clock.now()
            )
        charged = settled.charged
        assert charged == 600
        bal = (await admin.get("/api/v1/accounts/led-acc/balance")).json()
        assert bal["balance_units"] == 0
        assert await ledger_sum(database, "led-acc") == 0


async def test_absurd_topup_is_422_not_500(admin: httpx.AsyncClient, acc: dict[str, Any]) -> None:
    r = await admin.post("/api/v1/accounts/led-acc/topup", json={"minutes": 1e30})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "minutes"
    for _ in range(40):
        r = await admin.post("/api/v1/accounts/led-acc/topup", json={"minutes": 1_000_000})
        if r.status_code != 200:
            break
    assert r.status_code == 422
    assert r.json()["field"] == "minutes"
