# ruff: noqa: ASYNC110, ASYNC220, ASYNC221, ASYNC230  (a benchmark driver: blocking calls are fine here)
"""Dispatcher throughput: N zero-latency simulated calls, end to end, in real worker
processes; and, on the same PostgreSQL, procrastinate running N no-op jobs.

    uv sync --group bench
    uv run python bench/dispatch_bench.py            # 100,000 calls / jobs
    uv run python bench/dispatch_bench.py --n 10000  # a quick run

Each dispatcher "job" is the whole product path: claim under the caps with the window
check and a balance reservation, place the call with the simulated carrier, record it
IN_PROGRESS, deliver the signed completion webhook, settle billing (release + charge),
apply the retry policy, move counters, write the contact log, hourly stats and progress
events. procrastinate's job is a no-op. PostgreSQL: DIALER_BENCH_PG_URL, or the throw-away
server from scripts/pg.sh (database dev_worker_bench).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


from tests.factories import (  # noqa: E402
    ENDS_WITH_LAST_CALL,
    batch_row,
    call_settings,
    make_account,
    make_batch,
)
from tests.fixtures.database import migrate, truncate_postgres  # noqa: E402

from dialer.db.session import Database  # noqa: E402


def pg_url() -> str:
    url = os.environ.get("DIALER_BENCH_PG_URL")
    if url:
        return url
    base = subprocess.run(
        ["bash", str(ROOT / "scripts/pg.sh"), "start"], check=True, capture_output=True, text=True
    ).stdout.strip()
    server = base.rsplit("/", 1)[0]
    dsn = server.replace("postgresql+asyncpg://", "postgresql://")
    subprocess.run(
        ["psql", f"{dsn}/postgres", "-qc", "create database dev_worker_bench"],
        capture_output=True,
    )
    return f"{server}/dev_worker_bench"


async def prepare(url: str, n: int) -> tuple[Database, str]:
    if url.startswith("postgresql"):
        await asyncio.to_thread(migrate, url)
        await asyncio.to_thread(truncate_postgres, url)
    else:
        await asyncio.to_thread(migrate, url)
    db = Database(url)
    now = datetime.now(UTC)
    acc = await make_account(db, cap=100_000, minutes=10 * n)
    # Every job ends with its call (no callback or promise follow-up keeps it waiting):
    # the run is over when the batch is, like procrastinate's no-op jobs.
    settings = call_settings(
        max_concurrent_calls=1000, retry_settings={"max_attempts": 1},
        collections=ENDS_WITH_LAST_CALL,
    )  # fmt: skip
    batch = await make_batch(db, acc, jobs=n, now=now, settings=settings)
    return db, batch


def _bytecode_env() -> dict[str, str]:
    """The environment of every measured process: Python keeps and reuses its compiled
    modules, as on a deployed worker. With PYTHONDONTWRITEBYTECODE (set in some shells)
    each worker compiled its ~1,500 modules from source at start, seconds of CPU per
    process counted against the run (most against the dialer, which imports more)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode() -> None:
    """Compile, once before anything is timed, what both sides' workers import."""
    subprocess.run(
        [sys.executable, "-c", "import dialer.worker.__main__, procrastinate.cli, bench.proc_tasks"],
        env={**_bytecode_env(), "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True,
    )  # fmt: skip


def spawn(url: str, processes: int, logdir: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **_bytecode_env(),
        "DIALER_DATABASE_URL": url,
        "DIALER_SIM_SPEEDUP": "0",
        "DIALER_WORKER_CONCURRENCY": "200",
        "DIALER_CLAIM_BATCH_SIZE": "200",
        "DIALER_POLL_INTERVAL": "PT0.05S",
        "DIALER_LOG_LEVEL": "WARNING",
        "DIALER_WORKER_NICE": "0",  # the same CPU priority as procrastinate's workers
    }
    env.pop("DIALER_CLOCK_FILE", None)
    procs = []
    for i in range(processes):
        log = open(logdir / f"worker-{i}.log", "wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dialer.worker"], env=env, cwd=ROOT, stdout=log, stderr=log
            )
        )
    return procs


def _psql_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def server_cpu(url: str) -> float | None:
    """CPU seconds used so far by a local PostgreSQL server: the postmaster, the backends
    it has reaped and the ones alive now (None when the server is not on this machine)."""
    if not url.startswith("postgresql"):
        return None
    try:
        # The checkpointer lives as long as the server; its parent is the postmaster.
        helper = subprocess.run(
            ["psql", _psql_dsn(url), "-tAc",
             "select pid from pg_stat_activity where backend_type = 'checkpointer'"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        postmaster = Path(f"/proc/{helper}/stat").read_text().rsplit(")", 1)[1].split()[1]
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            pid = stat.parent.name
            if pid == postmaster:
                total += sum(int(f) for f in fields[11:15])  # self + reaped children
            elif fields[1] == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, subprocess.CalledProcessError, IndexError, ValueError):
        return None


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cpu_note(n: int, workers: float, server: float | None) -> str:
    note = f"CPU per job: workers {workers / n * 1000:.2f} ms"
    if server is not None:
        note += f", PostgreSQL {server / n * 1000:.2f} ms"
    return note


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(60)


async def run_dialer(url: str, n: int, processes: int, label: str) -> float:
    db, batch = await prepare(url, n)
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, pg0 = children_cpu(), server_cpu(url)
        t0 = time.perf_counter()
        procs = spawn(url, processes, Path(tmp))
        try:
            while (await batch_row(db, batch)).pending_jobs:
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - t0
            pg1 = server_cpu(url)
        finally:
            stop(procs)
        workers = children_cpu() - cpu0
    b = await batch_row(db, batch)
    await db.dispose()
    rate = n / elapsed
    print(
        f"dialer   {label:<28} {n:>7} calls in {elapsed:6.1f}s = {rate:7.0f} jobs/s "
        f"(completed {b.completed_jobs}, failed {b.failed_jobs}, attempts {b.attempts_made}); "
        + cpu_note(n, workers, pg1 - pg0 if pg0 is not None and pg1 is not None else None)
    )
    return rate


async def run_procrastinate(url: str, n: int, processes: int) -> float:
    dsn_base = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]
    subprocess.run(
        ["psql", f"{dsn_base}/postgres", "-qc", "drop database if exists dev_worker_bench_proc"],
        capture_output=True,
    )
    subprocess.run(
        ["psql", f"{dsn_base}/postgres", "-qc", "create database dev_worker_bench_proc"],
        check=True,
        capture_output=True,
    )
    dsn = f"{dsn_base}/dev_worker_bench_proc"
    os.environ["PROC_DSN"] = dsn
    from bench.proc_tasks import app, noop

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for i in range(0, n, 5000):
            await noop.batch_defer_async(*({} for _ in range(min(5000, n - i))))
    env = {**_bytecode_env(), "PROC_DSN": dsn, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, pg0 = children_cpu(), server_cpu(url)
        t0 = time.perf_counter()
        procs = []
        for i in range(processes):
            log = open(Path(tmp) / f"proc-{i}.log", "wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "procrastinate", "--app=bench.proc_tasks.app", "worker", "--concurrency=10"],
                    env=env, cwd=ROOT, stdout=log, stderr=log,
                )
            )  # fmt: skip
        try:
            while True:
                out = subprocess.run(
                    ["psql", dsn, "-tAc", "select count(*) from procrastinate_jobs where status in ('todo','doing')"],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
                if out == "0":
                    break
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - t0
            pg1 = server_cpu(url)
        finally:
            stop(procs)
        # psql polls are children too: a few ms each, small next to the workers.
        workers = children_cpu() - cpu0
    rate = n / elapsed
    print(
        f"procrastinate no-op, PostgreSQL, {processes} processes {n:>7} jobs  in {elapsed:6.1f}s = {rate:7.0f} jobs/s; "
        + cpu_note(n, workers, pg1 - pg0 if pg0 is not None and pg1 is not None else None)
    )
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    warm_bytecode()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            await run_dialer(f"sqlite+aiosqlite:///{tmp}/bench.db", args.n, 1, "SQLite, 1 process")
    url = pg_url()
    ours = await run_dialer(url, args.n, args.processes, f"PostgreSQL, {args.processes} processes")
    theirs = await run_procrastinate(url, args.n, args.processes)
    print(
        f"ratio dialer / procrastinate (PostgreSQL, {args.processes} processes): {ours / theirs:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
