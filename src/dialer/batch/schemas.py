"""Batch API types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from dialer.batch.settings import CallSettings
from dialer.billing.pricing import to_display
from dialer.billing.schemas import unit_name
from dialer.job.schemas import NewJob
from dialer.models import Batch, PlanType

ProcessingType = Literal["basic", "acquisition"]
VariableSet = Literal["standard", "legacy"]

# The per-batch provider options a call uses (worker.runner.request_for). Another key
# would be stored and never read, so it is refused, naming it.
PROVIDER_OPTION_KEYS = (
    "agent_id",
    "agent_version",
    "branch_id",  # ElevenLabs: the agent branch the calls run
    "from_number",
    "phone_number_id",
)


def check_provider_options(options: dict[str, str] | None) -> dict[str, str] | None:
    unknown = sorted(set(options or {}) - set(PROVIDER_OPTION_KEYS))
    if unknown:
        raise ValueError(
            f"unknown option {', '.join(unknown)}; the options are {', '.join(PROVIDER_OPTION_KEYS)}"
        )
    return options


# Column limits of the jobs table: checked here so PostgreSQL never rejects a row (a 500).
_JOB_LIMITS = {"contact_name": 200, "dni": 32, "email": 320}
_MAX_INT = 2**31 - 1


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    priority: int = Field(0, ge=-100, le=100, description="Higher is dialed first.")
    call_settings: CallSettings = Field(default_factory=CallSettings)
    processing_type: ProcessingType = "basic"
    script_id: str | None = Field(None, max_length=64)
    script_version: int | None = Field(
        None,
        ge=1,
        le=_MAX_INT,
        description="Pin another version of script_id (default: the one named).",
    )
    provider: Literal["simulated", "retell", "twilio", "elevenlabs", "vapi"] | None = Field(
        None, description="Telephony provider for this batch (default: the server's)."
    )
    variable_set: VariableSet | None = Field(
        None,
        description="Agent variables: 'standard', or 'legacy' (the replaced system's names "
        "and formats). Default: the script's choice, else standard.",
    )
    provider_options: dict[str, str] = Field(
        default_factory=dict,
        description="Per-batch provider options: agent_id, agent_version (pinned, so editing "
        "the agent does not change a running campaign), branch_id (ElevenLabs agent "
        "branch), from_number, phone_number_id (ElevenLabs/Vapi number id).",
    )
    jobs: list[NewJob] | None = Field(
        None, description="Contacts for API-created batches (spreadsheets use /excel/create)."
    )
    status: Literal["active", "draft"] = Field(
        "active",
        description="draft: created for review, nothing is dialed until "
        "POST /api/v1/batches/{batch_id}/start.",
    )

    _known_options = field_validator("provider_options")(check_provider_options)

    @field_validator("jobs")
    @classmethod
    def _fit_columns(cls, jobs: list[NewJob] | None) -> list[NewJob] | None:
        for i, job in enumerate(jobs or []):
            for name, limit in _JOB_LIMITS.items():
                value = getattr(job, name)
                if value is not None and len(value) > limit:
                    raise ValueError(f"jobs.{i}.{name}: longer than {limit} characters")
            if job.row_number is not None and not 0 <= job.row_number <= _MAX_INT:
                raise ValueError(f"jobs.{i}.row_number: out of range")
            for p, phone in enumerate(job.phones):
                if not phone or len(phone) > 32:
                    raise ValueError(f"jobs.{i}.phones.{p}: not a phone number")
        return jobs


class BatchStart(BaseModel):
    """Start a draft now, or at ``start_at`` (nothing is dialed before it)."""

    model_config = ConfigDict(extra="forbid")

    start_at: AwareDatetime | None = Field(
        None, description="When to start dialing (ISO 8601 with offset); omitted: now."
    )


class BatchUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    priority: int | None = Field(None, ge=-100, le=100)
    call_settings: CallSettings | None = None
    provider_options: dict[str, str] | None = Field(
        None,
        description="Replace the per-batch provider options (agent_id, agent_version, "
        "from_number = the caller ID, phone_number_id); checked against the caller-ID "
        "rules like on creation. Takes effect from the next call.",
    )
    script_id: str | None = Field(
        None,
        max_length=64,
        description="Pin another script (any version's id; null: the account's default "
        "script). Checked like on creation against the batch's rows. On a running batch "
        "the calls placed from then on use it; calls already on the line keep theirs.",
    )
    script_version: int | None = Field(
        None, ge=1, le=_MAX_INT, description="With script_id: pin this version of it."
    )
    is_active: bool | None = None

    _known_options = field_validator("provider_options")(check_provider_options)


def progress_percentage(total: int, done: int) -> float:
    return round(100 * done / total, 2) if total else 0.0


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


# Not "waiting to be dialed": every job that is not final yet - waiting, being dialed or
# on a call (so in_progress_jobs is part of it). Progress is total_jobs - pending_jobs.
PendingJobs = Annotated[
    int,
    Field(
        description="jobs not final yet: waiting, being dialed or on a call "
        "(in_progress_jobs is part of it); progress is total_jobs - pending_jobs"
    ),
]


class BatchStatusRead(BaseModel):
    """The polling view: one batch row, constant time."""

    batch_id: str
    is_active: bool
    status: str
    total_jobs: int
    completed_jobs: int
    pending_jobs: PendingJobs
    failed_jobs: int
    cancelled_jobs: int
    in_progress_jobs: int
    progress_percentage: float
    waiting_reason: str | None
    waiting_until: str | None = Field(
        None, description="Until when the batch waits for waiting_reason, when known (ISO)."
    )
    total_minutes: float = Field(description="Billed minutes so far (batch counter).")
    total_cost: float | None = Field(
        None, description="Charged so far, in the account's unit (cost_unit)."
    )
    cost_unit: Literal["minutes", "credits"] | None = None
    created_at: str
    started_at: str | None
    completed_at: str | None


class HourlyStat(BaseModel):
    hour: str = Field(description="Start of the hour, ISO 8601 UTC.")
    calls: int = Field(description="Finished call attempts in that hour.")
    answered_calls: int
    success_rate_percentage: float


class BatchRead(BaseModel):
    batch_id: str
    account_id: str
    name: str
    description: str | None
    priority: int
    is_active: bool
    status: str
    call_settings: dict[str, Any]
    processing_type: str
    script_id: str | None
    script_version: int | None
    variable_set: str | None
    total_jobs: int
    pending_jobs: PendingJobs
    in_progress_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    progress_percentage: float
    attempts_made: int
    answered_calls: int
    billed_seconds: int
    minutes_used: float
    cost_units: int
    waiting_reason: str | None
    waiting_until: datetime | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_reason: str | None

    @classmethod
    def of(cls, b: Batch) -> BatchRead:
        return cls(
            batch_id=b.id,
            account_id=b.account_id,
            name=b.name,
            description=b.description,
            priority=b.priority,
            is_active=b.is_active,
            status=str(b.status),
            call_settings=b.call_settings or {},
            processing_type=b.processing_type,
            script_id=b.script_id,
            script_version=b.script_version,
            variable_set=b.variable_set,
            total_jobs=b.total_jobs,
            pending_jobs=b.pending_jobs,
            in_progress_jobs=b.in_progress_jobs,
            completed_jobs=b.completed_jobs,
            failed_jobs=b.failed_jobs,
            cancelled_jobs=b.cancelled_jobs,
            progress_percentage=progress_percentage(b.total_jobs, b.total_jobs - b.pending_jobs),
            attempts_made=b.attempts_made,
            answered_calls=b.answered_calls,
            billed_seconds=b.billed_seconds,
            minutes_used=round(b.billed_seconds / 60, 2),
            cost_units=b.cost_units,
            waiting_reason=b.waiting_reason,
            waiting_until=b.waiting_until,
            created_at=b.created_at,
            updated_at=b.updated_at,
            started_at=b.started_at,
            paused_at=b.paused_at,
            completed_at=b.completed_at,
            cancelled_reason=b.cancelled_reason,
        )


class BatchCreated(BatchRead):
    jobs_created: int


class BatchSummary(BaseModel):
    batch_id: str
    account_id: str
    name: str
    status: str
    is_active: bool
    total_jobs: int
    pending_jobs: PendingJobs
    in_progress_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    progress_percentage: float
    jobs_by_status: dict[str, int]
    outcomes: dict[str, int] = Field(description="Finished call attempts per outcome.")
    business_results: dict[str, int] = Field(description="Jobs per business result.")
    attempts_made: int
    answered_calls: int
    success_rate_percentage: float
    billed_seconds: int
    minutes_used: float
    cost_units: int
    cost: float = Field(description="Cost in the account's unit (minutes or credits).")
    cost_unit: Literal["minutes", "credits"]
    waiting_reason: str | None
    waiting_until: datetime | None
    compliance: dict[str, Any] | None = Field(
        None, description="Jobs held back by the compliance profile or do-not-call list, by reason."
    )
    hourly_stats: list[HourlyStat] = Field(
        default_factory=list, description="Calls per hour over the last 24 hours, newest first."
    )
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_reason: str | None


def status_of(row: Any, plan_type: str | None = None) -> BatchStatusRead:
    """Build the status view from a batch row (ORM object or a Row of its columns, which
    may carry the account's ``plan_type``)."""
    plan_name = plan_type or getattr(row, "plan_type", None)
    plan = PlanType(plan_name) if plan_name else None
    total = row.total_jobs
    return BatchStatusRead(
        batch_id=row.id,
        is_active=row.is_active,
        status=str(row.status),
        total_jobs=total,
        completed_jobs=row.completed_jobs,
        pending_jobs=row.pending_jobs,
        failed_jobs=row.failed_jobs,
        cancelled_jobs=row.cancelled_jobs,
        in_progress_jobs=row.in_progress_jobs,
        progress_percentage=progress_percentage(total, total - row.pending_jobs),
        waiting_reason=row.waiting_reason,
        waiting_until=_iso(row.waiting_until),
        total_minutes=round(row.billed_seconds / 60, 2),
        total_cost=to_display(plan, row.cost_units) if plan else None,
        cost_unit=unit_name(plan) if plan else None,
        created_at=row.created_at.isoformat(),
        started_at=_iso(row.started_at),
        completed_at=_iso(row.completed_at),
    )
