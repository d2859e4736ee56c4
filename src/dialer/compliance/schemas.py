"""Compliance API types."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DoNotCallCreate(BaseModel):
    """One number (``phone``) or many (``phones``); national or international format."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(None, max_length=64)
    phones: list[str] = Field(default_factory=list, max_length=10_000)
    reason: str | None = Field(None, max_length=500)
    source: str | None = Field("api", max_length=64)
    # Region for national-format numbers; defaults to the account's country.
    country: str | None = Field(None, pattern="^(CL|AR)$")

    @model_validator(mode="after")
    def _some_phone(self) -> DoNotCallCreate:
        if self.phone is None and not self.phones:
            raise ValueError("phone or phones: give at least one number")
        return self

    def all_phones(self) -> list[str]:
        return ([self.phone] if self.phone is not None else []) + self.phones


class DoNotCallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    phone: str
    source: str | None
    reason: str | None
    created_at: datetime


class DoNotCallAdded(BaseModel):
    added: list[str]
    duplicates: list[str]


class DoNotCallPage(BaseModel):
    items: list[DoNotCallRead]
    total: int
    limit: int
    skip: int


class RowProblem(BaseModel):
    row: int
    column: str
    value: str
    reason: str


class DoNotCallImportResult(BaseModel):
    """What an import did; rows are spreadsheet rows (1-based, header included)."""

    format: str  # "header" or "no_llame"
    column: str
    total_rows: int
    added: int
    duplicates: int
    invalid: int
    duplicate_rows: list[int]
    invalid_rows: list[RowProblem]
    truncated: bool  # the row lists were cut at the first 1000 entries


class ComplianceRule(BaseModel):
    rule: str
    text: str


class ComplianceProfileRead(BaseModel):
    name: str
    citation: str
    rules: list[ComplianceRule]


class WaitingSummary(BaseModel):
    """Jobs of a batch held back by compliance, and why."""

    compliance_profile: str
    waiting_jobs: int
    by_reason: dict[str, int]
    next_allowed_at: datetime | None
    do_not_call_jobs: int
    calling_window_open: bool | None
    next_window_at: datetime | None


LegalStopReason = Literal["judicial", "insolvency", "dispute", "deceased", "other"]


class LegalStopCreate(BaseModel):
    """One debtor (``debtor_id``) or many (``debtor_ids``): RUT, DNI or CUIT/CUIL."""

    model_config = ConfigDict(extra="forbid")

    debtor_id: str | None = Field(None, max_length=32)
    debtor_ids: list[str] = Field(default_factory=list, max_length=10_000)
    reason: LegalStopReason
    note: str | None = Field(None, max_length=2000)
    source: str | None = Field("api", max_length=64)
    # How to read the ids; defaults to the account's country.
    country: str | None = Field(None, pattern="^(CL|AR)$")

    @model_validator(mode="after")
    def _some_id(self) -> LegalStopCreate:
        if self.debtor_id is None and not self.debtor_ids:
            raise ValueError("debtor_id or debtor_ids: give at least one id")
        return self

    def all_ids(self) -> list[str]:
        return ([self.debtor_id] if self.debtor_id is not None else []) + self.debtor_ids


class LegalStopRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    debtor_id: str
    reason: str
    note: str | None
    source: str | None
    created_at: datetime


class LegalStopAdded(BaseModel):
    added: list[str]
    duplicates: list[str]
    # Waiting jobs of these debtors ended at once (in every batch of the account).
    jobs_stopped: int


class LegalStopPage(BaseModel):
    items: list[LegalStopRead]
    total: int
    limit: int
    skip: int


class LegalStopImportResult(BaseModel):
    """What an import did; rows are spreadsheet rows (1-based, header included)."""

    column: str
    total_rows: int
    added: int
    duplicates: int
    invalid: int
    jobs_stopped: int
    duplicate_rows: list[int]
    invalid_rows: list[RowProblem]
    truncated: bool
