"""The do-not-call import reads its file away from the event loop and the write lock.

A user relies on: importing a large registry file does not stall the API or lock the
database for the dispatcher while it is read (the file is read and normalised in a
memory-limited child process, then one short transaction inserts the numbers); a
crafted sparse workbook is refused like a spreadsheet upload; a NUL in a form field is
a 422, not a database error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from dialer.compliance import service
from dialer.db.session import Database
from dialer.kit import child
from tests.factories import api_account
from tests.hostile.test_sparse_xlsx import sparse_xlsx


async def _import(c: httpx.AsyncClient, acc: str, name: str, data: bytes, **form: str) -> Any:
    return await c.post(
        f"/api/v1/accounts/{acc}/do-not-call/import",
        files={"file": (name, data)},
        data={"country": "CL", **form},
    )


async def test_file_is_read_in_a_child_with_no_transaction_open(
    admin: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api_account(admin, account_id="acc-dnc", initial_minutes=1)
    seen: list[str] = []
    real_run = child.run

    async def watching_run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        # While the file is being read, another writer gets the database at once.
        async def write() -> None:
            async with database.write() as s:
                await s.execute(text("UPDATE accounts SET contact_name = 'x' WHERE id = 'none'"))

        await asyncio.wait_for(write(), timeout=5)
        seen.append(fn.__name__)
        return await real_run(fn, *args, **kwargs)

    monkeypatch.setattr(service.child, "run", watching_run)
    rows = "\n".join(f"+5691234{n:04d}" for n in range(2000)) + "\n"
    r = await _import(admin, "acc-dnc", "no_llame.csv", ("Telefono\n" + rows).encode())
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 2000
    assert seen == ["plan_in_child"]


async def test_sparse_workbook_and_nul_fields_are_refused(
    admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    await api_account(admin, account_id="acc-dnc2", initial_minutes=1)
    sheet = sparse_xlsx(tmp_path / "dnc.xlsx").read_bytes()
    r = await _import(admin, "acc-dnc2", "dnc.xlsx", sheet)
    assert r.status_code == 413, r.text
    assert "XFD200000" in r.json()["detail"]
    ok = b"Telefono\n+56912345678\n"
    for name in ("source", "reason"):
        r = await _import(admin, "acc-dnc2", "a.csv", ok, **{name: "regis\x00tro"})
        assert r.status_code == 422, (name, r.text)
    listed = (await admin.get("/api/v1/accounts/acc-dnc2/do-not-call")).json()
    assert listed["total"] == 0
