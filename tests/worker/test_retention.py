"""Retention: the maintenance tables (progress events, webhook receipts, the simulated
carrier's delivered calls) are pruned by the worker; the contact log - the proof of the
contact limits - is kept at least two years whatever the retention settings."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import ContactLog, Event, SimulatedCall, WebhookReceipt
from dialer.worker import maintenance
from dialer.worker.maintenance import prune_maintenance_tables
from dialer.worker.runner import Worker

DAY = timedelta(days=1)


async def _fill(db: Database, now: datetime, ages_days: list[int]) -> None:
    async with db.write() as s:
        for i, age in enumerate(ages_days):
            at = now - age * DAY
            s.add(Event(account_id="acc", batch_id="b", type="batch.progress", created_at=at))
            s.add(WebhookReceipt(provider="retell", event_key=f"k{i}", received_at=at))
            for delivered in (0, 1):
                s.add(
                    SimulatedCall(
                        id=f"sim-{i}-{delivered}", attempt_id=f"att-{i}-{delivered}",
                        to_number="+56911111111", outcome="completed", started_at=at,
                        complete_at=at, delivered=delivered,
                    )
                )  # fmt: skip
            s.add(
                ContactLog(
                    account_id="acc",
                    debtor_key=f"rut-{i}",
                    attempt_id=f"att-{i}",
                    contacted_at=at,
                )
            )


async def _ages(db: Database, now: datetime, column: Any, *where: Any) -> list[int]:
    async with db.read() as s:
        values = (await s.execute(select(column).where(*where))).scalars().all()
    return sorted(round((now - v) / DAY) for v in values)


async def test_maintenance_rows_older_than_the_retention_go_the_rest_stays(
    database: Database, monkeypatch: Any
) -> None:
    now = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
    ages = [0, 1, 29, 31, 45, 400]
    await _fill(database, now, ages)
    monkeypatch.setattr(maintenance, "PRUNE_CHUNK", 1)  # chunks: the task repeats
    removed = 0
    while n := await prune_maintenance_tables(database, now=now, retention_days=30):
        removed += n
    assert removed == 3 * 3  # three old rows in each of the three tables
    assert await _ages(database, now, Event.created_at) == [0, 1, 29]
    assert await _ages(database, now, WebhookReceipt.received_at) == [0, 1, 29]
    delivered = SimulatedCall.delivered == 1
    assert await _ages(database, now, SimulatedCall.complete_at, delivered) == [0, 1, 29]
    # A call whose report was never delivered is still news, however old.
    assert await _ages(database, now, SimulatedCall.complete_at, ~delivered) == ages
    assert await _ages(database, now, ContactLog.contacted_at) == ages


async def test_the_contact_log_outlives_every_retention_task_for_two_years(
    database: Database, settings: Settings, frozen_clock: FrozenClock
) -> None:
    """The guarantee of the records rule (docs/compliance.md): with the shortest
    retention settings the product accepts, the worker's retention task deletes no
    contact-log row younger than two years."""
    now = frozen_clock.now()
    ages = [0, 1, 2, 30, 180, 364, 365, 500, 729, 730]
    await _fill(database, now, ages)
    shortest = settings.model_copy(
        update={"TRANSCRIPT_RETENTION_DAYS": 1, "MAINTENANCE_RETENTION_DAYS": 1}
    )
    worker = Worker(database, shortest, clock=frozen_clock)
    worker._stop = asyncio.Event()
    await worker._retention()
    assert await _ages(database, now, ContactLog.contacted_at) == ages
    # ... while the same task did prune what it may.
    async with database.read() as s:
        events = (await s.execute(select(func.count()).select_from(Event))).scalar_one()
    assert events == 2  # today's and yesterday's (not older than one day)
