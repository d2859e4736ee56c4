"""insert_jobs: the bulk path ingestion uses; counters move once and exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate
from dialer.batch.settings import CallSettings
from dialer.db.session import Database
from dialer.job.schemas import NewJob
from dialer.job.service import insert_jobs
from dialer.models import Batch, Job

ADMIN = Principal(is_admin=True)


def rows(n: int) -> Iterator[NewJob]:
    for i in range(n):
        yield NewJob(
            contact_name=f"C{i}", dni=str(i), phones=[f"+5411{i:08d}", "+5491100000000"],
            payload={"amount": i}, row_number=i + 2,
        )  # fmt: skip


async def test_insert_jobs_counts_and_defaults(database: Database) -> None:
    now = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
    async with database.write() as s:
        await account_service.create_account(
            s, AccountCreate(account_id="ins", account_name="Ins", country="AR")
        )
        settings = CallSettings.model_validate({"retry_settings": {"max_attempts": 5}})
        batch, created = await batch_service.create_batch(
            s, ADMIN, BatchCreate(account_id="ins", name="big", call_settings=settings)
        )
        assert created == 0
        # A generator, more than two chunks: memory stays bounded by the chunk.
        n = await insert_jobs(s, batch, rows(2_345), now=now)
        assert n == 2_345
        assert await insert_jobs(s, batch, [], now=now) == 0
        batch_id = batch.id
    async with database.read() as s:
        b = (await s.execute(select(Batch).where(Batch.id == batch_id))).scalar_one()
        assert (b.total_jobs, b.pending_jobs, b.completed_jobs, b.status) == (
            2_345, 2_345, 0, "active",
        )  # fmt: skip
        stats = (
            await s.execute(
                select(
                    func.count(), func.min(Job.max_attempts), func.max(Job.max_attempts),
                    func.count(func.distinct(Job.id)),
                ).where(Job.batch_id == batch_id, Job.status == "pending")
            )
        ).one()  # fmt: skip
        assert tuple(stats) == (2_345, 5, 5, 2_345)
        job = (await s.execute(select(Job).where(Job.row_number == 10))).scalar_one()
        assert job.phones == ["+541100000008", "+5491100000000"]
        assert job.payload == {"amount": 8}
        assert job.next_attempt_at == now
        assert job.account_id == "ins"


async def test_insert_rolls_back_with_the_transaction(database: Database) -> None:
    async with database.write() as s:
        await account_service.create_account(s, AccountCreate(account_id="rbk", account_name="R"))
    try:
        async with database.write() as s:
            await batch_service.create_batch(
                s, ADMIN, BatchCreate(account_id="rbk", name="x"), jobs=rows(1500)
            )
            raise RuntimeError("file rejected")
    except RuntimeError:
        pass
    async with database.read() as s:
        assert (await s.execute(select(func.count()).select_from(Job))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(Batch))).scalar_one() == 0
