from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, TimestampedMixin
from dialer.db.types import PortableJSON, StrEnumType, UTCDateTime


class BatchStatus(StrEnum):
    # Created for review: nothing is dialed until it is started.
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class Batch(TimestampedMixin, Base):
    """A campaign. Counters are maintained transactionally with every job change,
    so status reads never count rows."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_account_created", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[BatchStatus] = mapped_column(
        StrEnumType(BatchStatus), default=BatchStatus.ACTIVE
    )
    # Validated by batch.settings.CallSettings; stored as its JSON dump.
    call_settings: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    processing_type: Mapped[str] = mapped_column(String(32), default="basic")
    script_id: Mapped[str | None] = mapped_column(String(64))
    script_version: Mapped[int | None] = mapped_column(Integer)
    # Agent variable names/formats: "standard" or "legacy" (the replaced system's);
    # None: the script's choice, else standard.
    variable_set: Mapped[str | None] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_options: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)

    total_jobs: Mapped[int] = mapped_column(Integer, default=0)
    # Every job not final yet (waiting, dialing or on a call), not only those waiting.
    pending_jobs: Mapped[int] = mapped_column(Integer, default=0)
    in_progress_jobs: Mapped[int] = mapped_column(Integer, default=0)
    completed_jobs: Mapped[int] = mapped_column(Integer, default=0)
    failed_jobs: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_jobs: Mapped[int] = mapped_column(Integer, default=0)
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)
    answered_calls: Mapped[int] = mapped_column(Integer, default=0)
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    cost_units: Mapped[int] = mapped_column(Integer, default=0)
    # Why due jobs are not being dialed right now (outside_window, insufficient_balance,
    # account_suspended, compliance, ...); None while dialing normally.
    waiting_reason: Mapped[str | None] = mapped_column(String(64))
    waiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    # A spreadsheet import's report (counts, rejected rows, warnings), for the review.
    import_report: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
