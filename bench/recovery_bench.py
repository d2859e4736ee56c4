"""Recovery figures benchmark: ``GET /api/v1/accounts/{id}/recovery``,
``GET /api/v1/batches/{id}/recovery`` and the overview, 1,000,000 jobs vs 1,000 jobs in
the same run.

Both databases get the same accounts, batches and recovery roll-up (``--days`` days of
``--hours`` active hours per batch: the roll-up grows with batches and time, not with
jobs); the large one also holds 1,000x the jobs, promises (10 % of jobs) and payments
(3 %). The requests alternate between the two apps (in-process, httpx ASGITransport) so
machine load hits both alike. Prints p50/p99 per endpoint and the ratio large / small.
Target: p99 ratio < 1.5.

    uv run --frozen python -m bench.recovery_bench                 # SQLite, 1,000,000 jobs
    uv run --frozen python -m bench.recovery_bench --jobs 100000 --requests 200
    DIALER_BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:54336/postgres \\
        uv run --frozen python -m bench.recovery_bench --db postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.load_bench import _analyze, _migrate, _pg_exec, _seed

ADMIN_KEY = "bench-admin-key-recovery"


async def _seed_collections(
    url: str, meta: dict[str, Any], *, jobs: int, days: int, hours: int
) -> None:
    """Roll-up rows per batch and hour, and promises / payments in proportion to jobs."""
    from sqlalchemy import insert, select

    from dialer.db.session import Database
    from dialer.models import Job, Payment, Promise, RecoveryStat

    db = Database(url)
    rng = random.Random(7)
    start = datetime(2026, 10, 1, 12, tzinfo=UTC)
    try:
        rows = []
        for batch_id, account_id in meta["batches"]:
            for d in range(days):
                for h in range(hours):
                    rows.append({
                        "batch_id": batch_id, "account_id": account_id,
                        "hour": start + timedelta(days=d, hours=h),
                        "attempts": rng.randint(50, 500), "contacts": rng.randint(10, 100),
                        "right_party": rng.randint(5, 80), "promises": rng.randint(0, 20),
                        "promised_amount": rng.randint(0, 5_000_000), "kept": rng.randint(0, 10),
                        "broken": rng.randint(0, 10), "payments": rng.randint(0, 10),
                        "recovered_amount": rng.randint(0, 3_000_000),
                        "cost_units": rng.randint(0, 30_000), "billed_seconds": rng.randint(0, 30_000),
                    })  # fmt: skip
        async with db.write() as s:
            for i in range(0, len(rows), 5000):
                await s.execute(insert(RecoveryStat), rows[i : i + 5000])
        n_promises, n_payments = jobs // 10, jobs * 3 // 100
        async with db.read() as rs:
            sample = (
                await rs.execute(
                    select(Job.id, Job.batch_id, Job.account_id, Job.dni).limit(n_promises)
                )
            ).all()
        for i in range(0, len(sample), 20_000):
            chunk = sample[i : i + 20_000]
            async with db.write() as s:
                await s.execute(insert(Promise), [
                    {"id": f"prm_{i + k}", "account_id": a, "batch_id": b, "job_id": j,
                     "attempt_id": f"att_{i + k}", "debtor_id": dni, "amount": 100_000,
                     "currency": "CLP", "due_on": date(2026, 11, 1) + timedelta(days=k % 30),
                     "judge_at": start + timedelta(days=31 + k % 30), "status": "kept" if k % 3 else "broken",
                     "paid_amount": 0, "created_at": start}
                    for k, (j, b, a, dni) in enumerate(chunk)
                ])  # fmt: skip
        for i in range(0, n_payments, 20_000):
            chunk = sample[i : min(i + 20_000, n_payments)]
            async with db.write() as s:
                await s.execute(insert(Payment), [
                    {"id": f"pay_{i + k}", "account_id": a, "reference": f"ref-{i + k}",
                     "debtor_id": dni, "amount": 50_000, "currency": "CLP",
                     "paid_on": date(2026, 11, 1) + timedelta(days=k % 30), "batch_id": b,
                     "matched_jobs": [j], "created_at": start}
                    for k, (j, b, a, dni) in enumerate(chunk)
                ])  # fmt: skip
    finally:
        await db.dispose()


def build(
    url: str, *, jobs: int, batches: int, accounts: int, days: int, hours: int
) -> dict[str, Any]:
    _migrate(url)
    t = time.perf_counter()
    meta = asyncio.run(_seed(url, jobs=jobs, batches=batches, accounts=accounts))
    asyncio.run(_seed_collections(url, meta, jobs=jobs, days=days, hours=hours))
    asyncio.run(_analyze(url))
    print(f"  built {jobs:,} jobs in {time.perf_counter() - t:.0f} s", flush=True)
    return meta


async def measure(
    urls: dict[str, str], metas: dict[str, dict[str, Any]], requests: int
) -> dict[str, dict[str, list[float]]]:
    from dialer.config import Settings
    from dialer.db.session import Database
    from dialer.main import create_app

    clients, apps, dbs, stacks = {}, {}, {}, []
    for label, url in urls.items():
        settings = Settings(ENV="test", DATABASE_URL=url, ADMIN_API_KEY=ADMIN_KEY,  # type: ignore[arg-type]
                            LOG_LEVEL="WARNING", DATA_DIR=Path(tempfile.mkdtemp()))  # fmt: skip
        dbs[label] = Database(url)
        apps[label] = create_app(settings, database=dbs[label])
        ctx = apps[label].router.lifespan_context(apps[label])
        await ctx.__aenter__()
        stacks.append(ctx)
        clients[label] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[label]), base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )  # fmt: skip
    out: dict[str, dict[str, list[float]]] = {k: {} for k in urls}
    try:
        for i in range(requests + 20):
            for label, c in clients.items():
                meta = metas[label]
                account = list(meta["keys"])[i % len(meta["keys"])]
                batch = meta["batches"][i % len(meta["batches"])][0]
                for name, path, params in (
                    ("account recovery", f"/api/v1/accounts/{account}/recovery", {}),
                    ("batch recovery", f"/api/v1/batches/{batch}/recovery", {}),
                    ("account recovery, one week", f"/api/v1/accounts/{account}/recovery",
                     {"start": "2026-10-10", "end": "2026-10-16"}),
                    ("overview", "/api/v1/dashboard/overview", {"account_id": account}),
                ):  # fmt: skip
                    t = time.perf_counter()
                    r = await c.get(path, params=params)
                    took = (time.perf_counter() - t) * 1000
                    assert r.status_code == 200, r.text
                    if i >= 20:  # warm-up
                        out[label].setdefault(name, []).append(took)
    finally:
        for c in clients.values():
            await c.aclose()
        for ctx in stacks:
            await ctx.__aexit__(None, None, None)
        for db in dbs.values():
            await db.dispose()
    return out


async def _meta_of(url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from dialer.db.session import Database
    from dialer.models import Account, Batch, Job

    db = Database(url)
    try:
        async with db.read() as s:
            accounts = [a for (a,) in (await s.execute(select(Account.id))).all()]
            batches = [(b, a) for b, a in (await s.execute(select(Batch.id, Batch.account_id)))]
            jobs = (await s.execute(select(func.count()).select_from(Job))).scalar_one()
    finally:
        await db.dispose()
    print(f"  {url}: {jobs:,} jobs, {len(batches)} batches", flush=True)
    return {"keys": dict.fromkeys(accounts, ""), "batches": batches, "jobs": jobs}


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] if len(xs) > 1 else xs[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--small-jobs", type=int, default=1_000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--reuse", type=Path, help="measure the small.db / large.db a previous SQLite run left here"
    )
    args = parser.parse_args()
    os.environ.setdefault("DIALER_LOG_LEVEL", "WARNING")
    from dialer import logging as dlog

    dlog.configure("WARNING", json=True)
    if args.reuse:
        urls = {k: f"sqlite+aiosqlite:///{args.reuse / k}.db" for k in ("small", "large")}
        metas = {}
        for label, url in urls.items():
            _migrate(url)  # a database left by an older revision
            metas[label] = asyncio.run(_meta_of(url))
        report(args, asyncio.run(measure(urls, metas, args.requests)))
        return
    work = Path(tempfile.mkdtemp(prefix="dialer-recovery-"))
    server = os.environ.get("DIALER_BENCH_PG_URL", "")
    urls: dict[str, str] = {}
    for label, _size in (("small", args.small_jobs), ("large", args.jobs)):
        if args.db == "sqlite":
            urls[label] = f"sqlite+aiosqlite:///{work / label}.db"
        else:
            name = f"dialer_recovery_{label}"
            asyncio.run(_pg_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            asyncio.run(_pg_exec(server, f'CREATE DATABASE "{name}"'))
            urls[label] = server.rsplit("/", 1)[0] + "/" + name
    metas = {}
    for label, size in (("small", args.small_jobs), ("large", args.jobs)):
        print(f"[{args.db}] building the {size:,}-job database", flush=True)
        metas[label] = build(urls[label], jobs=size, batches=args.batches, accounts=args.accounts,
                             days=args.days, hours=args.hours)  # fmt: skip
    report(args, asyncio.run(measure(urls, metas, args.requests)))
    if args.db == "postgresql":
        for label in urls:
            asyncio.run(
                _pg_exec(server, f'DROP DATABASE IF EXISTS "dialer_recovery_{label}" WITH (FORCE)')
            )


def report(args: argparse.Namespace, samples: dict[str, dict[str, list[float]]]) -> None:
    print(f"\n[{args.db}] {args.requests} requests per endpoint and database, "
          f"{args.batches} batches x {args.days} days x {args.hours} h of roll-up")  # fmt: skip
    small, large = (f"{n:,}" for n in (args.small_jobs, args.jobs))
    print(f"{'endpoint':<28} {small + ' p50':>12} {small + ' p99':>12} {large + ' p50':>16} "
          f"{large + ' p99':>16} {'ratio p99':>9}")  # fmt: skip
    for name in samples["small"]:
        s, big = samples["small"][name], samples["large"][name]
        print(f"{name:<28} {pct(s, 50):12.1f} {pct(s, 99):12.1f} {pct(big, 50):16.1f} "
              f"{pct(big, 99):16.1f} {pct(big, 99) / pct(s, 99):9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
