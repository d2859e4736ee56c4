"""The hourly recovery roll-up holds an hour of a large campaign's money."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.models import RecoveryStat
from tests.factories import make_account, make_batch

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def test_an_hour_of_promises_past_two_billion_pesos_is_counted(database):
    # 22,000 promises of 150,000 CLP in one hour: 3,300,000,000, past a 32-bit integer
    # (on PostgreSQL every settlement of that hour failed with "integer out of range").
    acc = await make_account(database)
    batch = await make_batch(database, acc, jobs=1, now=NOW)
    for _ in range(2):
        async with database.write() as s:
            await add_recovery(
                s,
                [RecoveryDelta(batch, acc, NOW, promises=11_000, promised_amount=1_650_000_000,
                               payments=11_000, recovered_amount=1_650_000_000)],
            )  # fmt: skip
    async with database.read() as s:
        row = (
            await s.execute(
                select(
                    RecoveryStat.promises, RecoveryStat.promised_amount,
                    RecoveryStat.recovered_amount,
                ).where(RecoveryStat.batch_id == batch)
            )
        ).one()  # fmt: skip
    assert tuple(row) == (22_000, 3_300_000_000, 3_300_000_000)
