"""Appending many plain rows without ORM objects.

The dispatcher's hot paths append thousands of rows per second (attempts, ledger
entries, progress events, contact log). Building an ORM object for each and flushing
it through the unit of work costs more CPU than the database spends storing the row;
an executemany of one cached INSERT per table does the same write for a fraction.
Column defaults (timestamps, empty JSON) still apply: they belong to the table.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Boolean, Table, bindparam, case, insert, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

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


async def write_through(
    session: AsyncSession, objects: Sequence[Base], columns: Collection[str]
) -> None:
    """Write the pending changes of loaded objects of one mapped class (primary key
    ``id``) in one executemany UPDATE, and record them as stored.

    The unit of work issues one UPDATE per run of rows (in primary-key order) that changed
    the same columns, so rows settled together but differing in a value or two cost a
    statement each. Here every object whose changes are all among ``columns`` goes into
    one statement over the union of the columns they changed; each row sets only its own
    changed columns (``CASE WHEN <changed> THEN <value> ELSE <column> END``), with the
    values the unit of work would have written. Other objects, and changes made
    afterwards, are left to the unit of work."""
    allowed = set(columns)
    written: list[tuple[Base, dict[str, Any], set[str]]] = []
    names: set[str] = set()
    for obj in objects:
        state = inspect(obj)
        committed = state.committed_state
        values = state.dict
        if (
            not committed
            or not allowed.issuperset(committed)
            or not values.keys() >= committed.keys()
        ):
            continue
        changed = {
            k for k, old in committed.items()
            if state.manager[k].impl.is_equal(values[k], old) is not True
        }  # fmt: skip
        if changed:
            written.append((obj, values, changed))
            names |= changed
    if not written:
        return
    t = table_of(type(written[0][0]))
    cols = sorted(names)
    stmt = (
        update(t)
        .where(t.c.id == bindparam("k_id"))
        .values(
            {
                c: case(
                    (bindparam(f"w_{c}", type_=Boolean()), bindparam(f"v_{c}", type_=t.c[c].type)),
                    else_=t.c[c],
                )
                for c in cols
            }
        )
    )
    rows = []
    for _, values, changed in written:
        row: dict[str, Any] = {"k_id": values["id"]}
        for c in cols:
            row[f"w_{c}"] = c in changed
            row[f"v_{c}"] = values[c] if c in changed else None
        rows.append(row)
    await session.execute(stmt, rows)
    for obj, values, _ in written:
        for k in list(inspect(obj).committed_state):
            set_committed_value(obj, k, values[k])
