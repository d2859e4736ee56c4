"""Factories for compliance scenarios: a Chilean account with balance, batches whose jobs
are given debtor by debtor, and read helpers. Rows go in through the same service
functions the API and ingestion use."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dialer.batch.settings import CallSettings
from dialer.billing.service import topup
from dialer.db.session import Database
from dialer.job.schemas import NewJob
from dialer.job.service import insert_jobs
from dialer.models import Account, Batch, BatchStatus, CallAttempt, ContactLog, Job, PlanType

CL_COBRANZA: dict[str, Any] = {
    "allowed_call_hours": {"start": "08:00", "end": "20:00"},
    "compliance_profile": "cl_cobranza",
    "max_concurrent_calls": 50,
    "retry_settings": {"max_attempts": 8, "retry_delay_hours": 1},
}


def settings_json(**overrides: Any) -> dict[str, Any]:
    return CallSettings.model_validate({**CL_COBRANZA, **overrides}).model_dump(mode="json")


async def make_account(db: Database, *, cap: int = 100, minutes: int = 100_000) -> str:
    account_id = f"acc-{secrets.token_hex(5)}"
    async with db.write() as s:
        s.add(
            Account(
                id=account_id, account_name="Cobranzas Andes", country="CL",
                timezone="America/Santiago", plan_type=PlanType.MINUTES_BASED, balance=0,
                max_concurrent_calls=cap, settings={}, features={},
            )
        )  # fmt: skip
        await s.flush()
        await topup(s, account_id, minutes * 60, key=f"topup:{account_id}")
    return account_id


async def make_batch(
    db: Database,
    account_id: str,
    debtors: Sequence[tuple[str | None, list[str]]],
    *,
    now: datetime,
    settings: dict[str, Any] | None = None,
    payloads: Sequence[dict[str, Any]] | None = None,
    priority: int = 0,
) -> str:
    """A batch with one job per (dni, phones), with ``payloads[i]`` as row i's columns."""
    batch_id = f"batch-{now:%Y%m%d}-{secrets.token_hex(4)}"
    async with db.write() as s:
        batch = Batch(
            id=batch_id, account_id=account_id, name="Cobranza", is_active=True, priority=priority,
            status=BatchStatus.ACTIVE,
            call_settings=settings if settings is not None else settings_json(),
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(batch)
        await s.flush()
        await insert_jobs(
            s,
            batch,
            (
                NewJob(
                    contact_name=f"Deudor {i}",
                    dni=dni,
                    phones=phones,
                    row_number=i + 2,
                    payload=dict(payloads[i]) if payloads else {},
                )
                for i, (dni, phones) in enumerate(debtors)
            ),
            now=now,
        )
    return batch_id


async def jobs_of(db: Database, batch_id: str) -> list[Job]:
    async with db.read() as s:
        stmt = select(Job).where(Job.batch_id == batch_id).order_by(Job.row_number)
        rows = list((await s.execute(stmt)).scalars().all())
        s.expunge_all()  # keep the loaded values after the read session rolls back
        return rows


async def attempts(db: Database, account_id: str) -> list[CallAttempt]:
    async with db.read() as s:
        stmt = (
            select(CallAttempt)
            .where(CallAttempt.account_id == account_id)
            .order_by(CallAttempt.started_at, CallAttempt.id)
        )
        rows = list((await s.execute(stmt)).scalars().all())
        s.expunge_all()  # keep the loaded values after the read session rolls back
        return rows


async def contacts(db: Database, account_id: str) -> list[ContactLog]:
    async with db.read() as s:
        stmt = (
            select(ContactLog)
            .where(ContactLog.account_id == account_id)
            .order_by(ContactLog.contacted_at)
        )
        rows = list((await s.execute(stmt)).scalars().all())
        s.expunge_all()  # keep the loaded values after the read session rolls back
        return rows
