"""Read-only aggregates for the overview. Each one is bounded by an index or by the
number of batches, never by the number of jobs or attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import insert
from dialer.models import Batch, BatchStatus, CallStat, RecoveryStat


async def upsert_call_stat(
    session: AsyncSession,
    *,
    account_id: str,
    hour: datetime,
    outcome: str,
    billed_seconds: int,
    cost_units: int,
    calls: int = 1,
) -> None:
    """Add ``calls`` attempts to their hourly bucket: INSERT .. ON CONFLICT DO UPDATE.

    Both dialects spell the upsert the same way (SQLite >= 3.24); ``db.dialect.insert``
    picks SQLAlchemy's construct.
    """
    stmt = insert(session, CallStat).values(
        account_id=account_id,
        hour=hour,
        outcome=outcome,
        calls=calls,
        billed_seconds=billed_seconds,
        cost_units=cost_units,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[CallStat.account_id, CallStat.hour, CallStat.outcome],
        set_={
            "calls": CallStat.calls + stmt.excluded.calls,
            "billed_seconds": CallStat.billed_seconds + stmt.excluded.billed_seconds,
            "cost_units": CallStat.cost_units + stmt.excluded.cost_units,
        },
    )
    await session.execute(stmt)


def _call_stats_select(account_id: str | None, start: datetime, end: datetime) -> Any:
    """(outcome, calls, billed_seconds, cost_units) per outcome over hours in [start, end)."""
    stmt = select(
        CallStat.outcome,
        func.sum(CallStat.calls),
        func.sum(CallStat.billed_seconds),
        func.sum(CallStat.cost_units),
    ).where(CallStat.hour >= start, CallStat.hour < end)
    if account_id is not None:
        stmt = stmt.where(CallStat.account_id == account_id)
    return stmt.group_by(CallStat.outcome)


def _batch_totals_columns(start: datetime, end: datetime) -> tuple[Any, ...]:
    """active_batches, pending_jobs, jobs_today, calls_in_progress (see overview_figures)."""
    is_open = Batch.status.in_([BatchStatus.ACTIVE, BatchStatus.PAUSED])
    created = (Batch.created_at >= start) & (Batch.created_at < end)
    return (
        func.count().filter(Batch.status == BatchStatus.ACTIVE),
        func.coalesce(func.sum(Batch.pending_jobs - Batch.in_progress_jobs).filter(is_open), 0),
        func.coalesce(func.sum(Batch.total_jobs).filter(created), 0),
        func.coalesce(func.sum(Batch.in_progress_jobs), 0),
    )


def _recovery_selects(account_id: str | None, start: datetime, end: datetime) -> list[Any]:
    """Kind 2 (right-party contacts, promises, promised and recovered amounts) and kind 3
    (kept, broken, payments) rows from the hourly recovery roll-up over [start, end)."""
    s = func.sum
    rows = [
        (2, s(RecoveryStat.right_party), s(RecoveryStat.promises),
         s(RecoveryStat.promised_amount), s(RecoveryStat.recovered_amount)),
        (3, s(RecoveryStat.kept), s(RecoveryStat.broken), s(RecoveryStat.payments),
         literal_column("0")),
    ]  # fmt: skip
    out = []
    for kind, *cols in rows:
        stmt: Any = select(literal_column(str(kind)).label("kind"), null().label("outcome"), *cols)
        stmt = stmt.where(RecoveryStat.hour >= start, RecoveryStat.hour < end)
        if account_id is not None:
            stmt = stmt.where(RecoveryStat.account_id == account_id)
        out.append(stmt)
    return out


def _totals(active: Any, waiting: Any, today: Any, in_flight: Any) -> dict[str, int]:
    return {
        "active_batches": int(active or 0),
        "pending_jobs": int(waiting or 0),
        "jobs_today": int(today or 0),
        "calls_in_progress": int(in_flight or 0),
    }


async def overview_figures(
    session: AsyncSession, account_id: str | None, start: datetime, end: datetime
) -> tuple[list[tuple[str, int, int, int]], dict[str, int]]:
    """Today's figures in one statement (on a busy server each round trip waits for the
    server process to be scheduled, so the overview asks once):

    * per outcome: (outcome, calls, billed_seconds, cost_units) summed over the hourly
      roll-up in [start, end);
    * the batch totals, in one pass over the batches' counters (bounded by the number of
      batches, never by jobs): ``active_batches`` and ``pending_jobs`` (waiting, not on
      the line) over the open (active/paused) batches; ``jobs_today``, jobs loaded in
      [start, end) from batches created in it; ``calls_in_progress``, jobs dialing or on
      a call in any batch (a cancelled one may still have calls on the line), from the
      transactional in-flight counters.

    * the collections figures of the recovery roll-up (kinds 2 and 3).

    A UNION ALL of (kind, outcome, four figures): kind 0 rows are the outcomes, the one
    kind 1 row the batch totals, kinds 2 and 3 the recovery sums.
    """
    stats = _call_stats_select(account_id, start, end).subquery()
    totals = select(
        literal_column("1").label("kind"),
        null().label("outcome"),
        *_batch_totals_columns(start, end),
    )
    if account_id is not None:
        totals = totals.where(Batch.account_id == account_id)
    both = union_all(
        select(literal_column("0").label("kind"), *stats.c, null()),
        totals,
        *_recovery_selects(account_id, start, end),
    )
    outcomes: list[tuple[str, int, int, int]] = []
    figures = _totals(0, 0, 0, 0)
    for kind, outcome, a, b, c, d in (await session.execute(both)).all():
        if kind == 0:
            outcomes.append((str(outcome), int(a or 0), int(b or 0), int(c or 0)))
        elif kind == 1:
            figures = {**figures, **_totals(a, b, c, d)}
        elif kind == 2:
            figures.update(right_party=int(a or 0), promises=int(b or 0),
                           promised_amount=int(c or 0), recovered_amount=int(d or 0))  # fmt: skip
        else:
            figures.update(kept=int(a or 0), broken=int(b or 0), payments=int(c or 0))
    return outcomes, figures


RECOVERY_COUNTERS = (
    "attempts", "contacts", "right_party", "promises", "promised_amount", "kept", "broken",
    "payments", "recovered_amount", "cost_units", "billed_seconds",
)  # fmt: skip


async def batch_owner(session: AsyncSession, batch_id: str) -> tuple[str, str] | None:
    """(account id, name) of a batch, or None."""
    row = (
        await session.execute(select(Batch.account_id, Batch.name).where(Batch.id == batch_id))
    ).first()
    return (str(row[0]), str(row[1])) if row else None


async def recovery_rows(
    session: AsyncSession,
    *,
    account_id: str | None,
    batch_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[Any, ...]]:
    """(hour, counters...) per hour over the roll-up, summed across batches."""
    cols = [func.sum(getattr(RecoveryStat, name)) for name in RECOVERY_COUNTERS]
    stmt = select(RecoveryStat.hour, *cols)
    if batch_id is not None:
        stmt = stmt.where(RecoveryStat.batch_id == batch_id)
    if account_id is not None:
        stmt = stmt.where(RecoveryStat.account_id == account_id)
    if start is not None:
        stmt = stmt.where(RecoveryStat.hour >= start)
    if end is not None:
        stmt = stmt.where(RecoveryStat.hour < end)
    stmt = stmt.group_by(RecoveryStat.hour).order_by(RecoveryStat.hour)
    return [tuple(r) for r in (await session.execute(stmt)).all()]
