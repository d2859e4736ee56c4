from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, event, inspect, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE

from dialer.db.base import Base, TimestampedMixin
from dialer.db.types import PortableJSON, StrEnumType, UTCDateTime
from dialer.kit import search
from dialer.models.states import AttemptStatus, JobStatus


def _search_text_default(context: Any) -> str:
    """``jobs.search_text`` of a row inserted through SQLAlchemy (ORM or Core), from the
    row's own name, RUT and phones. The bulk import writes it itself (ingestion)."""
    row = context.get_current_parameters()
    return search.search_text(
        row.get("contact_name"), row.get("dni"), search.phone_digits(row.get("phones") or [])
    )


class Job(TimestampedMixin, Base):
    """One contact to reach. The row is the queue entry: the dispatcher claims it."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim: due, waiting jobs of one batch in order.
        Index("ix_jobs_claim", "batch_id", "status", "next_attempt_at"),
        Index("ix_jobs_account_status", "account_id", "status"),
        Index("ix_jobs_account_dni", "account_id", "dni"),
        # The contact table's search (kit/search.py): the matching ids come from the
        # batch's keys alone, no row is read to judge them. A search reads all the keys
        # of the batch (LIKE '%...%'), so their order in the index does not matter to it;
        # by id, an import appends its jobs' keys (ids increase within an import) instead
        # of inserting each at a random place (about 0.2 s less per 100,000 rows).
        Index("ix_jobs_batch_search", "batch_id", "id", "search_text"),
        # The rescuer: in-flight jobs whose lease expired. Partial: only leased jobs have
        # an entry, so the pending jobs of an import (nearly all rows) cost it nothing.
        Index(
            "ix_jobs_lease",
            "status",
            "lease_expires_at",
            sqlite_where=text("lease_expires_at IS NOT NULL"),
            postgresql_where=text("lease_expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    row_number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[JobStatus] = mapped_column(StrEnumType(JobStatus), default=JobStatus.PENDING)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    dni: Mapped[str | None] = mapped_column(String(32))
    phones: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    # Folded phones, name and RUT for the contact search (kit/search.py), written with
    # the row: the same matches on SQLite and PostgreSQL, accents and case ignored.
    search_text: Mapped[str | None] = mapped_column(
        String(search.MAX_CHARS), default=_search_text_default
    )

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    phone_index: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker_id: Mapped[str | None] = mapped_column(String(128))
    current_attempt_id: Mapped[str | None] = mapped_column(String(64))
    wait_reason: Mapped[str | None] = mapped_column(String(64))
    # The debtor's place (compliance.place): local zone (None = the batch's), region
    # (holidays subdivision) and why; None source = not resolved yet (done at claim).
    timezone: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(8))
    place_source: Mapped[str | None] = mapped_column(String(200))

    last_outcome: Mapped[str | None] = mapped_column(String(32))
    business_result: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    cost_units: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


_SEARCHED = frozenset({"contact_name", "dni", "phones"})


@event.listens_for(Job, "before_update")
def _refold_search_text(_mapper: Any, _connection: Any, job: Job) -> None:
    """A job whose name, RUT or phones change through the ORM gets its search key again
    (the bulk import's merge replaces the phones part in SQL itself)."""
    state = inspect(job)
    # Only attributes set since the load are in ``committed_state``: most updates (status,
    # lease, counters) touch none of these and skip the per-attribute history.
    touched = _SEARCHED.intersection(state.committed_state)
    if touched and any(state.get_history(a, PASSIVE_NO_INITIALIZE).has_changes() for a in touched):
        job.search_text = search.search_text(
            job.contact_name, job.dni, search.phone_digits(job.phones or [])
        )


class CallAttempt(TimestampedMixin, Base):
    """One dial of one phone. ``id`` is the provider idempotency key."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_job", "job_id", "number"),
        Index("ix_call_attempts_provider_call", "provider", "provider_call_id"),
        Index("ix_call_attempts_status_started", "status", "started_at"),
        # Per-contact attempt caps: a debtor's attempts across all the account's batches.
        Index("ix_call_attempts_debtor", "account_id", "debtor_key", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # 1-based attempt number for the job
    phone: Mapped[str] = mapped_column(String(32))
    phone_index: Mapped[int] = mapped_column(Integer, default=0)
    # Who was called (compliance.rules.debtor_key), for the per-contact caps.
    debtor_key: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    provider_call_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[AttemptStatus] = mapped_column(
        StrEnumType(AttemptStatus), default=AttemptStatus.DIALING
    )
    outcome: Mapped[str | None] = mapped_column(String(32))
    business_result: Mapped[str | None] = mapped_column(String(32))
    worker_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    reserved_units: Mapped[int] = mapped_column(Integer, default=0)
    cost_units: Mapped[int] = mapped_column(Integer, default=0)
    variables: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    transcript: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    extracted: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    # The structured business result (dialer.job.outcomes.Outcome.to_json()).
    result: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    recording_url: Mapped[str | None] = mapped_column(String(2000))
    error: Mapped[str | None] = mapped_column(Text)
    # What the provider itself reported about the call (besides recording_url).
    # {"amount": 11.025, "unit": "usd_cents"}: the provider's charge, as it reports it.
    provider_cost: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    # Variables the agent collected during the call (Retell collected_dynamic_variables,
    # Vapi artifact.variableValues, ElevenLabs data collection).
    collected_variables: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    # Further provider ids of the call by name (the Twilio CallSid behind an ElevenLabs
    # conversation, a Vapi control URL...).
    provider_ids: Mapped[dict[str, str] | None] = mapped_column(PortableJSON)
