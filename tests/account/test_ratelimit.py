"""GET /api/v1/batches/{id}/status is rate limited per API key (moving window)."""

from __future__ import annotations

import httpx
import pytest

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.account.ratelimit import storage_for
from dialer.config import Settings
from tests.factories import add_account, add_batch


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"STATUS_RATE_LIMIT": "3/minute"})


async def test_status_answers_429_with_retry_after_past_the_limit_per_key(app, database):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, _ = await add_batch(session, account, jobs=1)
        second = await account_service.create_api_key(
            session, Principal(is_admin=True), account.id, "poller-2"
        )
        other_key = second.api_key

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        url = f"/api/v1/batches/{batch.id}/status"
        for _ in range(3):
            ok = await c.get(url, headers={"X-API-Key": key})
            assert ok.status_code == 200
        limited = await c.get(url, headers={"X-API-Key": key})
        assert limited.status_code == 429
        assert limited.json()["error"] == "RateLimited"
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 60

        # Another key of the same account has its own allowance.
        assert (await c.get(url, headers={"X-API-Key": other_key})).status_code == 200
        # Other endpoints are not limited by the status limit.
        assert (
            await c.get(f"/api/v1/batches/{batch.id}", headers={"X-API-Key": key})
        ).status_code == 200


def test_redis_url_selects_shared_storage(settings: Settings):
    redis = storage_for(settings.model_copy(update={"REDIS_URL": "redis://127.0.0.1:6399/0"}))
    assert type(redis).__name__ == "RedisStorage"
    assert type(storage_for(settings)).__name__ == "MemoryStorage"
