"""API shapes of the spreadsheet import: options in, preview and report out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from dialer.batch.settings import CallSettings

SkipReason = Literal["duplicate_in_file", "duplicate_in_active_batch", "do_not_call", "legal_stop"]


class ImportOptions(BaseModel):
    """Everything the operator chose besides the file."""

    account_id: str = Field(min_length=1, max_length=64)
    batch_name: str | None = Field(None, max_length=200)
    batch_description: str | None = Field(None, max_length=5000)
    processing_type: Literal["basic", "acquisition"] = "basic"
    country: Literal["CL", "AR"] | None = None  # None: the account's
    allow_duplicates: bool = False
    call_settings: CallSettings | None = None
    dias_fecha_limite: int | None = Field(None, ge=0, le=3650)
    dias_fecha_maxima: int | None = Field(None, ge=0, le=3650)
    column_mapping: dict[str, str | None] | None = None
    variable_set: Literal["standard", "legacy"] | None = None
    # Per-batch provider options (agent_id, from_number), as on JSON batch creation.
    provider_options: dict[str, str] = Field(default_factory=dict)
    # "draft": the batch is created for review and dials nothing until started.
    status: Literal["active", "draft"] = "active"
    # One job per debtor (rows of the same RUT/DNI merged, with their instalments).
    # None: on for processing_type basic (collection), off for acquisition.
    consolidate: bool | None = None
    # Written into every job's payload, over the file's own values (the legacy use-case
    # routes: the campaign's company and offer).
    payload_constants: dict[str, str | int | float] = Field(default_factory=dict)

    @property
    def consolidating(self) -> bool:
        return self.processing_type == "basic" if self.consolidate is None else self.consolidate

    @field_validator("account_id", "batch_name", "batch_description")
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        # Multipart text fields bypass the JSON/query NUL guard; PostgreSQL text cannot
        # store NUL, so refuse it here with a 422 rather than fail on insert.
        if v is not None and "\x00" in v:
            raise ValueError("must not contain NUL characters")
        return v


class AppendOptions(BaseModel):
    """Options of an upload into an existing batch (account, type and call settings are
    the batch's)."""

    country: Literal["CL", "AR"] | None = None
    allow_duplicates: bool = False
    dias_fecha_limite: int | None = Field(None, ge=0, le=3650)
    dias_fecha_maxima: int | None = Field(None, ge=0, le=3650)
    column_mapping: dict[str, str | None] | None = None
    consolidate: bool | None = None


class ColumnRead(BaseModel):
    column: int = Field(description="1-based column position in the file")
    header: str
    field: str = Field(description="canonical field, or 'extra' (kept in the payload)")
    key: str = Field(description="payload key for extra columns")
    landline: bool = Field(False, description="a phone column named as a landline")


class IgnoredColumnRead(BaseModel):
    column: int = Field(description="1-based column position in the file")
    header: str
    reason: str = Field(description="why, in English")
    code: str = Field(
        "ignored", description="why, as a stable code (docs/ingestion.md, Message codes)"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the code's values")


class RowErrorRead(BaseModel):
    row: int
    column: str | None
    message: str = Field(description="the problem in English")
    code: str = Field(
        "invalid_value",
        description="the problem as a stable code (docs/ingestion.md, Message codes)",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="the code's values (the cell as written, ...)"
    )


class SkippedRowRead(BaseModel):
    row: int
    reason: SkipReason = Field(description="the stable code of why the row was skipped")
    message: str = Field(description="the reason in English")
    params: dict[str, Any] = Field(default_factory=dict, description="the reason's values")


class ImportCounts(BaseModel):
    rows: int = Field(description="non-empty data rows read")
    valid: int = Field(description="rows that passed validation")
    invalid: int = Field(description="rows rejected with errors")
    duplicates: int
    do_not_call: int = Field(
        description="rows skipped: on the do-not-call list or under a legal stop"
    )
    skipped: int = Field(description="duplicates + do_not_call")
    accepted: int = Field(description="rows that become (or would become) jobs")
    empty_rows: int
    warnings: int
    debtors: int = Field(0, description="jobs, one per debtor (= accepted)")
    debtors_with_several_cuotas: int = Field(
        0, description="debtors whose several rows (instalments) became one job"
    )
    merged_rows: int = Field(0, description="rows merged into an earlier row's debtor")


class ImportReport(BaseModel):
    """What an import did (or, in a preview, would do)."""

    file_format: str
    country: Literal["CL", "AR"]
    header_row: int = Field(description="1-based row number of the header in the file")
    columns: list[ColumnRead]
    ignored_columns: list[IgnoredColumnRead] = Field(
        default_factory=list, description="header columns not read as any field, and why"
    )
    consolidate: bool = Field(False, description="rows of one debtor became one job")
    counts: ImportCounts
    errors: list[RowErrorRead]
    skipped: list[SkippedRowRead]
    warnings: list[RowErrorRead]
    truncated: bool = Field(description="errors/skipped/warnings lists were cut at the limit")
    fecha_limite: str | None = Field(None, description="dynamic fecha_limite applied (ISO)")
    fecha_maxima: str | None = Field(None, description="dynamic fecha_maxima applied (ISO)")


class PreviewResponse(ImportReport):
    sample: list[dict[str, Any]] = Field(description="the first rows as they will be imported")


class CreateResponse(ImportReport):
    batch_id: str
    batch_name: str
    accepted: int
    total_jobs: int
