"""What checking an account key on every request costs: GET /api/v1/batches/{id}/status
with an account key (its row read per request, so a revoked key is refused at once by
every API process) against the same request with the admin key (no database read to
authenticate), alternating rounds in one run.

    uv run python bench/auth_bench.py                     # SQLite file
    DIALER_BENCH_PG_URL=postgresql+asyncpg://... uv run python bench/auth_bench.py

Requests go through the real ASGI app (auth, session, routing, JSON) with httpx.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

import httpx

from bench.status_bench import ADMIN_KEY, contacts, pct
from dialer import logging as dlog
from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate
from dialer.config import Settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.job.service import insert_jobs
from dialer.kit import clock
from dialer.main import create_app

REQUESTS = 1_000
ROUNDS = 3
WARMUP = 50


async def seed(db: Database) -> tuple[str, str]:
    suffix = secrets.token_hex(3)
    async with db.write() as s:
        _account, key = await account_service.create_account(
            s, AccountCreate(account_id=f"bench-{suffix}", account_name="Bench", country="CL")
        )
        batch, _ = await batch_service.create_batch(
            s, Principal(is_admin=True), BatchCreate(account_id=f"bench-{suffix}", name="auth")
        )
        await insert_jobs(s, batch, contacts(100), now=clock.now())
    return key, batch.id


async def measure(client: httpx.AsyncClient, path: str, key: str, n: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(path, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return samples


async def run(url: str, label: str) -> None:
    print(f"\n== {label} ==")
    settings = Settings(
        ENV="test",
        DATABASE_URL=url,
        ADMIN_API_KEY=ADMIN_KEY,  # type: ignore[arg-type]
        LOG_LEVEL="WARNING",
        STATUS_RATE_LIMIT="1000000/minute",
        DATA_DIR=Path(tempfile.mkdtemp()),
    )
    await asyncio.to_thread(migrate_database, settings)
    db = Database(url)
    try:
        key, batch_id = await seed(db)
        app = create_app(settings, database=db)
        path = f"/api/v1/batches/{batch_id}/status"
        results: dict[str, list[float]] = {"admin key": [], "account key": []}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await measure(client, path, key, WARMUP)
                await measure(client, path, ADMIN_KEY, WARMUP)
                for _ in range(ROUNDS):  # alternate, so drift hits both alike
                    results["admin key"] += await measure(client, path, ADMIN_KEY, REQUESTS)
                    results["account key"] += await measure(client, path, key, REQUESTS)
        for name, samples in results.items():
            print(
                f"  /status with the {name:<11}: p50 {pct(samples, 50):6.2f} ms   "
                f"p99 {pct(samples, 99):6.2f} ms   ({len(samples)} requests)"
            )
        extra = pct(results["account key"], 50) - pct(results["admin key"], 50)
        ratio = pct(results["account key"], 50) / pct(results["admin key"], 50)
        print(f"  the per-request key read adds {extra:.2f} ms at p50 (ratio {ratio:.2f})")
    finally:
        await db.dispose()


async def main() -> None:
    dlog.configure("WARNING", json=True)
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite")
    pg = os.environ.get("DIALER_BENCH_PG_URL")
    if pg:
        await run(pg, "PostgreSQL")
    else:
        print("\n(set DIALER_BENCH_PG_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    asyncio.run(main())
