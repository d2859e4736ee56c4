"""Smaller tables: progress events, webhook receipts, compliance log, do-not-call,
scripts, provider configs, hourly stats, worker heartbeats and the simulated carrier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, TimestampedMixin, _now
from dialer.db.types import PortableJSON, UTCDateTime


class Event(Base):
    """Progress outbox: appended in the same transaction as the change it reports.

    API processes stream these to SSE clients (``id`` is the SSE event id), so any
    worker on any machine can publish without a broker.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_batch_id", "batch_id", "id"),
        Index("ix_events_account_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True)


class WebhookReceipt(Base):
    """One row per distinct provider event; the unique key makes replays no-ops."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(255), unique=True)
    provider_call_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    # Indexed for the retention task's prune (worker/maintenance.py).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True)


class ContactLog(Base):
    """Answered calls per debtor, for per-debtor contact limits (e.g. one a week)."""

    __tablename__ = "contact_log"
    __table_args__ = (Index("ix_contact_log_debtor", "account_id", "debtor_key", "contacted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    debtor_key: Mapped[str] = mapped_column(String(64))
    attempt_id: Mapped[str] = mapped_column(String(64), unique=True)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DoNotCall(Base):
    """A number the account must never dial (E.164)."""

    __tablename__ = "do_not_call"
    __table_args__ = (UniqueConstraint("account_id", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class LegalStop(Base):
    """A debtor (RUT/DNI) the account must not contact at all: sued, in insolvency
    proceedings, disputing the debt, deceased..."""

    __tablename__ = "legal_stops"
    __table_args__ = (UniqueConstraint("account_id", "debtor_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    debtor_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class Script(TimestampedMixin, Base):
    """A versioned prompt template. A new version is a new row; batches pin one."""

    __tablename__ = "scripts"
    __table_args__ = (UniqueConstraint("account_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    processing_type: Mapped[str] = mapped_column(String(32), default="basic")
    description: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    first_message: Mapped[str | None] = mapped_column(Text)
    # "standard" | "legacy" agent variables for batches that do not choose (None: standard).
    variable_set: Mapped[str | None] = mapped_column(String(16))


class ProviderConfig(TimestampedMixin, Base):
    """Per-account provider credentials (encrypted at rest) and defaults."""

    __tablename__ = "provider_configs"
    __table_args__ = (UniqueConstraint("account_id", "provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)


class CallStat(Base):
    """Hourly roll-up per account and outcome, so overview cards never scan attempts."""

    __tablename__ = "call_stats"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    cost_units: Mapped[int] = mapped_column(Integer, default=0)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SimulatedCall(Base):
    """The simulated carrier's own state: it outlives any worker, like a real provider's."""

    __tablename__ = "simulated_calls"
    __table_args__ = (Index("ix_simulated_calls_due", "delivered", "complete_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(String(64), unique=True)
    to_number: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    business_result: Mapped[str | None] = mapped_column(String(32))
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    complete_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
