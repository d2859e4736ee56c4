"""The demo seed: an account with balance, a key on disk and an open sample batch, idempotently."""

from __future__ import annotations

from dialer.demo import DEMO_ACCOUNT_ID, seed_demo
from tests.dashboard.helpers import login


async def test_seed_is_idempotent_and_the_key_works(settings, client):
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    assert first.batch_created
    assert not second.batch_created
    assert second.batch_id == first.batch_id
    assert second.api_key == first.api_key
    assert (settings.DATA_DIR / "demo_api_key").read_text().strip() == first.api_key

    headers = {"X-API-Key": first.api_key}
    balance = (
        await client.get(f"/api/v1/accounts/{DEMO_ACCOUNT_ID}/balance", headers=headers)
    ).json()
    assert balance["balance"] > 0
    batch = (await client.get(f"/api/v1/batches/{first.batch_id}", headers=headers)).json()
    assert batch["status"] == "active"
    assert batch["total_jobs"] > 0
    # Open all day, every day: calls start whatever the time of the visit.
    hours = batch["call_settings"]["allowed_call_hours"]
    assert (hours["start"], hours["end"]) == ("00:00", "24:00")
    assert len(batch["call_settings"]["allowed_weekdays"]) == 7

    # Two people can log in to the dashboard with the printed passwords, the same each run.
    assert set(first.users) == {"supervisor", "operador"}
    assert second.users == first.users
    assert (settings.DATA_DIR / "demo_users").stat().st_mode & 0o777 == 0o600
    r = await login(client, "operador", first.users["operador"])
    assert r.status_code == 303, r.text
