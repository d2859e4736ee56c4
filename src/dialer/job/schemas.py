"""Job input/output schemas."""

from __future__ import annotations

from datetime import datetime
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
    error: str | None


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
    last_outcome: str | None
    business_result: str | None
    result: dict[str, Any]
    billed_seconds: int
    cost_units: int
    created_at: datetime
    completed_at: datetime | None


class JobDetail(JobRead):
    attempt_history: list[AttemptRead] = Field(default_factory=list)
