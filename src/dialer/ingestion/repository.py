"""Queries the import needs: the account's contacts already in open batches."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.job.states import JobStatus
from dialer.models import Account, Batch, BatchStatus, DoNotCall, Job

OPEN_BATCH = (BatchStatus.ACTIVE, BatchStatus.PAUSED)


class IngestionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> IngestionRepository:
        return cls(session)

    async def account(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

    async def open_batch_contacts(self, account_id: str) -> AsyncIterator[tuple[str | None, Any]]:
        """(dni, phones) of every job in the account's active or paused batches."""
        stmt = (
            select(Job.dni, Job.phones)
            .join(Batch, Batch.id == Job.batch_id)
            .where(Job.account_id == account_id, Batch.status.in_(OPEN_BATCH))
            .execution_options(yield_per=5000)
        )
        result = await self.session.stream(stmt)
        async for dni, phones in result:
            yield dni, phones

    async def dnc_count(self, account_id: str) -> int:
        stmt = select(func.count()).select_from(DoNotCall).where(DoNotCall.account_id == account_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def dnc_phones(self, account_id: str) -> set[str]:
        rows = await self.session.execute(
            select(DoNotCall.phone).where(DoNotCall.account_id == account_id)
        )
        return set(rows.scalars())

    async def insert_jobs_fast(
        self,
        *,
        batch_id: str,
        account_id: str,
        max_attempts: int,
        now: datetime,
        rows: Sequence[tuple[int, str | None, str | None, list[str], str | None, dict[str, Any]]],
    ) -> int:
        """Insert pending jobs with one driver-level executemany.

        The ORM/Core path spends most of its time re-processing values that are the same
        on every row (three timestamps, the status) or already known to be clean; here the
        constant columns are bound once through their own column types (so SQLite and
        PostgreSQL get exactly what SQLAlchemy would send) and the JSON is encoded once.
        Rows: (row_number, contact_name, dni, phones, email, payload).
        """
        if not rows:
            return 0
        conn = await self.session.connection()
        dialect = conn.dialect
        table = Job.__table__
        consts: dict[str, Any] = {
            "batch_id": batch_id,
            "account_id": account_id,
            "status": JobStatus.PENDING,
            "attempts": 0,
            "max_attempts": max_attempts,
            "phone_index": 0,
            "next_attempt_at": now,
            "result": {},
            "billed_seconds": 0,
            "cost_units": 0,
            "created_at": now,
            "updated_at": now,
        }
        bound: dict[str, Any] = {}
        for name, value in consts.items():
            proc = table.c[name].type.bind_processor(dialect)
            bound[name] = proc(value) if proc else value
        names = [
            "id", "row_number", "contact_name", "dni", "phones", "email", "payload", *bound,
        ]  # fmt: skip
        if dialect.name == "postgresql":
            marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        else:
            marks = ", ".join("?" for _ in names)
        cols = ", ".join(f'"{n}"' for n in names)
        sql = f'INSERT INTO "{Job.__tablename__}" ({cols}) VALUES ({marks})'
        const_tail = tuple(bound.values())
        # One urandom call per chunk instead of one per uuid4().
        ids = os.urandom(16 * len(rows)).hex()
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        params = [
            (
                f"job_{ids[i * 32 : i * 32 + 32]}",
                rn, name, dni, dumps(phones), email, dumps(payload),
                *const_tail,
            )
            for i, (rn, name, dni, phones, email, payload) in enumerate(rows)
        ]  # fmt: skip
        await conn.exec_driver_sql(sql, params)
        return len(params)
