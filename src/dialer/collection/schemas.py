"""API shapes of payments and recovery figures."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class PaymentIn(BaseModel):
    """One payment in a JSON import. ``debtor_id`` may also be sent as ``rut`` / ``dni``."""

    model_config = ConfigDict(extra="allow")

    debtor_id: str | None = Field(default=None, description="RUT (CL) or DNI/CUIT (AR).")
    amount: int | float | str = Field(
        description="In the currency's main unit: 150000 or '$150.000'."
    )
    date: str | None = Field(default=None, description="Payment date, YYYY-MM-DD or dd/mm/yyyy.")
    reference: str | int = Field(description="Your unique reference; a repeated one is ignored.")
    currency: str | None = None


class PaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    debtor_id: str
    amount: int = Field(description="Smallest unit of the currency (CLP pesos, ARS centavos).")
    currency: str
    paid_on: date
    batch_id: str | None = Field(description="The batch credited with the recovery.")
    matched_jobs: list[str]
    created_at: datetime


class MatchedJob(BaseModel):
    job_id: str
    batch_id: str
    status: str
    owed: int | None = Field(description="Still owed after the payments, smallest unit.")


class PaymentResult(PaymentRead):
    jobs: list[MatchedJob] = Field(default_factory=list)


class PaymentImport(BaseModel):
    accepted: int
    already_recorded: int = Field(description="Rows whose reference was already recorded.")
    jobs_cancelled: int = Field(description="Waiting jobs cancelled as paid in full.")
    promises_kept: int
    payments: list[PaymentResult]


class PaymentPage(BaseModel):
    total: int
    items: list[PaymentRead]
