"""Recovery figures from the roll-up: per batch, per account and in the overview."""

from __future__ import annotations

from datetime import timedelta

import httpx

from dialer.kit.clock import FrozenClock
from tests.factories import api_account, api_debtor_batch, debtor, rut


async def test_a_payment_counts_once_for_the_account_in_the_crediting_batch(
    admin: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    acc = (await api_account(admin))["account_id"]
    old = await api_debtor_batch(admin, acc, [debtor(1, 100_000)])
    frozen_clock.advance(timedelta(minutes=5))
    new = await api_debtor_batch(admin, acc, [debtor(1, 100_000), debtor(2, 50_000)])
    today = frozen_clock.now().date().isoformat()  # 2026-03-02, 12:00 in Santiago
    r = await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[
            {"rut": rut(1), "amount": 60000, "date": today, "reference": "P1"},
            {"rut": rut(2), "amount": 50000, "date": today, "reference": "P2"},
            {"rut": rut(9), "amount": 7000, "date": today, "reference": "P3"},  # no job
        ],
    )
    assert r.status_code == 200, r.text

    account = (await admin.get(f"/api/v1/accounts/{acc}/recovery")).json()
    assert account["totals"]["payments"] == 2  # the unmatched payment recovers nothing
    assert account["totals"]["recovered_amount"] == 110_000
    assert [d["key"] for d in account["by_day"]] == [today]
    assert account["by_hour"][0]["key"] == "00"  # payments count at the start of their day
    newest = (await admin.get(f"/api/v1/batches/{new['batch_id']}/recovery")).json()
    assert newest["totals"]["recovered_amount"] == 110_000  # the debtor's latest batch
    oldest = (await admin.get(f"/api/v1/batches/{old['batch_id']}/recovery")).json()
    assert oldest["totals"]["recovered_amount"] == 0

    overview = (await admin.get("/api/v1/dashboard/overview", params={"account_id": acc})).json()
    assert overview["payments_today"] == 2
    assert overview["recovered_amount_today"] == 110_000
    assert (await admin.get("/api/v1/batches/nope/recovery")).status_code == 404
