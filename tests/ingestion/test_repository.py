"""The import's bulk insert stores exactly what the Core insert of the jobs service does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from dialer.account.auth import Principal
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate
from dialer.db.session import Database
from dialer.ingestion.reader import dumps_phones
from dialer.ingestion.repository import IngestionRepository
from dialer.ingestion.rows import dumps_payload
from dialer.job import service as job_service
from dialer.job.schemas import NewJob
from dialer.kit import search
from tests.factories import NewAccount

ADMIN = Principal(is_admin=True)
JSON_COLUMNS = ("phones", "payload", "result")


def _value(column: str, value: Any) -> Any:
    # JSON text may differ in spacing and escaping (compact on the import's path); the
    # values it holds may not. Every other column is compared as stored.
    return json.loads(value) if column in JSON_COLUMNS and isinstance(value, str) else value


async def test_fast_insert_stores_the_same_row_as_the_core_insert(
    new_account: NewAccount, database: Database
) -> None:
    # A quote in the account id: on SQLite the constant columns are SQL literals.
    acc, _ = await new_account(id="acc-o'higgins")
    # Whole seconds: the timestamp text must keep its ".000000" as SQLAlchemy writes it.
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    job = NewJob(
        contact_name="José Muñoz", dni="12345678-5", phones=["+56912345678", "+56223456789"],
        email="jm@example.cl", payload={"amount": 1500, "company": "Crédito Austral"},
        row_number=7,
    )  # fmt: skip
    async with database.write() as s:
        batches = []
        for name in ("core", "fast"):
            batch, _ = await batch_service.create_batch(
                s, ADMIN, BatchCreate(account_id=acc, name=name), jobs=()
            )
            batches.append(batch)
        core, fast = batches
        await job_service.insert_jobs(s, core, [job], now=now)
        await IngestionRepository.from_session(s).insert_jobs_fast(
            batch_id=fast.id,
            account_id=acc,
            max_attempts=job_service.max_attempts_of(fast),
            now=now,
            columns=(
                [job.row_number or 0], [job.contact_name], [job.dni], [dumps_phones(job.phones)],
                [job.email], [dumps_payload(job.payload)], [None], [None], [None],
                [search.search_text_of_json(job.contact_name, job.dni, dumps_phones(job.phones))],
            ),
        )  # fmt: skip
    async with database.read() as s:
        rows = {
            r["batch_id"]: {k: _value(k, v) for k, v in r.items() if k not in ("id", "batch_id")}
            for r in (
                await s.execute(
                    text("SELECT * FROM jobs WHERE batch_id IN (:a, :b)"),
                    {"a": core.id, "b": fast.id},
                )
            ).mappings()
        }
    assert rows[fast.id] == rows[core.id]
    assert rows[fast.id]["account_id"] == acc
