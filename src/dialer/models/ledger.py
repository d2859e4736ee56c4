from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, _now
from dialer.db.types import StrEnumType, UTCDateTime


class EntryKind(StrEnum):
    TOPUP = "topup"
    RESERVATION = "reservation"  # negative: held before dialing
    RELEASE = "release"  # positive: the hold given back when the call settles or never happens
    CHARGE = "charge"  # negative: what the call really cost
    REFUND = "refund"  # positive: operator refund
    ADJUSTMENT = "adjustment"


class LedgerEntry(Base):
    """Append-only balance movement. ``amount`` is signed, in the account's unit.

    The account balance is the sum of its entries. ``idempotency_key`` is unique, so
    replaying the same movement (a repeated webhook, a retried request) is a no-op.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_created", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[EntryKind] = mapped_column(StrEnumType(EntryKind))
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64))
    attempt_id: Mapped[str | None] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
