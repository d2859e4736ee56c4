"""A preview writes nothing, so it runs on a read session: on SQLite, where a write
transaction holds the database's only write lock, a preview of a large file must not
make the dispatcher's claims wait for its parse."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.worker.claim import claim_due_jobs
from tests.factories import NewAccount, make_account, make_batch
from tests.ingestion.conftest import upload

ROWS = 40_000


def _large_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["RUT", "Nombre", "Fono", "Monto"])
        for i in range(ROWS):
            w.writerow([f"{10_000_000 + i}-{i % 10}", f"Deudor {i}", f"9{i:08d}", "1000"])
    return path


async def test_a_large_preview_does_not_delay_a_claim(
    new_account: NewAccount,
    database: Database,
    frozen_clock: FrozenClock,
    dialect: str,
    tmp_path: Path,
) -> None:
    if dialect != "sqlite":
        pytest.skip("PostgreSQL writers never wait for a read")
    acc, client = await new_account()
    path = _large_csv(tmp_path / "large.csv")
    dialing = await make_account(database)
    await make_batch(database, dialing, jobs=3, now=frozen_clock.now())

    # The preview reads the do-not-call list once the file is being parsed beside it:
    # its session is open (and would hold the write lock were it a write session).
    parsing = asyncio.Event()

    def statement(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if "do_not_call" in sql:
            parsing.set()

    engines = [database.engine.sync_engine, database.read_engine.sync_engine]
    for e in engines:
        event.listen(e, "before_cursor_execute", statement)
    try:
        preview = asyncio.create_task(upload(client, path, acc, action="preview"))
        await asyncio.wait_for(parsing.wait(), timeout=30)
    finally:
        for e in engines:
            event.remove(e, "before_cursor_execute", statement)
    assert not preview.done(), "the preview ended before the claim could run beside it"

    async with database.write() as s:
        claimed = await claim_due_jobs(
            s, worker_id="w1", now=frozen_clock.now(), limit=10, lease=timedelta(seconds=60)
        )
    # The claim committed while the preview was still parsing: it never waited for it.
    still_parsing = not preview.done()
    r = await preview
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["rows"] == ROWS
    assert len(claimed) == 3
    assert still_parsing
