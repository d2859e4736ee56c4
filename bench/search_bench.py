"""Contact search on a 100,000-contact batch: the contact table's own queries (the count
and the first page of 25, ``JobFilter``), with the folded key (``jobs.search_text`` on the
``(batch_id, id, search_text)`` index) against the expressions searched before it
(``lower(contact_name)``, the RUT with dots and hyphen replaced, the phones' JSON text).

    uv run --frozen python -m bench.search_bench                       # SQLite file
    DIALER_BENCH_PG_URL=postgresql+asyncpg://... uv run --frozen python -m bench.search_bench

Prints p50 / p95 per query kind, in milliseconds, and how many rows each found.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from dialer import logging as dlog
from dialer.config import Settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.job.filters import JobFilter, _like_escape
from dialer.job.schemas import NewJob
from dialer.job.service import insert_jobs
from dialer.kit import clock
from dialer.models import Account, Batch, Job, PlanType

FIRST = ["José", "María", "Juan", "Ana", "Pedro", "Sofía", "Tomás", "Inés", "Raúl", "Verónica"]
LAST = ["Pérez", "González", "Muñoz", "Rojas", "Díaz", "Núñez", "Soto", "Araya", "Peña", "Vásquez"]
QUERIES = {
    "unique name, upper case with accents": "ZÚÑIGA ÑANCO",
    "common first name": "JOSÉ",
    "RUT with dots": "15.000.077-7",
    "phone typed with spaces": "9 5000 0777",
    "no match": "nadie aquí",
}
ROUNDS = 15


def contacts(n: int) -> Iterator[NewJob]:
    rnd = random.Random(7)
    for i in range(n):
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {rnd.choice(LAST)}"
        if i == 77:
            name = "Zúñiga Ñanco Pía"
        if rnd.random() < 0.5:
            name = name.upper()
        yield NewJob(
            contact_name=name,
            dni=f"{15_000_000 + i}-{i % 10}",
            phones=[f"+5695{i:07d}"],
            payload={"monto": 10_000 + i},
            row_number=i + 2,
        )


def before(text: str) -> ColumnElement[bool]:
    """The search as it was before jobs.search_text (ASCII-only folding on SQLite)."""
    name = "%" + _like_escape(text.lower()) + "%"
    options: list[ColumnElement[bool]] = [func.lower(Job.contact_name).like(name, escape="\\")]
    rut = re.sub(r"[^0-9kK]", "", text).lower()
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        bare = func.lower(func.replace(func.replace(Job.dni, ".", ""), "-", ""))
        options.append(bare.like("%" + rut + "%"))
        options.append(cast(Job.phones, String).like("%" + digits + "%"))
    return or_(*options)


async def seed(db: Database, n: int) -> str:
    now = clock.now()
    async with db.write() as s:
        s.add(
            Account(
                id="acc-bench", account_name="Bench", country="CL", timezone="America/Santiago",
                plan_type=PlanType.MINUTES_BASED, balance=0, settings={}, features={},
            )
        )  # fmt: skip
        batch = Batch(
            id="batch-bench", account_id="acc-bench", name="Bench", call_settings={},
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(batch)
        await s.flush()
        t0 = time.perf_counter()
        await insert_jobs(s, batch, contacts(n), now=now)
    print(f"  inserted {n:,} jobs in {time.perf_counter() - t0:.1f} s")
    # Statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) would have.
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(
            "VACUUM ANALYZE jobs" if db.dialect == "postgresql" else "ANALYZE"
        )
    return batch.id


async def table_query(db: Database, where: ColumnElement[bool]) -> tuple[float, int]:
    """The contact table's two reads (count, first page) in one read session."""
    flt = JobFilter()
    t0 = time.perf_counter()
    async with db.read() as s:
        total = (await s.execute(select(func.count()).select_from(Job).where(where))).scalar()
        await s.execute(select(Job).where(where).order_by(*flt.order_by()).limit(25))
    return (time.perf_counter() - t0) * 1000, int(total or 0)


async def run(url: str, label: str, n: int) -> None:
    print(f"\n== {label}: {n:,} contacts in one batch ==")
    settings = Settings(ENV="test", DATABASE_URL=url, DATA_DIR=Path(tempfile.mkdtemp()))
    await asyncio.to_thread(migrate_database, settings)
    db = Database(url)
    try:
        batch_id = await seed(db, n)
        print(
            f"  {'query':<40} {'key p50':>8} {'p95':>7} {'rows':>5}   {'before p50':>10} {'p95':>7} {'rows':>5}"
        )
        for kind, q in QUERIES.items():
            new_where = JobFilter(q=q).where(batch_id)
            old_where = and_(Job.batch_id == batch_id, before(q))
            new: list[float] = []
            old: list[float] = []
            for _ in range(ROUNDS):  # alternating, so drift hits both alike
                ms, new_rows = await table_query(db, new_where)
                new.append(ms)
                ms, old_rows = await table_query(db, old_where)
                old.append(ms)
            print(
                f"  {kind:<40} {statistics.median(new):8.1f} {_p95(new):7.1f} {new_rows:5}"
                f"   {statistics.median(old):10.1f} {_p95(old):7.1f} {old_rows:5}"
            )
    finally:
        await db.dispose()


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    dlog.configure("WARNING", json=True)
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", args.rows)
    pg = os.environ.get("DIALER_BENCH_PG_URL")
    if pg and not args.no_pg:
        await run(pg, "PostgreSQL", args.rows)


if __name__ == "__main__":
    asyncio.run(main())
