"""Contact search ignores accents and case the same way on SQLite and PostgreSQL, for jobs
written by every path: a spreadsheet import (with a debtor's rows merged), the JSON API,
and a job edited later."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job.filters import JobFilter
from dialer.models import Job
from tests.dashboard.helpers import login
from tests.factories import api_account, as_key

HEAD = ["RUT", "Nombre", "Fono", "Monto", "Vencimiento"]


async def _found(database: Database, batch_id: str, q: str) -> list[str]:
    """The names the contact table and its export list for the search ``q``."""
    flt = JobFilter(q=q)
    async with database.read() as s:
        rows = await s.execute(
            select(Job.contact_name).where(flt.where(batch_id)).order_by(*flt.order_by())
        )
        return list(rows.scalars())


async def _upload(c: httpx.AsyncClient, path: Path, account_id: str) -> str:
    with path.open("rb") as f:
        r = await c.post(
            "/api/v1/batches/excel/create",
            data={"account_id": account_id, "consolidate": "true"},
            files={"file": (path.name, f.read(), "application/octet-stream")},
        )
    assert r.status_code == 201, r.text
    return str(r.json()["batch_id"])


async def test_upper_case_and_accents_match_on_every_database(
    admin: httpx.AsyncClient, database: Database, tmp_path: Path
) -> None:
    acc = await api_account(admin)
    path = tmp_path / "cartera.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows([
            HEAD,
            ["12.345.678-5", "JOSÉ ÑUÑOA PÉREZ", "987654321", "1000", "01/04/2026"],
            ["5.000.368-K", "maría josé soto", "971924865", "1000", "01/04/2026"],
            ["7.654.321-6", "Rosa Muñoz", "932301241", "1000", "01/04/2026"],
            # José's second row: merged into his job, with its phone.
            ["12345678-5", "JOSÉ ÑUÑOA PÉREZ", "+56 2 2123 4567", "500", "01/05/2026"],
        ])  # fmt: skip
    async with as_key(admin, acc["api_key"]) as c:
        bid = await _upload(c, path, acc["account_id"])

    jose, maria, rosa = "JOSÉ ÑUÑOA PÉREZ", "maría josé soto", "Rosa Muñoz"
    for q, expected in [
        ("José", [jose, maria]),
        ("JOSÉ", [jose, maria]),
        ("jose", [jose, maria]),
        ("ÑUÑOA", [jose]),
        ("nunoa", [jose]),
        ("Ñuñoa Pérez", [jose]),
        ("MARÍA", [maria]),
        ("muñoz", [rosa]),
        ("MUNOZ", [rosa]),
        ("5.000.368-k", [maria]),  # RUT with dots, lower-case check digit
        ("5000368K", [maria]),
        ("9 8765 4321", [jose]),  # the first row's phone, typed with spaces
        ("2 2123 4567", [jose]),  # the merged row's phone
        ("nadie", []),
        ("50%", []),  # LIKE wildcards are literal
    ]:
        assert await _found(database, bid, q) == expected, q


async def _json_batch(
    admin: httpx.AsyncClient, acc: dict[str, Any], jobs: list[dict[str, Any]]
) -> str:
    """A batch created through ``POST /api/v1/batches`` with the account's key; its id."""
    async with as_key(admin, acc["api_key"]) as c:
        r = await c.post(
            "/api/v1/batches",
            json={
                "account_id": acc["account_id"],
                "name": "API",
                "jobs": [{**job, "payload": {"monto": 1}} for job in jobs],
            },
        )
    assert r.status_code == 201, r.text
    return str(r.json()["batch_id"])


async def test_json_jobs_and_a_renamed_job_are_found_the_same_way(
    admin: httpx.AsyncClient, database: Database
) -> None:
    acc = await api_account(admin)
    bid = await _json_batch(admin, acc, [
        {"contact_name": "ÁNGELA GONZÁLEZ", "dni": "11.111.111-1", "phones": ["+56911111111"]},
        {"contact_name": "Iñaki Ruíz", "dni": "22222222-2", "phones": ["+56922222222"]},
    ])  # fmt: skip
    assert await _found(database, bid, "angela gonzalez") == ["ÁNGELA GONZÁLEZ"]
    assert await _found(database, bid, "IÑAKI") == ["Iñaki Ruíz"]
    assert await _found(database, bid, "ruiz") == ["Iñaki Ruíz"]
    assert await _found(database, bid, "111111111") == ["ÁNGELA GONZÁLEZ"]

    async with database.write() as s:  # corrected by hand after the import
        job = (await s.execute(select(Job).where(Job.contact_name == "Iñaki Ruíz"))).scalar_one()
        job.contact_name = "Iñaki Ruiz Echeverría"
        job.phones = ["+56933333333"]
    assert await _found(database, bid, "ECHEVERRIA") == ["Iñaki Ruiz Echeverría"]
    assert await _found(database, bid, "933333333") == ["Iñaki Ruiz Echeverría"]
    assert await _found(database, bid, "922222222") == []


async def test_the_contact_table_searches_with_the_key(
    admin: httpx.AsyncClient, database: Database, app: Any
) -> None:
    """The page itself: an upper-case accented query shows the row."""
    acc = await api_account(admin)
    bid = await _json_batch(
        admin, acc, [{"contact_name": "José Peña", "dni": "33333333-3", "phones": ["+56944444444"]}]
    )
    async with as_key(admin, acc["api_key"]) as c:
        page = await c.get(f"/api/v1/batches/{bid}/jobs")
        assert page.status_code == 200
    r = await admin.post(
        f"/api/v1/accounts/{acc['account_id']}/users",
        json={"username": "ver", "password": "una-clave-larga-1", "role": "viewer"},
    )
    assert r.status_code == 201
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as v:
        await login(v, "ver", "una-clave-larga-1")
        table = await v.get(f"/dashboard/batches/{bid}/jobs", params={"q": "JOSÉ PEÑA"})
        assert table.status_code == 200
        assert "José Peña" in table.text
        empty = await v.get(f"/dashboard/batches/{bid}/jobs", params={"q": "JUAN"})
        assert "José Peña" not in empty.text
