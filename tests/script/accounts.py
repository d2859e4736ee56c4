"""Accounts and account keys written straight to the database (this area's tests only)."""

from __future__ import annotations

import httpx

from dialer.account.auth import generate_account_key, hash_key
from dialer.db.session import Database
from dialer.models import Account, ApiKey, PlanType


async def make_account(
    database: Database, account_id: str, *, country: str = "CL", balance: int = 0
) -> str:
    """Create an account with one API key; returns the key."""
    key = generate_account_key()
    async with database.write() as session:
        session.add(
            Account(
                id=account_id,
                account_name=f"Cuenta {account_id}",
                country=country,
                timezone="America/Santiago"
                if country == "CL"
                else "America/Argentina/Buenos_Aires",
                plan_type=PlanType.MINUTES_BASED,
                balance=balance,
            )
        )
        await session.flush()
        session.add(
            ApiKey(
                id=f"key-{account_id}",
                account_id=account_id,
                prefix=key[:8],
                key_hash=hash_key(key),
            )
        )
    return key


def client_for(app: object, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    )
