"""Spreadsheet ingestion benchmark: a 100,000-row Chilean .xlsx (the demo's shape) and a
100,000-row real portfolio export (45 columns, one row per instalment, ~10 % of the
debtors with 2-5 instalments, consolidated into one job per debtor).

Prints the time to read the file with python-calamine alone (the floor), then preview
and create (parse, validate, dedupe, insert) on SQLite and on PostgreSQL, each as a
ratio to the raw read, with peak memory. Each measurement runs in its own subprocess so
peak memory is per operation: "PSS MB" is the peak of the summed proportional set size
of that process and the reader process it forks, sampled every 20 ms from outside
(/proc/<pid>/smaps_rollup: a page the two share counts once); "maxrss MB" is the RSS
peak of the process plus that of the reader (ru_maxrss, an upper bound: the forked
reader's peak also counts the parent's pages it shares). Each figure is the median of
--repeat runs.
"CPU s" is the CPU time the operation used, its reader process included: on a shared
machine the seconds depend on the other load, the CPU time much less.

    uv run --frozen python -m bench.ingest_bench [--rows 100000] [--repeat 3]
    uv run --frozen python -m bench.ingest_bench --quick     # 20,000 rows, one run
    uv run --frozen python -m bench.ingest_bench --shape export   # only the real export
    ... --shape export --export-file /tmp/export.xlsx   # that file, kept from a run before
    ... --shape sample --sample-file /tmp/cartera.xlsx  # the same for the 8-column file
    DIALER_BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:54329/bench_ingest ...

Without DIALER_BENCH_PG_URL, PostgreSQL is started with scripts/pg.sh when available.
Targets: create within 3x the raw read on SQLite; peak memory (PSS) under 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers) / 1024


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its reaped children (the reader)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def child_read(path: Path) -> dict[str, float]:
    import python_calamine

    cpu = _cpu()
    start = time.perf_counter()
    with path.open("rb") as f:
        workbook = python_calamine.CalamineWorkbook.from_filelike(f)
        # The first sheet with data, as the importer reads (an export's first may be empty).
        for name in workbook.sheet_names:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.height > 0:
                break
        n = sum(1 for _ in sheet.iter_rows())
    return {
        "seconds": time.perf_counter() - start,
        "cpu": _cpu() - cpu,
        "rows": n,
        "peak_mb": _peak_mb(),
    }


async def _setup(url: str) -> str:
    from dialer.config import Settings
    from dialer.db.migrate import migrate_database
    from dialer.db.session import Database
    from dialer.kit import ids
    from dialer.models import Account, PlanType

    await asyncio.to_thread(migrate_database, Settings(DATABASE_URL=url))
    db = Database(url)
    account_id = ids.account_id()
    async with db.write() as s:
        s.add(
            Account(
                id=account_id,
                account_name="bench",
                country="CL",
                timezone="America/Santiago",
                plan_type=PlanType.MINUTES_BASED,
            )
        )
    await db.dispose()
    return account_id


async def _op(url: str, account_id: str, path: Path, op: str) -> dict[str, float]:
    from dialer.account.auth import Principal
    from dialer.db.session import Database
    from dialer.ingestion import service
    from dialer.ingestion.schemas import ImportOptions

    db = Database(url)
    options = ImportOptions(account_id=account_id, batch_name="bench")
    admin = Principal(is_admin=True)
    try:
        cpu = _cpu()
        start = time.perf_counter()
        async with db.write() as session:
            if op == "preview":
                report = await service.preview_import(session, admin, options, path)
            else:
                report = await service.create_import(session, admin, options, path)
        elapsed = time.perf_counter() - start
        cpu = _cpu() - cpu
    finally:
        await db.dispose()
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "accepted": report.counts.accepted,
        "peak_mb": _peak_mb(),
    }


def child(mode: str, path: Path, url: str | None) -> None:
    if mode == "read":
        result = child_read(path)
    elif mode == "setup":
        assert url
        result = {"account_id": asyncio.run(_setup(url))}  # type: ignore[dict-item]
    else:
        assert url
        account_id = os.environ["BENCH_ACCOUNT"]
        result = asyncio.run(_op(url, account_id, path, mode))
    sys.stdout.write(json.dumps(result) + "\n")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the reader process the operation forks)."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*"):
            try:
                pids += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        i += 1
    return pids


def _rollup(pid: int) -> tuple[int, int]:
    """(Rss, Pss) of a process in kB, from /proc/<pid>/smaps_rollup; (0, 0) once gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_child(mode: str, path: Path, url: str | None, account: str = "") -> dict[str, float]:
    """Run one measurement in a subprocess; while it runs, sample the memory of its process
    tree from here (outside the measured processes) every 20 ms.

    ``pss_mb`` is the peak of the tree's summed PSS: a page shared by the operation and
    its forked reader counts once (split between them), so the sum is the memory the
    operation really occupies. ``peak_mb`` (ru_maxrss of the process plus that of its
    largest child) counts every shared page twice and is an upper bound.
    """
    env = dict(os.environ, BENCH_ACCOUNT=account, DIALER_LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "bench.ingest_bench", "--child", mode, "--file", str(path)]
    if url:
        cmd += ["--url", url]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak_pss = peak_rss = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_pss, peak_rss
        while not stop.wait(0.02):
            figures = [_rollup(p) for p in _tree(proc.pid)]
            peak_rss = max(peak_rss, sum(r for r, _ in figures))
            peak_pss = max(peak_pss, sum(p for _, p in figures))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["pss_mb"] = peak_pss / 1024
    result["rss_sampled_mb"] = peak_rss / 1024
    return result


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time (its own memory figure, not a mix of runs)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def _pg_url() -> str | None:
    url = os.environ.get("DIALER_BENCH_PG_URL")
    if url:
        return url
    script = ROOT / "scripts" / "pg.sh"
    try:
        out = subprocess.run([str(script), "start"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, one run")
    parser.add_argument("--child")
    parser.add_argument("--file")
    parser.add_argument("--url")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--shape", choices=("sample", "export", "both"), default="both")
    parser.add_argument(
        "--export-file", help="an export written by an earlier run (generating takes ~20 s)"
    )
    parser.add_argument("--sample-file", help="a sample file written by an earlier run")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.file), args.url)
        return
    if args.quick:
        args.rows, args.repeat = 20_000, 1

    from dialer.ingestion.samples import write_real_export_chile, write_sample_chile

    work = Path(tempfile.mkdtemp(prefix="dialer-bench-"))
    files: list[tuple[str, Path]] = []
    if args.shape in ("sample", "both") and args.sample_file:
        files.append(("sample", Path(args.sample_file)))
    elif args.shape in ("sample", "both"):
        path = work / f"cartera_{args.rows}.xlsx"
        t = time.perf_counter()
        write_sample_chile(path, rows=args.rows, with_errors=True)
        print(f"generated {path.name}: {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB "
              f"in {time.perf_counter() - t:.1f}s")  # fmt: skip
        files.append(("sample", path))
    if args.shape in ("export", "both") and args.export_file:
        files.append(("export", Path(args.export_file)))
    elif args.shape in ("export", "both"):
        # The real export shape: 45 columns, one row per instalment, ~10 % of the debtors
        # with 2-5 instalments (3.5 on average), so rows = 1.25 x debtors.
        path = work / f"export_{args.rows}.xlsx"
        t = time.perf_counter()
        expected = write_real_export_chile(path, debtors=round(args.rows / 1.25))
        n_rows = sum(int(d["cuotas"]) for d in expected)  # type: ignore[call-overload]
        print(f"generated {path}: {n_rows} rows (45 columns), {len(expected)} debtors, "
              f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f}s")  # fmt: skip
        files.append(("export", path))

    print(f"load average {os.getloadavg()} on {os.cpu_count()} cores (uptime)")
    targets: list[tuple[str, str]] = [("sqlite", f"sqlite+aiosqlite:///{work / 'bench.db'}")]
    if not args.no_pg:
        pg = _pg_url()
        if pg:
            targets.append(("postgresql", pg))
        else:
            print("(PostgreSQL unavailable: set DIALER_BENCH_PG_URL)")
    ratios: dict[str, float] = {}
    peak = peak_pss = 0.0
    for shape, path in files:
        raw = _median([run_child("read", path, None) for _ in range(args.repeat)])
        peak = max(peak, raw["peak_mb"])
        peak_pss = max(peak_pss, raw["pss_mb"])
        print(
            f"\n{shape} file, median of {args.repeat} run(s); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(
            f"{'operation':<22}{'seconds':>9}{'x raw read':>12}{'CPU s':>8}{'PSS MB':>8}"
            f"{'maxrss MB':>11}{'jobs':>9}"
        )
        print(f"{'calamine read (floor)':<22}{raw['seconds']:>9.2f}{1:>12.2f}{raw['cpu']:>8.2f}"
              f"{raw['pss_mb']:>8.0f}{raw['peak_mb']:>11.0f}{'':>9}")  # fmt: skip
        for name, url in targets:
            for op in ("preview", "create"):
                runs = []
                for _ in range(args.repeat):
                    # A fresh account each run: create's jobs would be duplicates for the next.
                    account = str(run_child("setup", path, url)["account_id"])
                    res = run_child(op, path, url, account)
                    # The floor measured again right after, and the ratio taken within the
                    # pair: on a shared machine a change of load then moves both.
                    res["ratio"] = res["seconds"] / run_child("read", path, None)["seconds"]
                    runs.append(res)
                res = _median(runs)
                ratio = sorted(r["ratio"] for r in runs)[len(runs) // 2]
                ratios[f"{shape}.{name}.{op}"] = ratio
                peak = max(peak, res["peak_mb"])
                peak_pss = max(peak_pss, res["pss_mb"])
                label = f"{op} ({name})"
                print(f"{label:<22}{res['seconds']:>9.2f}{ratio:>12.2f}{res['cpu']:>8.2f}"
                      f"{res['pss_mb']:>8.0f}{res['peak_mb']:>11.0f}"
                      f"{int(res['accepted']):>9}")  # fmt: skip
    creates = {k: v for k, v in ratios.items() if k.endswith("sqlite.create")}
    ok_time = all(v <= 3.0 for v in creates.values())
    ok_mem = peak_pss < 400
    print(f"\ntarget create(sqlite) <= 3x raw read: {'OK' if ok_time else 'MISSED'} "
          f"({', '.join(f'{k}: {v:.2f}x' for k, v in creates.items())}); "
          f"peak memory (summed PSS) < 400 MB: {'OK' if ok_mem else 'MISSED'} "
          f"({peak_pss:.0f} MB; ru_maxrss sum, shared pages twice: {peak:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
