"""Queries the import needs: the account's contacts already in open batches."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.job.states import JobStatus
from dialer.kit import search
from dialer.models import Account, Batch, BatchStatus, DoNotCall, Job

OPEN_BATCH = (BatchStatus.ACTIVE, BatchStatus.PAUSED)


def _id_prefix() -> str:
    """``job_`` + 24 of the 32 hex digits: milliseconds, then 48 random bits.

    The last 8 digits count the rows of one insert, so the ids of an import are increasing
    and their primary-key index grows at its right edge instead of at random pages
    (about a third less insert work on SQLite than uuid4 ids). Still 32 hex digits.
    """
    return f"job_{time.time_ns() // 1_000_000:012x}{os.urandom(6).hex()}"


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

    @staticmethod
    def new_id_prefix() -> str:
        """The id prefix of one ``insert_jobs_fast`` call (``job_id`` rebuilds its ids)."""
        return _id_prefix()

    @staticmethod
    def job_id(prefix: str, position: int) -> str:
        """The id ``insert_jobs_fast`` gave the row at ``position`` of its insert."""
        return f"{prefix}{position:08x}"

    async def sqlite_cache_size(self, value: int | None = None) -> int | None:
        """SQLite: the connection's ``PRAGMA cache_size`` before setting it to ``value``
        (negative: KiB, positive: pages; None: only read it); None on PostgreSQL.

        An import adds every row to the contact-search index (``ix_jobs_batch_search``),
        whose keys start with the phone digits: inserts land all over that index, and
        with SQLite's default 2 MB cache a 100,000-row import reads its pages again and
        again (about a third more insert work, measured): the import widens the cache of
        its connection while it writes and gives it back after."""
        conn = await self.session.connection()
        if conn.dialect.name != "sqlite":
            return None
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        cursor = await driver.execute("PRAGMA cache_size")  # type: ignore[union-attr]
        row = await cursor.fetchone()
        await cursor.close()
        if value is not None:
            await driver.execute(f"PRAGMA cache_size={int(value)}")  # type: ignore[union-attr]
        return int(row[0])

    async def update_job_contacts(
        self, rows: Sequence[tuple[str, str, str, str | None, str | None, str | None]]
    ) -> None:
        """Set (phones, payload, timezone, region, place_source) of jobs by id; the JSON
        already encoded, as inserted."""
        if not rows:
            return
        conn = await self.session.connection()
        raw = await conn.get_raw_connection()
        table = Job.__tablename__
        # The search key's phones are replaced, its name and RUT (from the first ``|``
        # on) kept: a merge changes neither.
        params = [
            (*rest, search.phone_digits_of_json(rest[0] or ""), job_id) for job_id, *rest in rows
        ]
        if conn.dialect.name == "postgresql":
            sql = (
                f'UPDATE "{table}" SET phones = $1, payload = $2, timezone = $3, region = $4, '
                "place_source = $5, search_text = $6 || substr(search_text, "
                "strpos(search_text, '|')) WHERE id = $7"
            )
            await raw.driver_connection.executemany(sql, params)  # type: ignore[union-attr]
            return
        sql = (
            f'UPDATE "{table}" SET phones = ?, payload = ?, timezone = ?, region = ?, '
            "place_source = ?, search_text = ? || substr(search_text, instr(search_text, '|')) "
            "WHERE id = ?"
        )
        cursor = await raw.driver_connection.executemany(sql, params)  # type: ignore[union-attr]
        await cursor.close()

    async def insert_jobs_fast(
        self,
        *,
        batch_id: str,
        account_id: str,
        max_attempts: int,
        now: datetime,
        id_prefix: str | None = None,
        columns: tuple[
            Sequence[int],
            Sequence[str | None],
            Sequence[str | None],
            Sequence[str],
            Sequence[str | None],
            Sequence[str],
            Sequence[str | None],
            Sequence[str | None],
            Sequence[str | None],
            Sequence[str],
        ],
    ) -> int:
        """Insert pending jobs in bulk, in the session's transaction, bypassing the ORM.

        ``columns``: (row_number, contact_name, dni, phones_json, email, payload_json,
        timezone, region, place_source, search_text), one sequence per column, the JSON
        already encoded, the contact-search key made (``search.search_text_of_json``).
        The ORM/Core path spends most of its time re-processing values that are the
        same on every row (three
        timestamps, the status) or already known to be clean; here the constant columns
        are bound once through the dialect's own column types (so SQLite and PostgreSQL
        get exactly what SQLAlchemy would send: on SQLite the timestamps as SQLAlchemy's
        text, not a datetime the driver would convert again on every row), and the rows
        are zipped straight into the driver with no per-row Python code. SQLite gets one
        prepared executemany with the constants as literals; PostgreSQL a binary COPY, several times faster than
        executemany there and still inside the transaction (a failure rolls it all back).
        """
        n = len(columns[0])
        if not n:
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
            proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            bound[name] = proc(value) if proc else value
        names = [
            "id", "row_number", "contact_name", "dni", "phones", "email", "payload",
            "timezone", "region", "place_source", "search_text", *bound,
        ]  # fmt: skip
        # Ids: the prefix, then the row's position in this insert as 8 hex digits.
        ids = map(f"{id_prefix or _id_prefix()}{{:08x}}".format, range(n))
        raw = await conn.get_raw_connection()
        if dialect.name == "postgresql":
            params = zip(ids, *columns, *(repeat(v, n) for v in bound.values()), strict=True)
            # The JSON columns take the encoded text through the codec SQLAlchemy installs
            # on the asyncpg connection, as in executemany.
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                Job.__tablename__, records=params, columns=names
            )
            return n
        # The constants go into the statement as literals: a dozen fewer parameters to
        # bind per row (about a tenth of SQLite's insert time), and the same SQL text for
        # every chunk of the import, so the statement is prepared once.
        literals = [_sqlite_literal(v) for v in bound.values()]
        if any(lit is None for lit in literals):
            params = zip(ids, *columns, *(repeat(v, n) for v in bound.values()), strict=True)
            values = ["?" for _ in names]
        else:
            params = zip(ids, *columns, strict=True)
            values = ["?" for _ in names[: -len(bound)]] + cast(list[str], literals)
        cols = ", ".join(f'"{c}"' for c in names)
        sql = f'INSERT INTO "{Job.__tablename__}" ({cols}) VALUES ({", ".join(values)})'
        # The driver's own executemany takes the iterator as is (SQLAlchemy would want a
        # list of tuples: 2,000 live containers per chunk for the garbage collector). Same
        # connection, so the same transaction.
        cursor = await raw.driver_connection.executemany(sql, params)  # type: ignore[union-attr]
        await cursor.close()
        return n


def _sqlite_literal(value: object) -> str | None:
    """An int or text as an SQLite literal; None for anything else (bound instead)."""
    if type(value) is int:
        return str(value)
    if type(value) is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None
