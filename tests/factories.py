"""The one place tests build what they need.

* Rows written straight to the database, through the same service functions the API and
  ingestion use (``billing.topup``, ``job.service.insert_jobs`` / ``bump_batch``):
  ``make_*`` commit their own write; ``add_*`` add to the caller's session.
* The same things created over HTTP, the way a client does (``api_*``).
* Clients authenticated with an account key, and the snapshot queries tests read rows
  back with.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import generate_account_key, hash_key
from dialer.account.passwords import hash_password
from dialer.batch.settings import CallSettings
from dialer.billing.service import topup
from dialer.db.session import Database
from dialer.ingestion.normalize import rut_check_digit
from dialer.job.counters import plan_transition
from dialer.job.schemas import NewJob
from dialer.job.service import bump_batch, insert_jobs
from dialer.job.states import JobStatus
from dialer.kit import clock, ids
from dialer.models import (
    Account,
    ApiKey,
    Batch,
    BatchStatus,
    CallAttempt,
    ContactLog,
    Job,
    LedgerEntry,
    PlanType,
    Role,
    User,
)

TZ = {"CL": "America/Santiago", "AR": "America/Argentina/Buenos_Aires"}

# -- call settings -------------------------------------------------------------------------

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
# A Chilean collection campaign as the law reads (Ley 21.320: 08:00-20:00 local).
CL_COBRANZA: dict[str, Any] = {
    "allowed_call_hours": {"start": "08:00", "end": "20:00"},
    "compliance_profile": "cl_cobranza",
    "max_concurrent_calls": 50,
    "retry_settings": {"max_attempts": 8, "retry_delay_hours": 1},
}

# Two attempts a contact, the second at once whatever the first outcome: runs that must
# finish quickly and still retry.
NO_DELAY_RETRIES: dict[str, Any] = {
    "max_attempts": 2,
    "retry_delay_hours": 0,
    "per_outcome": {k: {"delay_hours": 0} for k in ("no_answer", "busy", "voicemail", "failed")},
}
# Outcomes of the simulated carrier (DIALER_SIM_OUTCOMES) for fault runs: every kind.
MIXED_OUTCOMES = json.dumps(
    {"completed": 0.6, "no_answer": 0.2, "busy": 0.1, "voicemail": 0.05, "failed": 0.05}
)


def _settings(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return CallSettings.model_validate({**base, **overrides}).model_dump(mode="json")


def call_settings(**overrides: Any) -> dict[str, Any]:
    """Validated batch settings, always open unless ``overrides`` say otherwise."""
    return _settings(ALWAYS_OPEN, overrides)


def cl_cobranza_settings(**overrides: Any) -> dict[str, Any]:
    """Validated batch settings of a Chilean collection campaign (``cl_cobranza``)."""
    return _settings(CL_COBRANZA, overrides)


# -- rows in the caller's session ----------------------------------------------------------


async def add_key(session: AsyncSession, account_id: str, *, key_id: str | None = None) -> str:
    """An API key of ``account_id``; returns the key in clear."""
    key = generate_account_key()
    session.add(
        ApiKey(
            id=key_id or ids.new_id("key"),
            account_id=account_id,
            prefix=key[:8],
            key_hash=hash_key(key),
        )
    )
    await session.flush()
    return key


async def add_account(session: AsyncSession, **overrides: Any) -> tuple[Account, str]:
    """An active Chilean minutes account (600 minutes, no ledger) and one API key (in clear)."""
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
    await session.flush()
    return account, await add_key(session, account.id)


# One hash for every test user: hashing is slow on purpose, logging in is measured once.
TEST_PASSWORD = "clave-de-prueba-2026"
_TEST_PASSWORD_HASH = hash_password(TEST_PASSWORD)


async def add_user(
    session: AsyncSession, account: Account, role: str = "supervisor", **overrides: Any
) -> User:
    """A dashboard user of ``account`` whose password is TEST_PASSWORD."""
    now = clock.now()
    fields: dict[str, Any] = {
        "id": ids.new_id("usr"),
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


async def add_batch(
    session: AsyncSession, account: Account, *, jobs: int = 3, **overrides: Any
) -> tuple[Batch, list[Job]]:
    """A batch with ``jobs`` pending jobs, due now (on the installed clock)."""
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
            id=ids.new_id("job"),
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


def attempt_row(
    *, id: str, job_id: str, batch_id: str, account_id: str, phone: str, **fields: Any
) -> CallAttempt:
    """A call attempt row (first attempt, simulated provider unless ``fields`` say so)."""
    values: dict[str, Any] = {"number": 1, "provider": "simulated", **fields}
    return CallAttempt(
        id=id, job_id=job_id, batch_id=batch_id, account_id=account_id, phone=phone, **values
    )


# -- rows committed by the factory ---------------------------------------------------------


async def make_account(
    db: Database,
    account_id: str | None = None,
    *,
    cap: int = 10,
    minutes: int = 100_000,
    plan: PlanType = PlanType.MINUTES_BASED,
    country: str = "CL",
    name: str = "Cobranzas Test",
    **fields: Any,
) -> str:
    """An account with ``minutes`` topped up through the ledger (units for other plans);
    returns its id."""
    account_id = account_id or f"acc-{secrets.token_hex(5)}"
    fields.setdefault("timezone", TZ[country])
    async with db.write() as s:
        s.add(
            Account(
                id=account_id, account_name=name, country=country, plan_type=plan,
                max_concurrent_calls=cap, settings={}, features={}, **fields,
            )
        )  # fmt: skip
        await s.flush()
        units = minutes * 60 if plan == PlanType.MINUTES_BASED else minutes * 100
        if units:
            await topup(s, account_id, units, key=f"topup:{account_id}")
    return account_id


async def make_key(db: Database, account_id: str, *, key_id: str | None = None) -> str:
    """An API key of an existing account; returns the key in clear."""
    async with db.write() as s:
        return await add_key(s, account_id, key_id=key_id)


async def _make_batch(
    db: Database,
    account_id: str,
    jobs: Iterable[NewJob],
    *,
    now: datetime,
    settings: dict[str, Any],
    priority: int,
    name: str,
) -> str:
    batch_id = f"batch-{now:%Y%m%d}-{secrets.token_hex(4)}"
    async with db.write() as s:
        batch = Batch(
            id=batch_id, account_id=account_id, name=name, priority=priority, is_active=True,
            status=BatchStatus.ACTIVE, call_settings=settings, created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(batch)
        await s.flush()
        await insert_jobs(s, batch, jobs, now=now)
    return batch_id


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
    """An active batch of ``jobs`` generated debtors with ``phones`` numbers each, inserted
    as ingestion does; always open unless ``settings`` say otherwise. Returns its id."""
    new_jobs = (
        NewJob(
            contact_name=f"Cliente {i}",
            dni=f"{10_000_000 + i}-{i % 10}",
            phones=[f"+569{i + 1:07d}{k + 1}" for k in range(phones)],
            payload=payload or {"monto": 150000, "fecha_limite": "2026-03-20"},
            row_number=i + 1,
        )
        for i in range(jobs)
    )
    return await _make_batch(
        db, account_id, new_jobs, now=now, priority=priority, name="Campaña",
        settings=settings if settings is not None else call_settings(),
    )  # fmt: skip


async def make_debtor_batch(
    db: Database,
    account_id: str,
    debtors: Sequence[tuple[str | None, list[str]]],
    *,
    now: datetime,
    settings: dict[str, Any] | None = None,
    payloads: Sequence[dict[str, Any]] | None = None,
    priority: int = 0,
) -> str:
    """An active batch with one job per (dni, phones), ``payloads[i]`` as row i's columns;
    a ``cl_cobranza`` campaign unless ``settings`` say otherwise. Returns its id."""
    new_jobs = (
        NewJob(
            contact_name=f"Deudor {i}",
            dni=dni,
            phones=phones,
            row_number=i + 2,
            payload=dict(payloads[i]) if payloads else {},
        )
        for i, (dni, phones) in enumerate(debtors)
    )
    return await _make_batch(
        db, account_id, new_jobs, now=now, priority=priority, name="Cobranza",
        settings=settings if settings is not None else cl_cobranza_settings(),
    )  # fmt: skip


# -- clients -------------------------------------------------------------------------------


def client_for(app: object, key: str) -> httpx.AsyncClient:
    """A client speaking HTTP to ``app`` with an account key."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    )


def as_key(admin: httpx.AsyncClient, key: str) -> httpx.AsyncClient:
    """A client for the same app as ``admin``, authenticated with an account key."""
    return httpx.AsyncClient(
        transport=admin._transport,
        base_url=str(admin.base_url),
        headers={"Authorization": f"Bearer {key}"},
    )


NewAccount = Callable[..., Awaitable[tuple[str, httpx.AsyncClient]]]


@pytest.fixture
async def new_account(database: Database, app: Any) -> AsyncIterator[NewAccount]:
    """Create an account (no balance) with its own API key; returns (account_id, a client
    with that key)."""
    clients: list[httpx.AsyncClient] = []

    async def make(country: str = "CL", **overrides: Any) -> tuple[str, httpx.AsyncClient]:
        account_id = overrides.pop("id", ids.account_id())
        plan = overrides.pop("plan_type", PlanType.MINUTES_BASED)
        cap = overrides.pop("max_concurrent_calls", 10)
        await make_account(
            database, account_id, cap=cap, minutes=0, plan=plan, country=country,
            name=f"Cobranzas {account_id}", **overrides,
        )  # fmt: skip
        client = client_for(app, await make_key(database, account_id))
        clients.append(client)
        return account_id, client

    yield make
    for c in clients:
        await c.aclose()


# -- over HTTP, as a client does -----------------------------------------------------------

DEFAULT_SETTINGS: dict[str, Any] = {
    "allowed_call_hours": {"start": "09:00", "end": "20:00"},
    "retry_settings": {"max_attempts": 4, "retry_delay_hours": 1},
    "max_concurrent_calls": 3,
}


async def api_account(admin: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """POST /api/v1/accounts (201 asserted); the response body (with ``api_key``)."""
    body: dict[str, Any] = {"account_name": "Cobranzas Sur", "country": "CL"} | overrides
    r = await admin.post("/api/v1/accounts", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def job_bodies(n: int) -> list[dict[str, Any]]:
    """``n`` contacts as the JSON batch API takes them."""
    return [
        {
            "contact_name": f"Deudor {i}",
            "dni": f"{10_000_000 + i}-{i % 10}",
            "phones": [f"+5691234{i:04d}"],
            "payload": {"monto": 1000 + i},
            "row_number": i + 2,
        }
        for i in range(n)
    ]


async def api_batch(
    client: httpx.AsyncClient,
    account_id: str,
    *,
    jobs: int | list[dict[str, Any]] = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """POST /api/v1/batches (201 asserted) with ``jobs`` generated contacts, or these
    job bodies; the response body."""
    body: dict[str, Any] = {
        "account_id": account_id,
        "name": "Octubre",
        "call_settings": DEFAULT_SETTINGS,
    } | overrides
    if jobs:
        body["jobs"] = job_bodies(jobs) if isinstance(jobs, int) else jobs
    r = await client.post("/api/v1/batches", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def rut(n: int) -> str:
    """A valid Chilean RUT, distinct for each ``n``."""
    body = str(15_000_000 + n)
    return f"{body}-{rut_check_digit(body)}"


def debtor(n: int, amount: int = 150_000, **payload: Any) -> dict[str, Any]:
    """A debtor with a valid RUT and a debt in CLP, as the JSON batch API takes it."""
    return {
        "contact_name": f"Deudor {n}",
        "dni": rut(n),
        "phones": [f"+5699{n:07d}"],
        "payload": {"amount": amount, "currency": "CLP", **payload},
    }


async def api_debtor_batch(
    client: httpx.AsyncClient, account_id: str, debtors: list[dict[str, Any]], **settings: Any
) -> dict[str, Any]:
    """A collection batch of ``debtors`` (09:00-20:00, 3 attempts an hour apart)."""
    return await api_batch(
        client, account_id, jobs=debtors, name="Cobranza",
        call_settings={
            "allowed_call_hours": {"start": "09:00", "end": "20:00"},
            "retry_settings": {"max_attempts": 3, "retry_delay_hours": 1},
            **settings,
        },
    )  # fmt: skip


async def api_jobs_by_dni(client: httpx.AsyncClient, batch_id: str) -> dict[str, dict[str, Any]]:
    """The batch's jobs as the API lists them, by debtor id."""
    r = await client.get(f"/api/v1/batches/{batch_id}/jobs", params={"limit": 500})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return {j["dni"]: j for j in items}


# -- reading rows back ---------------------------------------------------------------------


async def _rows(db: Database, stmt: Any) -> list[Any]:
    async with db.read() as s:
        rows = list((await s.execute(stmt)).scalars().all())
        s.expunge_all()  # keep the loaded values after the read session ends
        return rows


async def batch_row(db: Database, batch_id: str) -> Batch:
    (batch,) = await _rows(db, select(Batch).where(Batch.id == batch_id))
    return batch  # type: ignore[no-any-return]


async def account_row(db: Database, account_id: str) -> Account:
    (account,) = await _rows(db, select(Account).where(Account.id == account_id))
    return account  # type: ignore[no-any-return]


async def jobs_of(db: Database, batch_id: str) -> list[Job]:
    """The batch's jobs in row order."""
    return await _rows(db, select(Job).where(Job.batch_id == batch_id).order_by(Job.row_number))


async def attempts_of(db: Database, batch_id: str) -> list[CallAttempt]:
    """The batch's call attempts."""
    return await _rows(db, select(CallAttempt).where(CallAttempt.batch_id == batch_id))


async def account_attempts(db: Database, account_id: str) -> list[CallAttempt]:
    """Every call attempt of the account, in the order they started."""
    return await _rows(
        db,
        select(CallAttempt)
        .where(CallAttempt.account_id == account_id)
        .order_by(CallAttempt.started_at, CallAttempt.id),
    )


async def contact_log(db: Database, account_id: str) -> list[ContactLog]:
    """The account's contact log, oldest first."""
    return await _rows(
        db,
        select(ContactLog)
        .where(ContactLog.account_id == account_id)
        .order_by(ContactLog.contacted_at),
    )


async def job_statuses(db: Database, batch_id: str) -> dict[str, int]:
    """How many of the batch's jobs are in each status."""
    async with db.read() as s:
        rows = (
            await s.execute(
                select(Job.status, func.count())
                .where(Job.batch_id == batch_id)
                .group_by(Job.status)
            )
        ).all()
    return {str(k): int(v) for k, v in rows}


async def ledger_sum(db: Database, account_id: str) -> int:
    """The sum of the account's ledger entries."""
    async with db.read() as s:
        total = await s.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account_id == account_id
            )
        )
        return int(total.scalar_one())
