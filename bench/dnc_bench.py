"""Do-not-call benchmark: importing an Argentine "No Llame" export and checking numbers
at dial time against a large list.

Prints, per database: the time to parse and normalise the file alone (the floor), the
full import (parse, dedupe against the list, insert), a second import of the same file
(every row a duplicate), each as a ratio to the floor, and the cost of the dial-time
check for one claim's worth of phones (50) against the whole list.

    uv run --frozen python -m bench.dnc_bench [--rows 200000]
    DIALER_BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:54329/bench_dnc ...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path


def make_file(rows: int, path: Path) -> None:
    rng = random.Random(26951)
    areas = ["11", "221", "341", "351", "261", "381"]
    with path.open("w") as f:
        for _ in range(rows):
            area = rng.choice(areas)
            f.write(f"{area}{rng.randrange(10 ** (9 - len(area)), 10 ** (10 - len(area)))}\n")


def parse_floor(data: bytes) -> tuple[float, int]:
    from dialer.compliance import dnc_import

    start = time.perf_counter()
    ok = sum(
        1
        for cell in dnc_import.phone_cells(data, "no_llame.txt")
        if dnc_import.normalise_phone(cell.value, "AR")
    )
    return time.perf_counter() - start, ok


async def run(url: str, data: bytes) -> dict[str, float]:
    from dialer.account.auth import Principal
    from dialer.compliance import service
    from dialer.config import Settings
    from dialer.db.migrate import migrate_database
    from dialer.db.session import Database
    from dialer.kit import ids
    from dialer.models import Account, PlanType

    await asyncio.to_thread(migrate_database, Settings(DATABASE_URL=url, ENV="test"))
    db = Database(url)
    account_id = ids.account_id()
    async with db.write() as s:
        s.add(
            Account(
                id=account_id, account_name="bench", country="AR",
                timezone="America/Argentina/Buenos_Aires", plan_type=PlanType.MINUTES_BASED,
            )
        )  # fmt: skip
    admin = Principal(is_admin=True)
    out: dict[str, float] = {}
    for label in ("import", "reimport"):
        start = time.perf_counter()
        result = await service.import_file(
            db, admin, account_id, data=data, filename="no_llame.txt",
            country=None, source="no_llame", reason=None,
        )  # fmt: skip
        out[label] = time.perf_counter() - start
        out[f"{label}_added"] = result.added
    phones = [f"+54911{n:08d}" for n in range(50)]
    start = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        async with db.read() as s:
            await service.listed_phones(s, account_id, phones)
    out["dial_check_ms"] = (time.perf_counter() - start) / rounds * 1000
    await db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "no_llame.txt"
        make_file(args.rows, path)
        data = path.read_bytes()
        floor, ok = parse_floor(data)
        print(f"rows: {args.rows}  readable: {ok}  file: {len(data) / 1e6:.1f} MB")
        print(f"parse+normalise (floor): {floor:.2f} s")
        targets = {"sqlite": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"}
        if os.environ.get("DIALER_BENCH_PG_URL"):
            targets["postgresql"] = os.environ["DIALER_BENCH_PG_URL"]
        for name, url in targets.items():
            r = asyncio.run(run(url, data))
            print(
                f"{name:10s} import {r['import']:.2f} s ({r['import'] / floor:.1f}x floor, "
                f"{int(r['import_added'])} added)  re-import {r['reimport']:.2f} s "
                f"({r['reimport'] / floor:.1f}x, {int(r['reimport_added'])} added)  "
                f"dial-time check of 50 phones: {r['dial_check_ms']:.2f} ms"
            )


if __name__ == "__main__":
    main()
