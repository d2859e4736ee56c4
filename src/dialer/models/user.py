"""Dashboard users, their server-side sessions, and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.db.base import Base, TimestampedMixin, _now
from dialer.db.types import PortableJSON, StrEnumType, UTCDateTime


class Role(StrEnum):
    """What a user may do. ``admin``: every account; ``supervisor``: everything in its
    account; ``operator``: upload, start, pause and resume (no settings, users, keys
    or ledger); ``viewer``: reads the overview, campaigns, contacts and exports and
    changes nothing (also the role of a read-only API key)."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    VIEWER = "viewer"


class User(TimestampedMixin, Base):
    """A named person who logs in to the dashboard (user name or e-mail + password).

    ``password_hash`` is an argon2id hash (argon2-cffi). Admins belong to an account
    too (the one they were created in) but act on every account.
    """

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_account_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # Stored lower-cased: log-in is case-insensitive on both.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DashboardSession(Base):
    """A logged-in browser. The cookie carries a random token; only its SHA-256 is here.

    Logging out deletes the row; a session idle longer than the idle timeout, or older
    than its absolute lifetime, is refused (and deleted) on its next use.
    """

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(token)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who did what, when: one row per state change made by a person or a key."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_account_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    # "user" | "api_key" | "admin_key" | "system"
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
