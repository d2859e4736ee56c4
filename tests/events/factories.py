"""Plain async factories for progress and dashboard tests.

Jobs are added through ``job.service.bump_batch`` so the batch counters start right,
exactly as ingestion does.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import generate_account_key, hash_key
from dialer.account.passwords import hash_password
from dialer.job.counters import plan_transition
from dialer.job.service import bump_batch
from dialer.job.states import JobStatus
from dialer.kit import clock
from dialer.kit.ids import new_id
from dialer.models import Account, ApiKey, Batch, Job, PlanType, Role, User


async def create_account(session: AsyncSession, **overrides: Any) -> tuple[Account, str]:
    """An active Chilean minutes account and one API key (returned in clear)."""
    fields: dict[str, Any] = {
        "id": f"acc-{secrets.token_hex(5)}",
        "account_name": "Cobranzas Test",
        "country": "CL",
        "timezone": "America/Santiago",
        "plan_type": PlanType.MINUTES_BASED,
        "balance": 600 * 60,
    }
    fields.update(overrides)
    account = Account(**fields)
    session.add(account)
    key = generate_account_key()
    session.add(
        ApiKey(id=new_id("key"), account_id=account.id, prefix=key[:8], key_hash=hash_key(key))
    )
    await session.flush()
    return account, key


# One hash for every test user: hashing is slow on purpose, logging in is measured once.
TEST_PASSWORD = "clave-de-prueba-2026"
_TEST_PASSWORD_HASH = hash_password(TEST_PASSWORD)


async def create_user(
    session: AsyncSession, account: Account, role: str = "supervisor", **overrides: Any
) -> User:
    """A dashboard user of ``account`` whose password is TEST_PASSWORD."""
    now = clock.now()
    fields: dict[str, Any] = {
        "id": new_id("usr"),
        "account_id": account.id,
        "username": f"{role}-{secrets.token_hex(3)}",
        "role": Role(role),
        "password_hash": _TEST_PASSWORD_HASH,
        "is_active": True,
        "created_at": now,
        "updated_at": now,
    }
    fields.update(overrides)
    user = User(**fields)
    session.add(user)
    await session.flush()
    return user


async def create_batch(
    session: AsyncSession, account: Account, *, jobs: int = 3, **overrides: Any
) -> tuple[Batch, list[Job]]:
    """A batch with ``jobs`` pending jobs, due now."""
    now = clock.now()
    fields: dict[str, Any] = {
        "id": f"batch-{now:%Y%m%d}-{secrets.token_hex(3)}",
        "account_id": account.id,
        "name": "Campaña marzo",
        "started_at": now,
    }
    fields.update(overrides)
    batch = Batch(**fields)
    session.add(batch)
    await session.flush()
    created = []
    for i in range(jobs):
        job = Job(
            id=new_id("job"),
            batch_id=batch.id,
            account_id=account.id,
            row_number=i + 2,
            contact_name=f"Contacto {i + 1}",
            dni=f"1111111{i}-{i}",
            phones=[f"+5691234567{i}"],
            payload={"monto": 10000 * (i + 1)},
            next_attempt_at=now - timedelta(minutes=1),
        )
        session.add(job)
        created.append(job)
    await session.flush()
    await bump_batch(session, batch.id, account.id, plan_transition(None, JobStatus.PENDING, jobs))
    await session.refresh(batch)
    return batch, created
