"""Factories for dispatcher tests: an account with balance, batches of jobs (through
``job.service.insert_jobs``, as ingestion does), and snapshot queries."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from dialer.batch.settings import CallSettings
from dialer.billing.service import topup
from dialer.db.session import Database
from dialer.job.schemas import NewJob
from dialer.job.service import insert_jobs
from dialer.models import Account, Batch, BatchStatus, CallAttempt, Job, LedgerEntry, PlanType

# Open every day, all day: tests that are not about windows should not depend on them.
ALWAYS_OPEN: dict[str, Any] = {
    "allowed_call_hours": {"start": "00:00", "end": "24:00"},
    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "timezone": "America/Santiago",
}
# The collections loop's follow-ups off: every job ends with its last call. By default a
# callback request or a promise keeps its job waiting (for the requested time, or days
# until the promise is judged), so a run that waits for its batches to finish on the
# simulated agent's random results (callbacks, promises) would not end.
ENDS_WITH_LAST_CALL: dict[str, Any] = {"callbacks": False, "broken_promise": {"follow_up": False}}


def call_settings(**overrides: Any) -> dict[str, Any]:
    raw = {**ALWAYS_OPEN, **overrides}
    return CallSettings.model_validate(raw).model_dump(mode="json")


async def make_account(
    db: Database,
    *,
    cap: int = 10,
    minutes: int = 100_000,
    plan: PlanType = PlanType.MINUTES_BASED,
    **fields: Any,
) -> str:
    account_id = f"acc-{secrets.token_hex(5)}"
    async with db.write() as s:
        s.add(
            Account(
                id=account_id, account_name="Cobranzas Test", country="CL",
                timezone="America/Santiago", plan_type=plan, balance=0,
                max_concurrent_calls=cap, settings={}, features={}, **fields,
            )
        )  # fmt: skip
        await s.flush()
        units = minutes * 60 if plan == PlanType.MINUTES_BASED else minutes * 100
        if units:
            await topup(s, account_id, units, key=f"topup:{account_id}")
    return account_id


async def make_batch(
    db: Database,
    account_id: str,
    *,
    jobs: int,
    now: datetime,
    settings: dict[str, Any] | None = None,
    phones: int = 1,
    priority: int = 0,
    payload: dict[str, Any] | None = None,
) -> str:
    batch_id = f"batch-{now:%Y%m%d}-{secrets.token_hex(4)}"
    async with db.write() as s:
        batch = Batch(
            id=batch_id, account_id=account_id, name="Campaña", priority=priority,
            is_active=True, status=BatchStatus.ACTIVE,
            call_settings=settings if settings is not None else call_settings(),
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(batch)
        await s.flush()
        await insert_jobs(
            s,
            batch,
            (
                NewJob(
                    contact_name=f"Cliente {i}",
                    dni=f"{10_000_000 + i}-{i % 10}",
                    phones=[f"+569{i + 1:07d}{k + 1}" for k in range(phones)],
                    payload=payload or {"monto": 150000, "fecha_limite": "2026-03-20"},
                    row_number=i + 1,
                )
                for i in range(jobs)
            ),
            now=now,
        )
    return batch_id


async def ledger_sum(db: Database, account_id: str) -> int:
    async with db.read() as s:
        return int(
            (
                await s.execute(
                    select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                        LedgerEntry.account_id == account_id
                    )
                )
            ).scalar_one()
        )


async def job_statuses(db: Database, batch_id: str) -> dict[str, int]:
    async with db.read() as s:
        rows = (
            await s.execute(
                select(Job.status, func.count())
                .where(Job.batch_id == batch_id)
                .group_by(Job.status)
            )
        ).all()
    return {str(k): int(v) for k, v in rows}


async def attempts_of(db: Database, batch_id: str) -> list[CallAttempt]:
    async with db.read() as s:
        rows = list(
            (await s.execute(select(CallAttempt).where(CallAttempt.batch_id == batch_id)))
            .scalars()
            .all()
        )
        s.expunge_all()
        return rows


async def batch_row(db: Database, batch_id: str) -> Batch:
    async with db.read() as s:
        batch = (await s.execute(select(Batch).where(Batch.id == batch_id))).scalar_one()
        s.expunge(batch)  # keep the loaded values after the read session ends
        return batch


async def account_row(db: Database, account_id: str) -> Account:
    async with db.read() as s:
        account = (await s.execute(select(Account).where(Account.id == account_id))).scalar_one()
        s.expunge(account)
        return account
