"""Job input/output schemas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NewJob(BaseModel):
    """One contact to add to a batch (from JSON or a spreadsheet row)."""

    model_config = ConfigDict(extra="forbid")

    contact_name: str | None = None
    dni: str | None = None  # normalised RUT / DNI / CUIT
    phones: list[str] = Field(min_length=1)  # E.164, in dialing order
    email: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)  # amount, currency, fecha_limite, ...
    row_number: int | None = None


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_id: str = Field(validation_alias="id")
    number: int
    phone: str
    phone_index: int
    provider: str
    provider_call_id: str | None
    status: str
    outcome: str | None
    business_result: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int
    billed_seconds: int
    cost_units: int
    variables: dict[str, Any]
    transcript: str | None
    summary: str | None
    extracted: dict[str, Any]
    result: dict[str, Any] | None = Field(
        default=None, description="Structured business result (promise, callback, paid...)."
    )
    recording_url: str | None = None
    error: str | None
    # The provider's own report of the call (besides recording_url).
    provider_cost: dict[str, Any] | None = None
    collected_variables: dict[str, Any] | None = None
    provider_ids: dict[str, str] | None = None


class PromiseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    promise_id: str = Field(validation_alias="id")
    attempt_id: str
    amount: int | None = Field(description="Smallest unit of the currency.")
    currency: str
    due_on: date | None
    method: str | None
    status: str = Field(description="open | kept | broken | superseded | withdrawn")
    paid_amount: int
    created_at: datetime


class JobPaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    amount: int
    currency: str
    paid_on: date


class ComplianceStop(BaseModel):
    """Why compliance ended this job: the legal stop on its debtor, or the do-not-call
    entry of its number, as recorded now (null when the stop or entry was lifted since)."""

    kind: str = Field(description="legal_stop | do_not_call")
    reason: str | None = Field(
        description="legal_stop: judicial | insolvency | dispute | deceased | other; "
        "do_not_call: the entry's reason (free text)"
    )
    note: str | None = None
    source: str | None = Field(default=None, description="api, import, no_llame, call, ...")
    phone: str | None = Field(default=None, description="do_not_call: the listed number")
    since: datetime | None = None


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: str = Field(validation_alias="id")
    batch_id: str
    account_id: str
    row_number: int | None
    status: str
    contact_name: str | None
    dni: str | None
    phones: list[str]
    email: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    phone_index: int
    next_attempt_at: datetime | None
    wait_reason: str | None
    # The debtor's place its calling rules are read in (compliance.place): the local zone
    # (null: the batch's), the region (holidays subdivision) and why. Resolved when the
    # job is created (spreadsheet upload or JSON batch creation); a job written without
    # one (``place_source`` null) gets it when first due.
    timezone: str | None = None
    region: str | None = None
    place_source: str | None = None
    last_outcome: str | None
    business_result: str | None
    result: dict[str, Any]
    billed_seconds: int
    cost_units: int
    created_at: datetime
    completed_at: datetime | None
    compliance_stop: ComplianceStop | None = Field(
        default=None,
        description="Why compliance ended the job: set when it ended with last_outcome "
        "legal_stop or do_not_call (the stop or list entry as it stands; null once lifted).",
    )


class JobDetail(JobRead):
    attempt_history: list[AttemptRead] = Field(default_factory=list)
    promises: list[PromiseRead] = Field(default_factory=list)
    payments: list[JobPaymentRead] = Field(
        default_factory=list, description="The debtor's payments in the account."
    )


class CallRecord(BaseModel):
    """One finished call (an attempt) in the calls history."""

    attempt_id: str
    job_id: str
    batch_id: str
    account_id: str
    contact_name: str | None
    dni: str | None
    phone: str
    attempt_number: int
    provider: str
    provider_call_id: str | None
    outcome: str | None
    business_result: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int
    billed_seconds: int
    cost_units: int
    summary: str | None
    transcript: str | None
    extracted: dict[str, Any]

    @classmethod
    def of(cls, a: Any, job: Any) -> CallRecord:
        return cls(
            attempt_id=a.id, job_id=a.job_id, batch_id=a.batch_id, account_id=a.account_id,
            contact_name=job.contact_name, dni=job.dni, phone=a.phone, attempt_number=a.number,
            provider=a.provider, provider_call_id=a.provider_call_id, outcome=a.outcome,
            business_result=a.business_result, started_at=a.started_at,
            answered_at=a.answered_at, ended_at=a.ended_at, duration_s=a.duration_s,
            billed_seconds=a.billed_seconds, cost_units=a.cost_units, summary=a.summary,
            transcript=a.transcript, extracted=dict(a.extracted or {}),
        )  # fmt: skip


class CallHistoryPage(BaseModel):
    items: list[CallRecord]
    total: int
    limit: int
    skip: int
