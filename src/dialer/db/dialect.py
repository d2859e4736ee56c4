"""What differs between SQLite and PostgreSQL, in one place.

* **Which database**: ``dialect_of(session)``.
* **Row locks**: queries write ``.with_for_update(...)`` (``skip_locked=True`` where a
  row held by another transaction is skipped, not waited for) unconditionally: on
  PostgreSQL it is ``FOR UPDATE [SKIP LOCKED]``; SQLAlchemy renders nothing on SQLite,
  where a write transaction (``BEGIN IMMEDIATE``, db/engine.py) holds the database-wide
  write lock and so already excludes every other writer.
* **Insert or ignore / upsert**: ``insert(session, table)`` is the dialect's INSERT,
  with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (the same call on both).
* **Transaction locks by name**: ``transaction_lock(session, name)``, a PostgreSQL
  advisory lock held until commit; on SQLite always granted (writers are serialised).

Queries that are written differently per database for speed (binary COPY, date
bucketing, ANALYZE) ask ``dialect_of`` where they are; each has a test on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

POSTGRESQL = "postgresql"


def dialect_of(session: AsyncSession) -> str:
    """'sqlite' or 'postgresql'."""
    return session.get_bind().dialect.name


def insert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` into ``table`` (a model or a Table) with the dialect's ON CONFLICT
    clauses: ``.on_conflict_do_nothing(...)``, ``.on_conflict_do_update(...)``."""
    if dialect_of(session) == POSTGRESQL:
        return postgresql.insert(table)
    return sqlite.insert(table)


async def transaction_lock(session: AsyncSession, name: str, *, wait: bool = True) -> bool:
    """Take the lock called ``name`` until the transaction ends. With ``wait=False``
    returns False at once when another transaction holds it. SQLite: always True (its
    write transaction already excludes every other writer)."""
    if dialect_of(session) != POSTGRESQL:
        return True
    key = func.hashtextextended(name, 0)
    if wait:
        await session.execute(select(func.pg_advisory_xact_lock(key)))
        return True
    return bool((await session.execute(select(func.pg_try_advisory_xact_lock(key)))).scalar_one())
