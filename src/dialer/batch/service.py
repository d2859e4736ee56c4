"""Batches (campaigns): creation, settings changes, pause / resume / cancel, and the
read views (status for pollers, summary, job listing).

Lifecycle::

    active ⇄ paused          (pause / resume; also PATCH is_active)
    active | paused ──cancel──▶ cancelled   (permanent)
    active | paused ──last job final──▶ completed   (job.service.complete_batch_if_done)

Cancel moves every waiting (pending / scheduled) job to cancelled in one statement
per state through ``job.service.bulk_transition``, so the counters move in the same
transaction. Jobs already dialing finish normally and are billed; the batch stays
cancelled because completion only applies to active or paused batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.repository import AccountRepository
from dialer.account.status import ensure_active, require_active
from dialer.audit import service as audit
from dialer.batch.compliance_checks import waiting_summary
from dialer.batch.repository import BatchRepository
from dialer.batch.schemas import (
    BatchCreate,
    BatchStatusRead,
    BatchSummary,
    BatchUpdate,
    HourlyStat,
    progress_percentage,
    status_of,
)
from dialer.batch.settings import CallSettings
from dialer.billing.pricing import to_display
from dialer.billing.repository import serialize_claims
from dialer.billing.schemas import unit_name
from dialer.compliance import service as compliance_service
from dialer.compliance.place import resolve_place
from dialer.compliance.profiles import check_caller_id, check_no_llame
from dialer.errors import Conflict, InvalidInput, NotFound
from dialer.job import service as job_service
from dialer.job.filters import JobFilter
from dialer.job.repository import JobRepository
from dialer.job.schemas import (
    AttemptRead,
    CallHistoryPage,
    CallRecord,
    ComplianceStop,
    JobDetail,
    JobPaymentRead,
    JobRead,
    NewJob,
    PromiseRead,
)
from dialer.job.states import WAITING, JobStatus
from dialer.kit import clock, ids, phone
from dialer.logging import get_logger
from dialer.models import Account, Batch, BatchStatus, Job, PlanType
from dialer.outbox import publish
from dialer.script import service as script_service

log = get_logger("dialer.batch")

OPEN = frozenset({BatchStatus.ACTIVE, BatchStatus.PAUSED})


class BatchNotEditable(Conflict):
    """The batch is cancelled or completed and can no longer change."""


def _not_found(batch_id: str) -> NotFound:
    return NotFound(f"batch '{batch_id}' not found", field="batch_id")


async def get_batch(
    session: AsyncSession, principal: Principal, batch_id: str, *, for_update: bool = False
) -> Batch:
    """The batch, or NotFound when it does not exist or belongs to another account."""
    repo = BatchRepository.from_session(session)
    if for_update:
        # Status changes take the account's claim lock first (as claims do): a pause or
        # cancel waits for a claim in progress, and later claims see the new status.
        account_id = await repo.account_of(batch_id)
        if account_id is None or not principal.can_see(account_id):
            raise _not_found(batch_id)
        await serialize_claims(session, account_id)
    batch = await repo.get(batch_id, for_update=for_update)
    if batch is None or not principal.can_see(batch.account_id):
        raise _not_found(batch_id)
    return batch


def normalise_job_phones(jobs: Sequence[NewJob], country: str) -> list[NewJob]:
    """``jobs`` with every phone in E.164 by ``kit.phone`` (repeats of a number after
    normalising dropped); InvalidInput (422) naming the first phone that is not one."""
    out: list[NewJob] = []
    for i, job in enumerate(jobs):
        phones: list[str] = []
        for p, raw in enumerate(job.phones):
            try:
                number = phone.e164(raw, country)
            except phone.PhoneInvalid as exc:
                raise InvalidInput(
                    f"jobs.{i}.phones.{p}: {exc}", field=f"jobs.{i}.phones.{p}"
                ) from None
            if number not in phones:
                phones.append(number)
        out.append(job if phones == job.phones else job.model_copy(update={"phones": phones}))
    return out


def _place_of(country: str | None) -> job_service.PlaceOf:
    """The debtor's place of a JSON job, as ingestion resolves a row's (compliance.place)."""

    def place_of(job: NewJob) -> tuple[str | None, str | None, str | None]:
        place = resolve_place(country=country, payload=job.payload, phones=job.phones)
        return place.timezone, place.region, place.source

    return place_of


async def create_batch(
    session: AsyncSession,
    principal: Principal,
    data: BatchCreate,
    *,
    jobs: Iterable[NewJob] | None = None,
    payload_keys: Iterable[str] | None = None,
) -> tuple[Batch, int]:
    """Create an active batch with validated call_settings and, optionally, its jobs.

    ``jobs`` (or ``data.jobs``) are inserted with ``job.service.insert_jobs``; the caller's
    transaction makes batch and jobs appear together or not at all. Returns the batch
    and the number of jobs created.
    """
    principal.check_account(data.account_id)
    principal.require("create_batch")
    account = await AccountRepository.from_session(session).get(data.account_id)
    if account is None:
        raise NotFound(f"account '{data.account_id}' not found", field="account_id")
    ensure_active(account)
    if data.status == "draft":
        # The caller ID is fixed now; the No Llame import is checked when it starts.
        await _check_caller_id(
            session,
            account,
            profile_name=data.call_settings.compliance_profile,
            processing_type=data.processing_type,
            provider=data.provider,
            provider_options=data.provider_options,
        )
    else:
        await _check_can_start(
            session,
            account,
            profile_name=data.call_settings.compliance_profile,
            processing_type=data.processing_type,
            provider=data.provider,
            provider_options=data.provider_options,
        )
    given = data.jobs if jobs is None else None
    if given:
        # JSON jobs get the same phone normalisation as spreadsheet rows (E.164, legacy
        # spellings repaired), so do-not-call and the provider can match their numbers.
        given = normalise_job_phones(given, account.country)
    script_id, script_version = None, None
    if data.script_id is not None:
        # Pin the exact version and check the rows can fill every variable it uses
        # (422 naming the first missing one). Spreadsheet imports pass their columns.
        keys = payload_keys
        if keys is None:
            keys = {k for job in (data.jobs or []) for k in job.payload}
        script = await script_service.validate_batch_script(
            session,
            account_id=account.id,
            script_id=data.script_id,
            version=data.script_version,
            sample_payload_keys=keys,
            processing_type=data.processing_type,
            variable_set=data.variable_set,
        )
        script_id, script_version = script.id, script.version
    now = clock.now()
    draft = data.status == "draft"
    batch = Batch(
        id=ids.batch_id(now),
        account_id=account.id,
        name=data.name,
        description=data.description,
        priority=data.priority,
        is_active=not draft,
        status=BatchStatus.DRAFT if draft else BatchStatus.ACTIVE,
        # Stored as given: a missing timezone means "the account's" at dial time.
        call_settings=data.call_settings.model_dump(mode="json"),
        processing_type=data.processing_type,
        script_id=script_id,
        script_version=script_version,
        variable_set=data.variable_set,
        provider=data.provider,
        provider_options=dict(data.provider_options),
        # Active from creation: dialing starts as soon as the window allows (a draft
        # waits for start_batch).
        started_at=None if draft else now,
        created_at=now,
        updated_at=now,
    )
    session.add(batch)
    await session.flush()
    source = jobs if jobs is not None else (given or [])
    # Each job's place (zone, region, why) at creation, as a spreadsheet upload does.
    created = await job_service.insert_jobs(
        session, batch, source, now=now, place_of=_place_of(account.country)
    )
    if created:
        await session.refresh(batch)
    await publish(
        session,
        account_id=account.id,
        batch_id=batch.id,
        type="batch.created",
        data={"batch_id": batch.id, "status": str(batch.status), "total_jobs": created},
    )
    await audit.record(
        session,
        principal,
        account.id,
        "batch.create",
        target_type="batch",
        target_id=batch.id,
        name=batch.name,
        status=str(batch.status),
        jobs=created or None,
    )
    log.info("batch.created", account_id=account.id, batch_id=batch.id, jobs=created)
    return batch, created


async def list_batches(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    is_active: bool | None,
    status: BatchStatus | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[Batch], int]:
    """Batches newest first; an account key only ever sees its own."""
    return await BatchRepository.from_session(session).list(
        account_id=principal.scope(account_id),
        is_active=is_active,
        status=str(status) if status else None,
        limit=limit,
        skip=skip,
    )


async def _publish_status(session: AsyncSession, batch: Batch, type: str, **data: Any) -> None:
    await publish(
        session,
        account_id=batch.account_id,
        batch_id=batch.id,
        type=type,
        data={"batch_id": batch.id, "status": str(batch.status), "is_active": batch.is_active}
        | data,
    )


_ACTION_OF_EVENT = {"batch.resumed": "batch.resume", "batch.paused": "batch.pause"}


def _require_open(batch: Batch, action: str) -> None:
    if batch.status not in OPEN:
        raise BatchNotEditable(
            f"batch '{batch.id}' is {batch.status}: cannot {action}", status=str(batch.status)
        )


def _pause(batch: Batch) -> bool:
    if batch.status == BatchStatus.PAUSED:
        return False
    now = clock.now()
    batch.status = BatchStatus.PAUSED
    batch.is_active = False
    batch.paused_at = now
    batch.updated_at = now
    return True


def _resume(batch: Batch) -> bool:
    if batch.status == BatchStatus.ACTIVE:
        return False
    batch.status = BatchStatus.ACTIVE
    batch.is_active = True
    batch.paused_at = None
    batch.updated_at = clock.now()
    return True


# Providers whose caller number is named by id (telephony config_service.NUMBER_BY_ID).
ID_NAMED = frozenset({"elevenlabs", "vapi"})


async def _check_caller_id(
    session: AsyncSession,
    account: Account,
    *,
    profile_name: str,
    processing_type: str,
    provider: str | None,
    provider_options: dict[str, Any] | None,
) -> None:
    """Chile's caller-ID numbering (422 citing the rule) on the number the batch will
    present: its own ``provider_options.from_number``, else the default number of the
    account's configuration of the batch's provider. The dispatcher checks again, on
    the number each call really presents. Vapi and ElevenLabs name the number by id
    (``phone_number_id``): the number behind the configuration's id was read from the
    vendor when it was saved; a batch's own id is read by the adapter before each call."""
    options = provider_options or {}
    number = str(options.get("from_number") or "") or None
    number_id = str(options.get("phone_number_id") or "") or None
    field = "provider_options.from_number"
    if number is None and provider is not None:
        number = await compliance_service.default_caller_id(
            session, account.id, provider, number_id
        )
        field = (
            "provider_options.phone_number_id"
            if number_id
            else f"the account's {provider} configuration options.from_number"
            if provider not in ID_NAMED
            else f"the account's {provider} configuration options.phone_number_id"
        )
    check_caller_id(
        profile_name=profile_name,
        processing_type=processing_type,
        country=account.country,
        from_number=number,
        field=field,
    )


async def _check_can_start(
    session: AsyncSession,
    account: Account,
    *,
    profile_name: str,
    processing_type: str,
    provider: str | None,
    provider_options: dict[str, Any] | None,
) -> None:
    """The rules a batch must meet to dial at all: Chile's caller-ID numbering (422) and,
    for Argentine sales batches, a No Llame import of the last 30 days (409)."""
    await _check_caller_id(
        session, account, profile_name=profile_name, processing_type=processing_type,
        provider=provider, provider_options=provider_options,
    )  # fmt: skip
    check_no_llame(
        processing_type=processing_type,
        country=account.country,
        imported_at=account.no_llame_imported_at,
        now=clock.now(),
    )


async def _check_resume(session: AsyncSession, batch: Batch) -> None:
    account = await AccountRepository.from_session(session).get(batch.account_id)
    if account is not None:
        await _check_can_start(
            session,
            account,
            profile_name=str((batch.call_settings or {}).get("compliance_profile") or "none"),
            processing_type=batch.processing_type or "basic",
            provider=batch.provider,
            provider_options=batch.provider_options,
        )


async def pause_batch(session: AsyncSession, principal: Principal, batch_id: str) -> Batch:
    """Stop dialing new calls of the batch (calls in flight finish). Idempotent."""
    batch = await get_batch(session, principal, batch_id, for_update=True)
    principal.require("pause")
    _require_open(batch, "pause")
    if _pause(batch):
        await session.flush()
        await _publish_status(session, batch, "batch.paused")
        await _audit(session, principal, batch, "batch.pause")
    return batch


async def resume_batch(session: AsyncSession, principal: Principal, batch_id: str) -> Batch:
    """Let a paused batch dial again. Idempotent."""
    batch = await get_batch(session, principal, batch_id, for_update=True)
    principal.require("resume")
    _require_open(batch, "resume")
    if batch.status != BatchStatus.ACTIVE:
        await _check_resume(session, batch)
    if _resume(batch):
        await session.flush()
        await _publish_status(session, batch, "batch.resumed")
        await _audit(session, principal, batch, "batch.resume")
    return batch


async def start_batch(
    session: AsyncSession, principal: Principal, batch_id: str, start_at: datetime | None
) -> Batch:
    """Start a draft: dialing begins now, or not before ``start_at`` (a scheduled start).

    A naive ``start_at`` is a wall-clock time in the batch's calling zone. A scheduled
    start makes the batch active with its waiting jobs due at ``start_at``
    (the claim already skips jobs not yet due), and ``started_at`` set to it. Starting a
    batch that is already started is a no-op; a cancelled or completed one is a 409.
    """
    batch = await get_batch(session, principal, batch_id, for_update=True)
    principal.require("start")
    await require_active(session, batch.account_id)
    if start_at is not None and start_at.tzinfo is None:
        # A wall-clock time (the dashboard's form): read in the batch's calling zone.
        start_at = start_at.replace(tzinfo=ZoneInfo(await calling_zone(session, batch)))
    if batch.status in (BatchStatus.ACTIVE, BatchStatus.PAUSED) and start_at is None:
        return batch
    if batch.status != BatchStatus.DRAFT:
        raise BatchNotEditable(
            f"batch '{batch.id}' is {batch.status}: only a draft can be started",
            status=str(batch.status),
        )
    await _check_resume(session, batch)  # caller ID, No Llame (409 saying why)
    now = clock.now()
    scheduled = start_at is not None and start_at > now
    at = start_at if scheduled and start_at is not None else now
    batch.status = BatchStatus.ACTIVE
    batch.is_active = True
    batch.started_at = at
    batch.updated_at = now
    if scheduled:
        await BatchRepository.from_session(session).delay_waiting(batch.id, at)
    await session.flush()
    await _publish_status(session, batch, "batch.started", started_at=at.isoformat())
    await _audit(
        session,
        principal,
        batch,
        "batch.schedule" if scheduled else "batch.start",
        start_at=at.isoformat() if scheduled else None,
    )
    return batch


async def calling_zone(session: AsyncSession, batch: Batch) -> str:
    """The zone the batch's hours are read in: its own, else its account's."""
    zone = (batch.call_settings or {}).get("timezone")
    if zone:
        return str(zone)
    found = await AccountRepository.from_session(session).plan_and_timezone(batch.account_id)
    return found[1] if found else "UTC"


async def _audit(
    session: AsyncSession, principal: Principal, batch: Batch, action: str, **details: Any
) -> None:
    await audit.record(
        session,
        principal,
        batch.account_id,
        action,
        target_type="batch",
        target_id=batch.id,
        name=batch.name,
        **details,
    )


async def update_batch(
    session: AsyncSession, principal: Principal, batch_id: str, data: BatchUpdate
) -> Batch:
    """Change name, description, priority, call_settings or is_active (pause/resume).

    New retry settings also apply to the batch's jobs that are still waiting.
    """
    batch = await get_batch(session, principal, batch_id, for_update=True)
    if batch.status != BatchStatus.DRAFT:
        _require_open(batch, "update")
    fields = data.model_fields_set
    if fields - {"is_active"}:
        principal.require("edit_settings")
    if "is_active" in fields and data.is_active is not None:
        principal.require("resume" if data.is_active else "pause")
        if batch.status == BatchStatus.DRAFT:
            raise BatchNotEditable(
                f"batch '{batch.id}' is a draft: start it (POST /api/v1/batches/{batch.id}/start)",
                status="draft",
            )
    changed: list[str] = []
    for name in ("name", "description", "priority"):
        value = getattr(data, name)
        # Only description may be cleared with null; name and priority ignore it.
        if name in fields and (value is not None or name == "description"):
            setattr(batch, name, value)
            changed.append(name)
    options = batch.provider_options or {}
    if "provider_options" in fields and data.provider_options is not None:
        options = {k: v.strip() for k, v in data.provider_options.items() if v.strip()}
    if "call_settings" in fields and data.call_settings is not None:
        new: CallSettings = data.call_settings
        account = await AccountRepository.from_session(session).get(batch.account_id)
        if account is not None:
            await _check_caller_id(
                session,
                account,
                profile_name=new.compliance_profile,
                processing_type=batch.processing_type or "basic",
                provider=batch.provider,
                provider_options=options,
            )
        batch.call_settings = new.model_dump(mode="json")
        await BatchRepository.from_session(session).set_waiting_max_attempts(
            batch.id, new.retry_settings.max_attempts
        )
        changed.append("call_settings")
    if "script_id" in fields or "script_version" in fields:
        if await _change_script(session, batch, data):
            changed.append("script_id")
    if "provider_options" in fields and data.provider_options is not None:
        account = await AccountRepository.from_session(session).get(batch.account_id)
        if "call_settings" not in changed and account is not None:
            await _check_caller_id(
                session,
                account,
                profile_name=str((batch.call_settings or {}).get("compliance_profile") or "none"),
                processing_type=batch.processing_type or "basic",
                provider=batch.provider,
                provider_options=options,
            )
        if options != (batch.provider_options or {}):
            batch.provider_options = options
            changed.append("provider_options")
    event = None
    if "is_active" in fields and data.is_active is not None:
        if data.is_active and batch.status != BatchStatus.ACTIVE:
            await _check_resume(session, batch)
        if data.is_active and _resume(batch):
            event = "batch.resumed"
        elif not data.is_active and _pause(batch):
            event = "batch.paused"
    if changed:
        batch.updated_at = clock.now()
    await session.flush()
    if changed:
        await _publish_status(session, batch, "batch.updated", changed=changed)
        await _audit(
            session,
            principal,
            batch,
            "batch.settings",
            changed=changed,
            call_settings=batch.call_settings if "call_settings" in changed else None,
            script_id=batch.script_id if "script_id" in changed else None,
            script_version=batch.script_version if "script_id" in changed else None,
        )
    if event:
        await _publish_status(session, batch, event)
        await _audit(session, principal, batch, _ACTION_OF_EVENT[event])
    return batch


async def _change_script(session: AsyncSession, batch: Batch, data: BatchUpdate) -> bool:
    """Pin the script named by the update (None: the account's default), checked as on
    creation against the payload keys of the batch's rows; True when it changed.

    The claim reads the batch's script for every call it places and stores the variables
    it sent on the attempt, so on a running batch the next calls use the new script and
    the calls already on the line keep the one they were placed with.
    """
    script_id = data.script_id
    if script_id is None:
        if data.script_version is not None:
            raise InvalidInput("script_version needs a script_id", field="script_version")
        if batch.script_id is None:
            return False
        batch.script_id, batch.script_version = None, None
        return True
    keys = await BatchRepository.from_session(session).payload_keys(batch.id)
    script = await script_service.validate_batch_script(
        session,
        account_id=batch.account_id,
        script_id=script_id,
        version=data.script_version,
        sample_payload_keys=keys,
        processing_type=batch.processing_type or "basic",
        variable_set=batch.variable_set,
    )
    if (script.id, script.version) == (batch.script_id, batch.script_version):
        return False
    batch.script_id, batch.script_version = script.id, script.version
    return True


class BatchHasCalls(Conflict):
    """The batch has placed calls: its history stays (cancel it instead)."""


async def delete_batch(session: AsyncSession, principal: Principal, batch_id: str) -> int:
    """Delete a batch that never placed a call, with its jobs; returns the jobs deleted.

    Under the account's claim lock (as status changes), so no claim can dial one of its
    jobs meanwhile. BatchHasCalls (409) once any attempt exists: cancel is for those.
    """
    batch = await get_batch(session, principal, batch_id, for_update=True)
    repo = BatchRepository.from_session(session)
    if batch.in_progress_jobs or await repo.has_attempts(batch.id):
        raise BatchHasCalls(
            f"batch '{batch.id}' has placed calls and cannot be deleted; cancel it instead",
            field="batch_id",
        )
    account_id = batch.account_id
    deleted = await repo.delete(batch)
    await publish(
        session,
        account_id=account_id,
        batch_id=batch_id,
        type="batch.deleted",
        data={"batch_id": batch_id, "jobs_deleted": deleted},
    )
    log.info("batch.deleted", account_id=account_id, batch_id=batch_id, jobs=deleted)
    return deleted


async def cancel_batch(
    session: AsyncSession, principal: Principal, batch_id: str, reason: str | None
) -> Batch:
    """Cancel permanently: inactive, completed_at and reason recorded, waiting jobs
    cancelled and counted. Calls in flight finish and are billed.

    Cancelling a cancelled batch returns it unchanged; a completed batch is a 409.
    """
    batch = await get_batch(session, principal, batch_id, for_update=True)
    principal.require("cancel")
    if batch.status == BatchStatus.CANCELLED:
        return batch
    if batch.status == BatchStatus.COMPLETED:
        raise BatchNotEditable(
            f"batch '{batch.id}' is already completed: nothing to cancel", status="completed"
        )
    now = clock.now()
    batch.status = BatchStatus.CANCELLED
    batch.is_active = False
    batch.completed_at = now
    batch.cancelled_reason = reason
    batch.waiting_reason = None
    batch.waiting_until = None
    batch.updated_at = now
    await session.flush()
    cancelled = await job_service.bulk_transition(
        session,
        batch.id,
        batch.account_id,
        sorted(WAITING),
        JobStatus.CANCELLED,
        completed_at=now,
        updated_at=now,
        lease_expires_at=None,
        wait_reason=None,
    )
    # bulk_transition moved the counters in SQL; reload them for the response.
    await session.refresh(batch)
    await _publish_status(
        session,
        batch,
        "batch.cancelled",
        reason=reason,
        jobs_cancelled=cancelled,
        cancelled_jobs=batch.cancelled_jobs,
        pending_jobs=batch.pending_jobs,
    )
    await _audit(session, principal, batch, "batch.cancel", reason=reason, jobs=cancelled)
    log.info("batch.cancelled", account_id=batch.account_id, batch_id=batch.id, jobs=cancelled)
    return batch


async def get_status(session: AsyncSession, principal: Principal, batch_id: str) -> BatchStatusRead:
    """The polling view: a primary-key read of the batch's counters, whatever its size."""
    row = await BatchRepository.from_session(session).status_row(batch_id)
    if row is None or not principal.can_see(row.account_id):
        raise _not_found(batch_id)
    return status_of(row)


@dataclass(frozen=True)
class RetryWait:
    """The jobs of a batch waiting for a retry: how many, when the first is due, and
    how many of them by the outcome of their last call."""

    jobs: int
    next_at: datetime
    by_outcome: dict[str, int]


async def retry_wait(session: AsyncSession, batch: Batch) -> RetryWait | None:
    """Why the batch's retry-waiting jobs wait, for a batch the caller may see."""
    rows = await BatchRepository.from_session(session).retry_waits(batch.id)
    if not rows:
        return None
    by_outcome: dict[str, int] = {}
    for outcome, n, _at in rows:
        key = outcome or "unknown"
        by_outcome[key] = by_outcome.get(key, 0) + n
    return RetryWait(
        jobs=sum(n for _o, n, _at in rows),
        next_at=min(at for _o, _n, at in rows),
        by_outcome=dict(sorted(by_outcome.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


async def get_summary(session: AsyncSession, principal: Principal, batch_id: str) -> BatchSummary:
    """Counters plus outcome and business-result breakdowns, minutes and cost used."""
    batch = await get_batch(session, principal, batch_id)
    repo = BatchRepository.from_session(session)
    account = await AccountRepository.from_session(session).get(batch.account_id)
    plan = PlanType(account.plan_type) if account else PlanType.MINUTES_BASED
    waiting = batch.pending_jobs - batch.in_progress_jobs
    return BatchSummary(
        batch_id=batch.id,
        account_id=batch.account_id,
        name=batch.name,
        status=str(batch.status),
        is_active=batch.is_active,
        total_jobs=batch.total_jobs,
        pending_jobs=batch.pending_jobs,
        in_progress_jobs=batch.in_progress_jobs,
        completed_jobs=batch.completed_jobs,
        failed_jobs=batch.failed_jobs,
        cancelled_jobs=batch.cancelled_jobs,
        progress_percentage=progress_percentage(
            batch.total_jobs, batch.total_jobs - batch.pending_jobs
        ),
        jobs_by_status={
            "waiting": waiting,
            "in_progress": batch.in_progress_jobs,
            "completed": batch.completed_jobs,
            "failed": batch.failed_jobs,
            "cancelled": batch.cancelled_jobs,
        },
        outcomes=await repo.outcome_counts(batch.id),
        business_results=await repo.business_result_counts(batch.id),
        attempts_made=batch.attempts_made,
        answered_calls=batch.answered_calls,
        success_rate_percentage=(
            round(100 * batch.answered_calls / batch.attempts_made, 2)
            if batch.attempts_made
            else 0.0
        ),
        billed_seconds=batch.billed_seconds,
        minutes_used=round(batch.billed_seconds / 60, 2),
        cost_units=batch.cost_units,
        cost=to_display(plan, batch.cost_units),
        cost_unit=unit_name(plan),
        waiting_reason=batch.waiting_reason,
        waiting_until=batch.waiting_until,
        compliance=await waiting_summary(session, batch.id),
        hourly_stats=await hourly_stats(session, batch.id),
        created_at=batch.created_at,
        started_at=batch.started_at,
        completed_at=batch.completed_at,
        cancelled_reason=batch.cancelled_reason,
    )


async def list_jobs(
    session: AsyncSession,
    principal: Principal,
    batch_id: str,
    *,
    status: JobStatus | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[Job], int]:
    """A page of the batch's jobs in file order, optionally of one status."""
    await get_batch(session, principal, batch_id)
    return await JobRepository.from_session(session).list_for_batch(
        batch_id, status=status, limit=limit, skip=skip
    )


async def find_jobs(
    session: AsyncSession,
    principal: Principal,
    batch_id: str,
    flt: JobFilter,
    *,
    limit: int,
    skip: int,
) -> tuple[Sequence[Job], int, list[str]]:
    """A page of the batch's jobs that pass ``flt``, how many pass, and the batch's
    debtor regions (what the region filter offers)."""
    await get_batch(session, principal, batch_id)
    repo = JobRepository.from_session(session)
    items, total = await repo.list_filtered(batch_id, flt, limit=limit, skip=skip)
    return items, total, await repo.regions_of(batch_id)


async def job_stops(session: AsyncSession, jobs: Sequence[Job]) -> dict[str, ComplianceStop]:
    """Why compliance ended each listed job (legal stop / do-not-call), by job id."""
    out: dict[str, ComplianceStop] = {}
    by_account: dict[str, list[Job]] = {}
    for job in jobs:
        by_account.setdefault(job.account_id, []).append(job)
    for account_id, own in by_account.items():
        out.update(await compliance_service.job_stops(session, account_id, own))
    return out


async def job_reads(session: AsyncSession, jobs: Sequence[Job]) -> list[JobRead]:
    """A page of jobs as the API lists them, each with its ``compliance_stop``."""
    stops = await job_stops(session, jobs)
    out = []
    for job in jobs:
        read = JobRead.model_validate(job)
        read.compliance_stop = stops.get(job.id)
        out.append(read)
    return out


async def get_job(session: AsyncSession, principal: Principal, job_id: str) -> JobDetail:
    """One job with its attempt history, oldest attempt first."""
    repo = JobRepository.from_session(session)
    job = await repo.get(job_id)
    if job is None or not principal.can_see(job.account_id):
        raise NotFound(f"job '{job_id}' not found", field="job_id")
    detail = JobDetail.model_validate(job)
    detail.attempt_history = [
        AttemptRead.model_validate(a) for a in await repo.attempts_for(job_id)
    ]
    detail.promises = [PromiseRead.model_validate(p) for p in await repo.promises_for(job_id)]
    detail.compliance_stop = await compliance_service.job_stop(session, job)
    if job.dni:
        detail.payments = [
            JobPaymentRead.model_validate(p)
            for p in await repo.payments_for(job.account_id, job.dni)
        ]
    return detail


async def list_account_batches(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    is_active: bool | None,
    status: BatchStatus | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[Batch], int]:
    """One account's batches, newest first; NotFound for an unknown or foreign account."""
    principal.check_account(account_id)
    if await AccountRepository.from_session(session).get(account_id) is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    return await list_batches(
        session, principal, account_id=account_id, is_active=is_active, status=status,
        limit=limit, skip=skip,
    )  # fmt: skip


# -- job-level operations (across batches) ------------------------------------------------


async def list_all_jobs(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    batch_id: str | None,
    statuses: Sequence[JobStatus] | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    skip: int,
) -> tuple[Sequence[Job], int]:
    """Jobs of any batch the caller may see, newest first; an account key sees its own."""
    scope = principal.scope(account_id)
    if batch_id is not None:
        batch = await get_batch(session, principal, batch_id)
        if scope is not None and batch.account_id != scope:
            return [], 0
    return await JobRepository.from_session(session).list_jobs(
        account_id=scope, batch_id=batch_id, statuses=statuses, created_from=created_from,
        created_to=created_to, limit=limit, skip=skip,
    )  # fmt: skip


async def _job_for_change(session: AsyncSession, principal: Principal, job_id: str) -> Job:
    repo = JobRepository.from_session(session)
    job = await repo.get(job_id)
    if job is None or not principal.can_see(job.account_id):
        raise NotFound(f"job '{job_id}' not found", field="job_id")
    # The batch's claim lock first (as pause/cancel do), then the job, re-read under it.
    await get_batch(session, principal, job.batch_id, for_update=True)
    locked = await repo.get(job_id, for_update=True, refresh=True)
    assert locked is not None
    return locked


class JobNotRetryable(Conflict):
    """Only a failed job of an open or completed batch can be retried."""


class JobNotCancellable(Conflict):
    """Only a job that is waiting to be dialed can be cancelled."""


async def retry_job(session: AsyncSession, principal: Principal, job_id: str) -> Job:
    """Give a failed job another round of attempts, due now.

    The batch's max_attempts is added to the attempts already made, so attempt numbers
    keep counting up. A completed batch becomes active again; a cancelled one refuses.
    """
    job = await _job_for_change(session, principal, job_id)
    if job.status != JobStatus.FAILED:
        raise JobNotRetryable(
            f"job '{job_id}' is {job.status}: only failed jobs can be retried",
            status=str(job.status),
        )
    batch = await BatchRepository.from_session(session).get(job.batch_id)
    assert batch is not None
    if batch.status == BatchStatus.CANCELLED:
        raise JobNotRetryable(
            f"batch '{batch.id}' is cancelled: its jobs cannot be retried", status="cancelled"
        )
    now = clock.now()
    if batch.status == BatchStatus.COMPLETED:
        batch.status = BatchStatus.ACTIVE
        batch.is_active = True
        batch.completed_at = None
        batch.updated_at = now
        await session.flush()
        await _publish_status(session, batch, "batch.reopened")
    rounds = job_service.max_attempts_of(batch)
    await job_service.transition(
        session, job, JobStatus.PENDING, max_attempts=job.attempts + rounds, next_attempt_at=now,
        phone_index=0, completed_at=None, wait_reason=None, lease_expires_at=None,
        worker_id=None, updated_at=now,
    )  # fmt: skip
    log.info("job.retried", account_id=job.account_id, batch_id=job.batch_id, job_id=job.id)
    return job


async def cancel_job(session: AsyncSession, principal: Principal, job_id: str) -> Job:
    """Cancel one job that is waiting (pending or scheduled). A call in flight finishes."""
    job = await _job_for_change(session, principal, job_id)
    if job.status not in WAITING:
        raise JobNotCancellable(
            f"job '{job_id}' is {job.status}: only waiting jobs can be cancelled",
            status=str(job.status),
        )
    now = clock.now()
    await job_service.transition(
        session, job, JobStatus.CANCELLED, completed_at=now, wait_reason=None, updated_at=now
    )
    log.info("job.cancelled", account_id=job.account_id, batch_id=job.batch_id, job_id=job.id)
    return job


async def call_history(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    batch_id: str | None,
    ended_from: datetime | None,
    ended_to: datetime | None,
    limit: int,
    skip: int,
) -> CallHistoryPage:
    """Finished calls (attempts) newest first, with the contact they were for."""
    scope = principal.scope(account_id)
    if batch_id is not None:
        batch = await get_batch(session, principal, batch_id)
        if scope is not None and batch.account_id != scope:
            return CallHistoryPage(items=[], total=0, limit=limit, skip=skip)
    rows, total = await JobRepository.from_session(session).call_history(
        account_id=scope, batch_id=batch_id, ended_from=ended_from, ended_to=ended_to,
        limit=limit, skip=skip,
    )  # fmt: skip
    return CallHistoryPage(
        items=[CallRecord.of(a, j) for a, j in rows], total=total, limit=limit, skip=skip
    )


async def hourly_stats(session: AsyncSession, batch_id: str) -> list[HourlyStat]:
    """The batch's calls per hour over the last 24 hours, newest first."""
    since = clock.now() - timedelta(hours=24)
    out = []
    for hour, calls, answered in await BatchRepository.from_session(session).hourly_calls(
        batch_id, since
    ):
        out.append(
            HourlyStat(
                hour=datetime.fromisoformat(hour).replace(tzinfo=UTC).isoformat(),
                calls=calls,
                answered_calls=answered,
                success_rate_percentage=round(100 * answered / calls, 2) if calls else 0.0,
            )
        )
    return out


async def latest_attempts(session: AsyncSession, jobs: Sequence[Job]) -> dict[str, AttemptRead]:
    """The latest attempt of each job (jobs the caller was already allowed to read)."""
    found = await JobRepository.from_session(session).latest_attempts([j.id for j in jobs])
    return {job_id: AttemptRead.model_validate(a) for job_id, a in found.items()}
