"""Appending many plain rows without ORM objects.

The dispatcher's hot paths append thousands of rows per second (attempts, ledger
entries, progress events, contact log). Building an ORM object for each and flushing
it through the unit of work costs more CPU than the database spends storing the row;
an executemany of one cached INSERT per table does the same write for a fraction.
Column defaults (timestamps, empty JSON) still apply: they belong to the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.base import Base


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class (for statements that bypass the ORM)."""
    return cast(Table, model.__table__)


async def insert_rows(
    session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT ``rows`` (mappings with the same keys) into ``model``'s table, in this
    transaction. Rows added this way are not in the session's identity map."""
    if rows:
        await session.execute(insert(table_of(model)), list(rows))


async def update_rows(
    session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> None:
    """UPDATE rows of ``model``'s table by primary key ``id``: each mapping holds the row's
    ``k_id`` and the same column values to set. One executemany, no ORM objects; objects
    of these rows already in the session are stale afterwards."""
    if rows:
        t = table_of(model)
        await session.execute(update(t).where(t.c.id == bindparam("k_id")), list(rows))
