"""GET /api/v1/batches/{id}/status latency for a 100-job batch vs a 100,000-job batch.

The status view reads one batch row (counters kept transactionally), so both batches
should answer in the same time: the printed ratio should be close to 1.0.

    uv run python bench/status_bench.py                     # SQLite file
    DIALER_BENCH_PG_URL=postgresql+asyncpg://... uv run python bench/status_bench.py

Requests go through the real ASGI app (auth, session, routing, JSON) with httpx.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from dialer import logging as dlog
from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate
from dialer.config import Settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.job.schemas import NewJob
from dialer.job.service import insert_jobs
from dialer.kit import clock
from dialer.main import create_app

SIZES = (100, 100_000)
REQUESTS = 500
WARMUP = 50
ADMIN_KEY = "bench-admin-key"


def contacts(n: int) -> Iterator[NewJob]:
    for i in range(n):
        yield NewJob(
            contact_name=f"Contacto {i}",
            dni=f"{10_000_000 + i}",
            phones=[f"+569{i:08d}"],
            payload={"monto": 10_000 + i, "fecha_limite": "2026-12-31"},
            row_number=i + 2,
        )


async def seed(db: Database) -> tuple[str, dict[int, str]]:
    """One account and one batch per size; returns the account key and batch ids."""
    admin = Principal(is_admin=True)
    suffix = secrets.token_hex(3)
    batches: dict[int, str] = {}
    async with db.write() as s:
        _account, key = await account_service.create_account(
            s, AccountCreate(account_id=f"bench-{suffix}", account_name="Bench", country="CL")
        )
    for n in SIZES:
        start = time.perf_counter()
        async with db.write() as s:
            batch, _ = await batch_service.create_batch(
                s, admin, BatchCreate(account_id=f"bench-{suffix}", name=f"{n} jobs")
            )
            await insert_jobs(s, batch, contacts(n), now=clock.now())
            batches[n] = batch.id
        took = time.perf_counter() - start
        print(f"  insert_jobs {n:>7,} jobs: {took:6.2f} s ({n / took:,.0f} jobs/s)")
    return key, batches


async def measure(client: httpx.AsyncClient, batch_id: str) -> list[float]:
    samples = []
    for i in range(WARMUP + REQUESTS):
        t0 = time.perf_counter()
        r = await client.get(f"/api/v1/batches/{batch_id}/status")
        dt = time.perf_counter() - t0
        r.raise_for_status()
        if i >= WARMUP:
            samples.append(dt * 1000)
    return samples


def pct(samples: list[float], p: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(p) - 1]


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
        key, batches = await seed(db)
        app = create_app(settings, database=db)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {key}"},
            ) as client:
                # Alternate rounds so drift (caches, other load) hits both sizes alike.
                small: list[float] = []
                large: list[float] = []
                for _ in range(2):
                    small += await measure(client, batches[SIZES[0]])
                    large += await measure(client, batches[SIZES[1]])
                results = {SIZES[0]: small, SIZES[1]: large}
        for n, samples in results.items():
            print(
                f"  /status {n:>7,} jobs: p50 {pct(samples, 50):6.2f} ms   "
                f"p99 {pct(samples, 99):6.2f} ms   ({len(samples)} requests)"
            )
        p50_ratio = pct(results[SIZES[1]], 50) / pct(results[SIZES[0]], 50)
        p99_ratio = pct(results[SIZES[1]], 99) / pct(results[SIZES[0]], 99)
        print(f"  ratio 100,000 / 100 jobs: p50 {p50_ratio:.2f}   p99 {p99_ratio:.2f}")
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
