"""The collections loop: outbound webhooks (subscriptions, the outbox, deliveries and
their log), payments, promises to pay, and the hourly recovery roll-up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, TimestampedMixin, _now
from dialer.db.types import PortableJSON, UTCDateTime


class WebhookSubscription(TimestampedMixin, Base):
    """A customer endpoint that receives signed events. The secret is stored encrypted."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    description: Mapped[str | None] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


EVENT_TYPES = (
    "call.completed",
    "job.finished",
    "promise.created",
    "promise.broken",
    "promise.withdrawn",
    "call.corrected",
    "payment.matched",
    "batch.completed",
)


class OutboxEvent(Base):
    """An event to push to the account's subscriptions, inserted in the same transaction
    as the change it reports. The worker fans it out into deliveries and deletes it.

    Build rows with :meth:`row` / :meth:`new` (they assign the event id and the body)."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    @staticmethod
    def row(*, account_id: str, type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        """The row of a new event; ``payload`` is the exact JSON receivers get."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event_id = "evt_" + uuid.uuid4().hex
        payload = {
            "id": event_id,
            "type": type,
            "created_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "account_id": account_id,
            "data": data,
        }
        return {
            "event_id": event_id,
            "account_id": account_id,
            "type": type,
            "payload": payload,
            "created_at": at,
        }

    @classmethod
    def new(cls, *, account_id: str, type: str, at: datetime, data: dict[str, Any]) -> OutboxEvent:
        """A new event to ``session.add`` in the transaction of the change it reports."""
        return cls(**cls.row(account_id=account_id, type=type, at=at, data=data))


class WebhookDelivery(Base):
    """One event for one subscription; retried with backoff until delivered or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_account", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class WebhookDeliveryAttempt(Base):
    """The delivery log: one row per POST (or refusal) of a delivery."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Payment(Base):
    """A payment the customer reports for a debtor; ``reference`` makes imports idempotent."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("account_id", "reference"),
        Index("ix_payments_debtor", "account_id", "debtor_id", "paid_on"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(200))
    debtor_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(Integer)  # smallest unit of ``currency``
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    batch_id: Mapped[str | None] = mapped_column(String(64))  # the batch credited
    matched_jobs: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class Promise(Base):
    """A promise to pay made on a call; evaluated against payments after its date + grace."""

    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_due", "status", "judge_at"),
        Index("ix_promises_debtor", "account_id", "debtor_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_id: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    due_on: Mapped[date | None] = mapped_column(Date)
    # When an open promise is judged broken: the start of the day after due_on + grace
    # in the debtor's timezone (None: no date was given, judged on payments only).
    judge_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    method: Mapped[str | None] = mapped_column(String(32))
    # open -> kept | broken; superseded when a later call makes a new promise; withdrawn
    # when its call turns out to have reached a voicemail (a late verdict).
    status: Mapped[str] = mapped_column(String(16), default="open")
    paid_amount: Mapped[int] = mapped_column(Integer, default=0)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class RecoveryStat(Base):
    """Hourly recovery roll-up per batch (amounts in the account's currency), maintained in
    the transactions that settle calls, import payments and judge promises."""

    __tablename__ = "recovery_stats"
    __table_args__ = (Index("ix_recovery_stats_account_hour", "account_id", "hour"),)

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    contacts: Mapped[int] = mapped_column(Integer, default=0)  # answered calls
    right_party: Mapped[int] = mapped_column(Integer, default=0)  # answered by the debtor
    promises: Mapped[int] = mapped_column(Integer, default=0)
    # Sums of money over an hour of a campaign: past 2^31 in pesos (22,000 promises of
    # 150,000 CLP), so 64-bit on every database.
    promised_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    broken: Mapped[int] = mapped_column(Integer, default=0)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    recovered_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_units: Mapped[int] = mapped_column(Integer, default=0)
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
