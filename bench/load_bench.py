"""Load benchmark: polling and dashboard latency while 4 workers dispatch, 1,000,000 jobs
vs 1,000 jobs, through a live uvicorn server.

For each database (SQLite file, PostgreSQL) and each size, one phase:

* a database with ``--batches`` batches (spread over ``--accounts`` accounts) holding
  ``--jobs`` pending jobs (the small phase: ``--small-jobs``, same batches and accounts);
* a live API server (``uvicorn dialer.main:create_app``) on 127.0.0.1 and ``--workers``
  dispatcher processes (``python -m dialer.worker``, simulated carrier at ``--speedup``);
* one poller per batch: ``GET /api/v1/batches/{id}/status`` every ``--poll`` seconds with
  its account's key; one dashboard client per account: ``GET /api/v1/dashboard/overview``
  every second; ``--sse`` subscribers on ``GET /api/v1/batches/{id}/events``;
* ``--seconds`` of measurement after a short warm-up; everything stops by itself.

It prints p50/p99 client-side latency of both endpoints per phase and the ratio
large / small in the same run. Targets: p99 < 25 ms, ratio < 1.5.

    uv run --frozen python -m bench.load_bench                       # 1,000,000 jobs, both DBs
    uv run --frozen python -m bench.load_bench --jobs 100000 --seconds 30   # quick run
    DIALER_BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:54329/postgres ...

The large database is built once per dialect and kept (``--cache``: a SQLite file, a
PostgreSQL template database); each run works on a fresh copy. Without
DIALER_BENCH_PG_URL a throw-away cluster is started with ``scripts/pg.sh start 54410``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "bench-admin-key-load"
ALWAYS_OPEN: dict[str, Any] = {
    "allowed_call_hours": {"start": "00:00", "end": "24:00"},
    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "timezone": "America/Santiago",
    # Retries at once, many of them: with the mostly-unanswered MIX below the 1,000 jobs
    # of the small database keep the workers as busy for the whole phase as the large
    # one does (with 3 attempts and the default mix they ran out in ~15 s on PostgreSQL,
    # so the ratio compared a busy machine with an idle one, not two database sizes).
    "retry_settings": {
        "max_attempts": 50,
        "retry_delay_hours": 0,
        "per_outcome": {k: {"delay_hours": 0} for k in ("no_answer", "busy", "voicemail")},
    },
    # No callback or promise follow-up parks a job (on by default since 2026-12-01): the
    # work per phase stays the retry loop above, as in the figures measured before.
    "collections": {"callbacks": False, "broken_promise": {"follow_up": False}},
}
# The simulated outcomes, the same in both phases: about 20 attempts per job.
MIX = {"completed": 0.05, "no_answer": 0.6, "busy": 0.2, "voicemail": 0.15}
TEMPLATE_VERSION = 3  # part of the cached databases' names: bump when the seed changes


# -- building the databases ----------------------------------------------------------------


async def _seed(url: str, *, jobs: int, batches: int, accounts: int) -> dict[str, Any]:
    """Accounts (with keys and balance), batches and pending jobs; returns the keys/ids."""
    from dialer.account import service as account_service
    from dialer.account.auth import Principal
    from dialer.account.schemas import AccountCreate
    from dialer.batch import service as batch_service
    from dialer.batch.schemas import BatchCreate
    from dialer.batch.settings import CallSettings
    from dialer.billing.service import topup
    from dialer.db.session import Database
    from dialer.job.schemas import NewJob
    from dialer.job.service import insert_jobs

    db = Database(url)
    admin = Principal(is_admin=True)
    keys: dict[str, str] = {}
    batch_ids: list[tuple[str, str]] = []
    now = datetime.now(UTC)
    settings = CallSettings.model_validate(ALWAYS_OPEN)
    per_batch = [jobs // batches + (1 if i < jobs % batches else 0) for i in range(batches)]
    started = time.perf_counter()
    n = 0
    try:
        for a in range(accounts):
            async with db.write() as s:
                account, key = await account_service.create_account(
                    s,
                    AccountCreate(
                        account_name=f"Cobranzas {a}", country="CL", max_concurrent_calls=50
                    ),
                )
                await topup(s, account.id, 60 * 1_000_000, key=f"bench-topup:{account.id}")
                keys[account.id] = key
        account_ids = list(keys)
        for b, size in enumerate(per_batch):
            account_id = account_ids[b % accounts]
            async with db.write() as s:
                batch, _ = await batch_service.create_batch(
                    s,
                    admin,
                    BatchCreate(account_id=account_id, name=f"Cartera {b}", call_settings=settings),
                )
                # The same bulk path the spreadsheet import and the API use.
                await insert_jobs(
                    s,
                    batch,
                    (
                        NewJob(
                            contact_name=f"Cliente {n + i}",
                            dni=f"{10_000_000 + n + i}",
                            phones=[f"+569{(n + i) % 100_000_000:08d}"],
                            payload={
                                "monto": 10_000 + (n + i) % 900_000,
                                "fecha_limite": "2026-12-31",
                            },
                            row_number=i + 2,
                        )
                        for i in range(size)
                    ),
                    now=now,
                )
                batch_ids.append((batch.id, account_id))
            n += size
            if b % 20 == 19:
                rate = n / (time.perf_counter() - started)
                print(f"    {n:>9,} jobs in {b + 1} batches ({rate:,.0f} jobs/s)", flush=True)
    finally:
        await db.dispose()
    return {"keys": keys, "batches": batch_ids, "jobs": jobs}


def _migrate(url: str) -> None:
    from dialer.config import Settings
    from dialer.db.migrate import migrate_database

    migrate_database(Settings(DATABASE_URL=url))


async def _analyze(url: str) -> None:
    from sqlalchemy import text

    from dialer.db.engine import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT") if "postgresql" in url else None
    if engine is None:
        import sqlite3

        path = url.split("///", 1)[1]
        con = sqlite3.connect(path)
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        return
    async with engine.connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()


@dataclass
class Target:
    """One database to measure: where its cached template lives and how to copy it."""

    dialect: str
    template: str  # sqlite: file path; postgresql: database name
    server: str = ""  # postgresql: URL of the server's maintenance database
    meta: Path = field(default_factory=Path)

    def url_of(self, name_or_path: str) -> str:
        if self.dialect == "sqlite":
            return f"sqlite+aiosqlite:///{name_or_path}"
        return self.server.rsplit("/", 1)[0] + "/" + name_or_path


async def _pg_exec(server: str, sql: str) -> None:
    from sqlalchemy import text

    from dialer.db.engine import create_engine

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _pg_exists(server: str, name: str) -> bool:
    from sqlalchemy import text

    from dialer.db.engine import create_engine

    engine = create_engine(server)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
            ).first()
    finally:
        await engine.dispose()
    return row is not None


def ensure_template(t: Target, *, jobs: int, batches: int, accounts: int) -> dict[str, Any]:
    """Build the template database once; later runs reuse it (keys kept beside it)."""
    if t.meta.exists():
        meta = json.loads(t.meta.read_text())
        present = (
            Path(t.template).exists()
            if t.dialect == "sqlite"
            else asyncio.run(_pg_exists(t.server, t.template))
        )
        if present:
            return meta  # type: ignore[no-any-return]
    print(f"  building the {jobs:,}-job {t.dialect} database (once; cached for later runs)")
    started = time.perf_counter()
    if t.dialect == "sqlite":
        Path(t.template).unlink(missing_ok=True)
    else:
        asyncio.run(_pg_exec(t.server, f'DROP DATABASE IF EXISTS "{t.template}"'))
        asyncio.run(_pg_exec(t.server, f'CREATE DATABASE "{t.template}"'))
    url = t.url_of(t.template)
    _migrate(url)
    meta = asyncio.run(_seed(url, jobs=jobs, batches=batches, accounts=accounts))
    asyncio.run(_analyze(url))
    t.meta.write_text(json.dumps(meta))
    print(f"  built in {time.perf_counter() - started:.0f} s")
    return meta


def fresh_copy(t: Target, work: Path, label: str) -> str:
    """A throw-away copy of the template for one phase; returns its URL."""
    if t.dialect == "sqlite":
        path = work / f"{label}.db"
        shutil.copyfile(t.template, path)
        return t.url_of(str(path))
    name = f"{t.template}_run"
    asyncio.run(_pg_exec(t.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg_exec(t.server, f'CREATE DATABASE "{name}" TEMPLATE "{t.template}"'))
    return t.url_of(name)


def drop_copy(t: Target, url: str) -> None:
    if t.dialect == "postgresql":
        name = url.rsplit("/", 1)[1]
        asyncio.run(_pg_exec(t.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, work: Path, **extra: Any) -> dict[str, str]:
    env = {
        **os.environ,
        "DIALER_DATABASE_URL": url,
        "DIALER_ADMIN_API_KEY": ADMIN_KEY,
        "DIALER_LOG_LEVEL": "WARNING",
        "DIALER_DATA_DIR": str(work / "data"),
        # The bench measures latency, not the limiter: 200 pollers share few keys.
        "DIALER_STATUS_RATE_LIMIT": "1000000/minute",
    }
    env.update({f"DIALER_{k}": str(v) for k, v in extra.items()})
    return env


@dataclass
class Phase:
    label: str
    status: list[float] = field(default_factory=list)
    overview: list[float] = field(default_factory=list)
    errors: int = 0
    sse_events: int = 0
    calls: int = 0
    # Server-side latency (the API's own histogram, measured window only), by endpoint.
    server: dict[str, tuple[float, float]] = field(default_factory=dict)
    # CPU used during the measured window, in cores (1.0 = one core busy), by process.
    cpu: dict[str, float] = field(default_factory=dict)


STATUS_ROUTE = "/api/v1/batches/{batch_id}/status"
OVERVIEW_ROUTE = "/api/v1/dashboard/overview"


def _buckets(metrics: str, route: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of the API's request-latency histogram."""
    out = []
    for line in metrics.splitlines():
        if not line.startswith("dialer_http_request_duration_seconds_bucket{"):
            continue
        labels, _, value = line.partition("} ")
        if f'route="{route}"' not in labels:
            continue
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        out.append((float("inf") if le == "+Inf" else float(le), float(value)))
    return sorted(out)


def hist_quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float:
    """Prometheus-style quantile (linear within the bucket) of the window's requests, ms."""
    base = dict(before)
    counts = [(le, n - base.get(le, 0.0)) for le, n in after]
    if not counts or counts[-1][1] <= 0:
        return float("nan")
    rank = q * counts[-1][1]
    lower, below = 0.0, 0.0
    for le, n in counts:
        if n >= rank:
            if le == float("inf"):
                return lower * 1000
            return (lower + (le - lower) * (rank - below) / max(n - below, 1e-9)) * 1000
        lower, below = le, n
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy so far, any process (Linux /proc)."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def _poll(
    client: httpx.AsyncClient,
    path: str,
    key: str,
    every: float,
    sink: list[float],
    phase: Phase,
    measuring: asyncio.Event,
    stop: asyncio.Event,
    offset: float,
) -> None:
    await asyncio.sleep(offset)  # spread the clients over the period, as real ones are
    headers = {"Authorization": f"Bearer {key}"}
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            r = await client.get(path, headers=headers)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        dt = (time.perf_counter() - t0) * 1000
        if measuring.is_set():
            if ok:
                sink.append(dt)
            else:
                phase.errors += 1
        next_at += every
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_at - loop.time()))


async def _subscribe(base: str, batch_id: str, key: str, counts: list[int]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"/api/v1/batches/{batch_id}/events", headers=headers) as r,
    ):
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                counts[0] += 1


def _sse_process(base: str, targets: list[tuple[str, str]], seconds: float, out: Any) -> None:
    """The SSE subscribers, in a process of their own (real subscribers are other
    machines): reading thousands of events a second in the pollers' event loop would
    delay the pollers' own timing. Sends the number of events received when done."""
    counts = [0]

    async def run() -> None:
        tasks = [asyncio.create_task(_subscribe(base, b, key, counts)) for b, key in targets]
        await asyncio.sleep(seconds)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())
    out.send(counts[0])


async def _drive(
    base: str,
    meta: dict[str, Any],
    args: argparse.Namespace,
    phase: Phase,
    pids: dict[str, list[int]],
) -> None:
    stop, measuring = asyncio.Event(), asyncio.Event()
    keys: dict[str, str] = meta["keys"]
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        tasks = [
            asyncio.create_task(
                _poll(
                    client,
                    f"/api/v1/batches/{b}/status",
                    keys[acc],
                    args.poll,
                    phase.status,
                    phase,
                    measuring,
                    stop,
                    offset=args.poll * i / len(meta["batches"]),
                )
            )
            for i, (b, acc) in enumerate(meta["batches"])
        ]
        tasks += [
            asyncio.create_task(
                _poll(
                    client,
                    f"/api/v1/dashboard/overview?account_id={acc}",
                    key,
                    1.0,
                    phase.overview,
                    phase,
                    measuring,
                    stop,
                    offset=i / len(keys),
                )
            )
            for i, (acc, key) in enumerate(keys.items())
        ]
        ctx = multiprocessing.get_context("spawn")
        sse_count, sse_out = ctx.Pipe(duplex=False)
        sse = ctx.Process(
            target=_sse_process,
            args=(
                base,
                [(b, keys[acc]) for b, acc in meta["batches"][: args.sse]],
                args.warmup + args.seconds,
                sse_out,
            ),
        )
        sse.start()
        pids["sse client"] = [sse.pid or 0]
        await asyncio.sleep(args.warmup)

        def cpu_now() -> dict[str, float]:
            now = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
            return {**now, "machine": machine_busy_seconds()}

        metrics_before = (await client.get("/metrics")).text
        cpu_before, wall = cpu_now(), time.perf_counter()
        # The client's own collector pauses would be counted as server latency: keep
        # it off while measuring (a minute of garbage is a few MB).
        gc.collect()
        gc.disable()
        measuring.set()
        try:
            await asyncio.sleep(args.seconds)
        finally:
            gc.enable()
        stop.set()
        cpu_after, wall = cpu_now(), time.perf_counter() - wall
        metrics_after = (await client.get("/metrics")).text
        phase.cpu = {k: (cpu_after[k] - cpu_before[k]) / wall for k in cpu_after}
        for route in (STATUS_ROUTE, OVERVIEW_ROUTE):
            b, a = _buckets(metrics_before, route), _buckets(metrics_after, route)
            phase.server[route] = (hist_quantile(b, a, 0.5), hist_quantile(b, a, 0.99))
        await asyncio.gather(*tasks)
        if await asyncio.to_thread(sse_count.poll, 30):
            phase.sse_events = sse_count.recv()
        sse.join(10)
        if sse.is_alive():
            sse.kill()


async def _count_calls(url: str) -> int:
    from sqlalchemy import func, select

    from dialer.db.session import Database
    from dialer.models import CallAttempt

    db = Database(url)
    try:
        async with db.read() as s:
            return int(
                (await s.execute(select(func.count()).select_from(CallAttempt))).scalar_one()
            )
    finally:
        await db.dispose()


def run_phase(url: str, meta: dict[str, Any], args: argparse.Namespace, label: str) -> Phase:
    work = Path(tempfile.mkdtemp(prefix="dialer-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = open(work / "processes.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "dialer.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=_env(url, work), stdout=logs, stderr=logs,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "dialer.worker"],
            cwd=ROOT,
            env=_env(
                url,
                work,
                SIM_SPEEDUP=args.speedup,
                SIM_OUTCOMES=json.dumps(MIX),
                WORKER_CONCURRENCY=args.concurrency,
                POLL_INTERVAL="PT0.25S",
            ),
            stdout=logs,
            stderr=logs,
        )
        for _ in range(args.workers)
    ]
    phase = Phase(label)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"API server did not start; see {work / 'processes.log'}")
            time.sleep(0.2)
        pids = {
            "api": [server.pid],
            "workers": [w.pid for w in workers],
            "bench client": [os.getpid()],
        }
        asyncio.run(_drive(base, meta, args, phase, pids))
    finally:
        for p in [server, *workers]:
            p.terminate()
        for p in [server, *workers]:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        logs.close()
    phase.calls = asyncio.run(_count_calls(url))
    shutil.rmtree(work, ignore_errors=True)
    return phase


# -- report ---------------------------------------------------------------------------------


def pct(samples: list[float], p: int) -> float:
    if len(samples) < 2:
        return float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def report(dialect: str, small: Phase, large: Phase, args: argparse.Namespace) -> list[str]:
    lines = [f"\n== {dialect}: {args.workers} workers, {args.batches} "
             f"batches polled every {args.poll:g} s, {args.sse} SSE subscribers, "
             f"{args.seconds:g} s measured =="]  # fmt: skip
    lines.append(
        f"  {'endpoint':<22}{'jobs':>11}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}"
        f"{'errors':>8}{'calls':>8}{'sse ev':>8}{'server p50':>12}{'server p99':>12}"
    )
    verdicts = []
    routes = {"status": STATUS_ROUTE, "overview": OVERVIEW_ROUTE}
    for name, attr in (("/status", "status"), ("/dashboard/overview", "overview")):
        for ph in (small, large):
            s = getattr(ph, attr)
            sp50, sp99 = ph.server.get(routes[attr], (float("nan"), float("nan")))
            lines.append(
                f"  {name:<22}{ph.label:>11}{pct(s, 50):>9.2f}{pct(s, 99):>9.2f}{len(s):>10}"
                f"{ph.errors:>8}{ph.calls:>8}{ph.sse_events:>8}{sp50:>12.2f}{sp99:>12.2f}"
            )
        p50 = pct(getattr(large, attr), 50) / pct(getattr(small, attr), 50)
        p99 = pct(getattr(large, attr), 99) / pct(getattr(small, attr), 99)
        ok = pct(getattr(large, attr), 99) < 25 and p99 < 1.5
        lines.append(f"  {name:<22}{'ratio':>11}{p50:>9.2f}{p99:>9.2f}")
        verdicts.append(f"{name}: p99 {pct(getattr(large, attr), 99):.1f} ms, "
                        f"ratio p99 {p99:.2f} -> {'OK' if ok else 'MISSED'}")  # fmt: skip
    for ph in (small, large):
        used = ", ".join(f"{k} {v:.2f}" for k, v in ph.cpu.items())
        lines.append(f"  CPU in cores, {ph.label} jobs (of {os.cpu_count()}): {used}")
    lines.append("  (server p50/p99: the API's own histogram, interpolated within its buckets)")
    lines.append("  target p99 < 25 ms and ratio < 1.5: " + "; ".join(verdicts))
    return lines


def pg_server() -> str | None:
    url = os.environ.get("DIALER_BENCH_PG_URL")
    if url:
        return url
    try:
        out = subprocess.run(
            [str(ROOT / "scripts" / "pg.sh"), "start", "54410"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--small-jobs", type=int, default=1_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between /status polls")
    parser.add_argument("--sse", type=int, default=20, help="SSE subscribers")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=20, help="calls per worker")
    parser.add_argument("--speedup", type=float, default=50, help="SIM_SPEEDUP of the workers")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dialer-load")
    parser.add_argument("--prefix", default="dialer_load", help="PostgreSQL database names")
    args = parser.parse_args()
    os.environ.setdefault("DIALER_LOG_LEVEL", "WARNING")
    from dialer import logging as dlog

    dlog.configure("WARNING", json=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    dialects = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    out: list[str] = []
    for dialect in dialects:
        server = ""
        if dialect == "postgresql":
            server = pg_server() or ""
            if not server:
                out.append("\n(PostgreSQL unavailable: set DIALER_BENCH_PG_URL)")
                continue
        phases = []
        for size in (args.small_jobs, args.jobs):
            name = f"{args.prefix}_v{TEMPLATE_VERSION}_{size}_{args.batches}_{args.accounts}"
            t = Target(
                dialect=dialect,
                template=str(args.cache / f"{name}.db") if dialect == "sqlite" else name,
                server=server,
                meta=args.cache
                / f"{name}.{dialect}.{server.rsplit('@', 1)[-1].replace('/', '_')}.json",
            )
            print(f"\n[{dialect}] {size:,} jobs in {args.batches} batches")
            meta = ensure_template(t, jobs=size, batches=args.batches, accounts=args.accounts)
            url = fresh_copy(t, args.cache, f"{name}_run")
            try:
                ph = run_phase(url, meta, args, f"{size:,}")
            finally:
                drop_copy(t, url)
                if dialect == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
            print(f"  {len(ph.status)} /status and {len(ph.overview)} overview samples, "
                  f"{ph.calls} calls placed, {ph.sse_events} SSE events")  # fmt: skip
            phases.append(ph)
        lines = report(dialect, phases[0], phases[1], args)
        print("\n".join(lines), flush=True)
        out += lines
    print("\n== summary ==" + "\n".join(out))


if __name__ == "__main__":
    main()
