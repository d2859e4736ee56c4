from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, TimestampedMixin
from dialer.db.types import PortableJSON, StrEnumType, UTCDateTime


class PlanType(StrEnum):
    CREDIT_BASED = "credit_based"
    MINUTES_BASED = "minutes_based"
    # No balance limit: calls are never held back for balance, but every call is still
    # reserved and charged in the ledger (in seconds, like minutes plans), so usage is
    # metered; the balance then goes below zero by what was used.
    UNLIMITED = "unlimited"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Account(TimestampedMixin, Base):
    """A tenant. ``balance`` caches the sum of its ledger, updated in the same transaction.

    Units: minutes plans count seconds; credit plans count hundredths of a credit.
    """

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    plan_type: Mapped[PlanType] = mapped_column(StrEnumType(PlanType))
    balance: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[AccountStatus] = mapped_column(
        StrEnumType(AccountStatus), default=AccountStatus.ACTIVE
    )
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=10)
    features: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    # Billing and other per-account settings (see billing.pricing.PricingSettings).
    settings: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    # Last import of Argentina's "No Llame" registry (Ley 26.951: consult every 30 days).
    no_llame_imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last import of each Argentine provincial "No Llame" registry, by registry code
    # (compliance.profiles.PROVINCIAL_REGISTRIES): {"ar_caba": "2026-12-01T10:00:00+00:00"}.
    registry_imports: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)


class ApiKey(TimestampedMixin, Base):
    """An account's API key. Only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="default")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A read-only key acts with the viewer role: every write is refused (403).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
