"""Batches API (/api/v1/batches), jobs across batches (/api/v1/jobs), the calls history
(/api/v1/calls/history) and an account's batches (/api/v1/accounts/{id}/batches)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from dialer.account.auth import CurrentPrincipal
from dialer.account.ratelimit import RateLimitStatus
from dialer.batch import service
from dialer.batch.schemas import (
    BatchCreate,
    BatchCreated,
    BatchRead,
    BatchStart,
    BatchStatusRead,
    BatchSummary,
    BatchUpdate,
)
from dialer.db.session import ReadSession, WriteSession
from dialer.errors import error_responses
from dialer.job.schemas import CallHistoryPage, JobDetail, JobRead
from dialer.job.states import JobStatus
from dialer.kit.pagination import Page
from dialer.models import BatchStatus

router = APIRouter()
batches = APIRouter(prefix="/api/v1/batches", tags=["batches"])
jobs = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
calls = APIRouter(prefix="/api/v1/calls", tags=["jobs"])
account_batches = APIRouter(prefix="/api/v1/accounts", tags=["batches"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Skip = Annotated[int, Query(ge=0, le=1_000_000_000)]


@batches.post("", status_code=201, response_model=BatchCreated)
async def create_batch(
    body: BatchCreate, session: WriteSession, principal: CurrentPrincipal
) -> BatchCreated:
    """Create a batch with validated call_settings and, optionally, its contacts."""
    batch, created = await service.create_batch(session, principal, body)
    return BatchCreated(**BatchRead.of(batch).model_dump(), jobs_created=created)


@batches.get("", response_model=Page[BatchRead])
async def list_batches(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    is_active: bool | None = None,
    status: BatchStatus | None = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[BatchRead]:
    items, total = await service.list_batches(
        session,
        principal,
        account_id=account_id,
        is_active=is_active,
        status=status,
        limit=limit,
        skip=skip,
    )
    return Page(items=[BatchRead.of(b) for b in items], total=total, limit=limit, skip=skip)


@batches.get("/{batch_id}", response_model=BatchRead)
async def get_batch(batch_id: str, session: ReadSession, principal: CurrentPrincipal) -> BatchRead:
    return BatchRead.of(await service.get_batch(session, principal, batch_id))


@batches.patch("/{batch_id}", response_model=BatchRead)
async def update_batch(
    batch_id: str, body: BatchUpdate, session: WriteSession, principal: CurrentPrincipal
) -> BatchRead:
    """Change name, description, priority, call_settings or is_active. 409 once the
    batch is cancelled or completed."""
    return BatchRead.of(await service.update_batch(session, principal, batch_id, body))


@batches.get("/{batch_id}/summary", response_model=BatchSummary)
async def summary(batch_id: str, session: ReadSession, principal: CurrentPrincipal) -> BatchSummary:
    return await service.get_summary(session, principal, batch_id)


@batches.get("/{batch_id}/status", response_model=BatchStatusRead)
async def status(
    batch_id: str, session: ReadSession, principal: CurrentPrincipal, _limit: RateLimitStatus
) -> BatchStatusRead:
    """Polling-optimised progress: reads one row, constant time at any batch size."""
    return await service.get_status(session, principal, batch_id)


@batches.post("/{batch_id}/pause", response_model=BatchRead)
async def pause(batch_id: str, session: WriteSession, principal: CurrentPrincipal) -> BatchRead:
    return BatchRead.of(await service.pause_batch(session, principal, batch_id))


@batches.post("/{batch_id}/start", response_model=BatchRead)
async def start(
    batch_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
    body: BatchStart | None = None,
) -> BatchRead:
    """Start a draft batch now, or schedule it with ``start_at`` (nothing is dialed
    before). A started batch answers unchanged; cancelled or completed ones 409."""
    start_at = body.start_at if body else None
    return BatchRead.of(await service.start_batch(session, principal, batch_id, start_at))


@batches.post("/{batch_id}/resume", response_model=BatchRead)
async def resume(batch_id: str, session: WriteSession, principal: CurrentPrincipal) -> BatchRead:
    return BatchRead.of(await service.resume_batch(session, principal, batch_id))


@batches.delete("/{batch_id}", status_code=204, responses=error_responses(404, 409))
async def delete_batch(batch_id: str, session: WriteSession, principal: CurrentPrincipal) -> None:
    """Delete a batch that has placed no call, with its jobs (a mistaken upload).
    409 once any call was placed: cancel it instead, which keeps the history."""
    await service.delete_batch(session, principal, batch_id)


@batches.post("/{batch_id}/cancel", response_model=BatchRead)
async def cancel(
    batch_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> BatchRead:
    """Cancel permanently. Waiting jobs are cancelled; calls in flight finish and are
    billed. Repeating the call is harmless; a completed batch answers 409."""
    return BatchRead.of(await service.cancel_batch(session, principal, batch_id, reason))


@batches.get("/{batch_id}/jobs", response_model=Page[JobRead])
async def list_jobs(
    batch_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    status: JobStatus | None = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[JobRead]:
    """A page of the batch's jobs in file order; a job compliance ended says why
    (``compliance_stop``)."""
    items, total = await service.list_jobs(
        session, principal, batch_id, status=status, limit=limit, skip=skip
    )
    return Page(items=await service.job_reads(session, items), total=total, limit=limit, skip=skip)


@jobs.get("", response_model=Page[JobRead])
async def list_all_jobs(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    batch_id: str | None = None,
    status: Annotated[list[JobStatus] | None, Query(description="One or more statuses.")] = None,
    created_from: Annotated[datetime | None, Query(description="ISO 8601, inclusive.")] = None,
    created_to: Annotated[datetime | None, Query(description="ISO 8601, inclusive.")] = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[JobRead]:
    """Jobs across batches, newest first, filtered by account, batch, status and creation
    time. An account key sees only its own jobs."""
    items, total = await service.list_all_jobs(
        session, principal, account_id=account_id, batch_id=batch_id, statuses=status,
        created_from=_utc(created_from), created_to=_utc(created_to), limit=limit, skip=skip,
    )  # fmt: skip
    return Page(items=await service.job_reads(session, items), total=total, limit=limit, skip=skip)


@jobs.get("/{job_id}", response_model=JobDetail)
async def get_job(job_id: str, session: ReadSession, principal: CurrentPrincipal) -> JobDetail:
    """One job with its attempt history."""
    return await service.get_job(session, principal, job_id)


@jobs.put("/{job_id}/retry", response_model=JobRead)
async def retry_job(job_id: str, session: WriteSession, principal: CurrentPrincipal) -> JobRead:
    """Give a failed job another round of attempts, due now (409 unless failed). A
    completed batch becomes active again."""
    return JobRead.model_validate(await service.retry_job(session, principal, job_id))


@jobs.put("/{job_id}/cancel", response_model=JobRead)
async def cancel_job(job_id: str, session: WriteSession, principal: CurrentPrincipal) -> JobRead:
    """Cancel a job waiting to be dialed (409 once it is dialing or finished)."""
    return JobRead.model_validate(await service.cancel_job(session, principal, job_id))


@calls.get("/history", response_model=CallHistoryPage)
async def call_history(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    batch_id: str | None = None,
    start_date: Annotated[datetime | None, Query(description="Calls ended at or after.")] = None,
    end_date: Annotated[datetime | None, Query(description="Calls ended at or before.")] = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> CallHistoryPage:
    """Finished calls, newest first: phone, outcome, duration, cost, summary, extracted."""
    return await service.call_history(
        session, principal, account_id=account_id, batch_id=batch_id,
        ended_from=_utc(start_date), ended_to=_utc(end_date), limit=limit, skip=skip,
    )  # fmt: skip


@account_batches.get("/{account_id}/batches", response_model=Page[BatchRead])
async def list_account_batches(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    is_active: bool | None = None,
    status: BatchStatus | None = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> Page[BatchRead]:
    """The account's batches, newest first (404 for an unknown or foreign account)."""
    items, total = await service.list_account_batches(
        session, principal, account_id, is_active=is_active, status=status, limit=limit, skip=skip
    )
    return Page(items=[BatchRead.of(b) for b in items], total=total, limit=limit, skip=skip)


def _utc(at: datetime | None) -> datetime | None:
    """Query datetimes without an offset are read as UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


router.include_router(batches)
router.include_router(jobs)
router.include_router(calls)
router.include_router(account_batches)
