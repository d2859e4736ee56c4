from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from dialer.account.auth import generate_account_key, hash_key
from dialer.db.session import Database
from dialer.kit import ids
from dialer.models import Account, ApiKey, PlanType
from tests.fixtures.workers import workers  # noqa: F401  (fixture)

NewAccount = Callable[..., Awaitable[tuple[str, httpx.AsyncClient]]]


@pytest.fixture
async def new_account(database: Database, app: Any) -> AsyncIterator[NewAccount]:
    """Create an account with its own API key; returns (account_id, client with that key)."""
    clients: list[httpx.AsyncClient] = []

    async def make(country: str = "CL", **overrides: Any) -> tuple[str, httpx.AsyncClient]:
        account_id = overrides.pop("id", ids.account_id())
        key = generate_account_key()
        async with database.write() as s:
            s.add(
                Account(
                    id=account_id,
                    account_name=f"Cobranzas {account_id}",
                    country=country,
                    timezone="America/Santiago"
                    if country == "CL"
                    else "America/Argentina/Buenos_Aires",
                    plan_type=PlanType.MINUTES_BASED,
                    **overrides,
                )
            )
            await s.flush()
            s.add(
                ApiKey(
                    id=ids.new_id("key"),
                    account_id=account_id,
                    prefix=key[:8],
                    key_hash=hash_key(key),
                )
            )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key}"},
        )
        clients.append(client)
        return account_id, client

    yield make
    for c in clients:
        await c.aclose()
