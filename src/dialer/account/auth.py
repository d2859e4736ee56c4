"""API-key authentication and tenant scoping.

* The admin key (``DIALER_ADMIN_API_KEY``; generated into ``DATA_DIR/admin_api_key`` on
  first run when unset) manages accounts and may act on any account.
* An account key (``dk_...``) sees only its own account. Anything of another account
  answers 404, exactly as if it did not exist.

Keys are sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update

from dialer.config import Settings
from dialer.errors import NotFound, PermissionDenied, Unauthorized
from dialer.kit import clock
from dialer.models import ApiKey, Role

ACCOUNT_KEY_PREFIX = "dk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_account_key() -> str:
    return ACCOUNT_KEY_PREFIX + secrets.token_urlsafe(32)


def admin_key(settings: Settings) -> tuple[str, bool]:
    """The admin key, and whether it was generated just now (to print it once)."""
    if settings.ADMIN_API_KEY is not None:
        return settings.ADMIN_API_KEY.get_secret_value(), False
    path = Path(settings.DATA_DIR) / "admin_api_key"
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "dka_" + secrets.token_urlsafe(32)
    # Created 0600 before the key is written: never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, True


# What each role may do. Supervisors may do everything in their account; operators
# run campaigns but change no settings, users, keys or money; admins act on every
# account.
OPERATOR_ACTIONS = frozenset({"view", "upload", "create_batch", "start", "pause", "resume"})
SUPERVISOR_ACTIONS = OPERATOR_ACTIONS | {
    "cancel",
    "edit_settings",
    "manage_users",
    "manage_keys",
    "view_ledger",
    "view_audit",
}
# An account API key runs campaigns and reads everything of its account, but it
# cannot issue keys or create users (a leaked key must not be able to persist itself).
KEY_ACTIONS = SUPERVISOR_ACTIONS - {"manage_keys", "manage_users"}
# A viewer (a user, or a read-only API key) reads the overview, campaigns, contacts and
# their exports, and changes nothing: no upload, start, pause, settings, users or keys,
# and not the ledger or the audit log. Every write it sends is refused (403) before any
# service runs (``refuse_viewer_writes``, and the dashboard's CSRF check).
VIEWER_ACTIONS = frozenset({"view"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who is asking: the admin key, an account API key, or a dashboard user.

    ``role`` defaults from ``is_admin`` (admin / supervisor) for keys; users carry
    their own. ``actor_name`` is what the audit log records.
    """

    is_admin: bool
    account_id: str | None = None
    key_id: str | None = None
    role: Role | None = None
    user_id: str | None = None
    actor_name: str | None = None

    def __post_init__(self) -> None:
        if self.role is None:
            object.__setattr__(self, "role", Role.ADMIN if self.is_admin else Role.SUPERVISOR)

    @property
    def actor_type(self) -> str:
        if self.user_id is not None:
            return "user"
        if self.key_id is not None:
            return "api_key"
        return "admin_key" if self.is_admin else "system"

    @property
    def actor_id(self) -> str | None:
        return self.user_id or self.key_id

    @property
    def display_name(self) -> str:
        if self.actor_name:
            return self.actor_name
        if self.key_id:
            return f"API key {self.key_id}"
        return "admin key" if self.is_admin else "system"

    @property
    def read_only(self) -> bool:
        return self.role == Role.VIEWER and not self.is_admin

    def may(self, action: str) -> bool:
        if self.is_admin:
            return True
        if self.role == Role.VIEWER:  # a viewer user or a read-only key
            return action in VIEWER_ACTIONS
        if self.user_id is None:  # an account API key: a machine, not a person
            return action in KEY_ACTIONS
        allowed = SUPERVISOR_ACTIONS if self.role == Role.SUPERVISOR else OPERATOR_ACTIONS
        return action in allowed

    def require(self, action: str) -> None:
        """Raise PermissionDenied (403) when the role does not allow ``action``."""
        if not self.may(action):
            raise RoleForbidden(
                f"the {self.role} role cannot {action.replace('_', ' ')}", action=action
            )

    def can_see(self, account_id: str) -> bool:
        return self.is_admin or self.account_id == account_id

    def check_account(self, account_id: str) -> None:
        """Raise NotFound (never reveal existence) when the account is not ours."""
        if not self.can_see(account_id):
            raise NotFound(f"account '{account_id}' not found")

    def scope(self, account_id: str | None) -> str | None:
        """The account filter for list endpoints: an account key is pinned to its own."""
        if self.is_admin:
            return account_id
        if account_id is not None and account_id != self.account_id:
            raise NotFound(f"account '{account_id}' not found")
        return self.account_id


class RoleForbidden(PermissionDenied):
    """Your role does not allow this."""


def _extract_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


# Every request with an account key reads the key's row (one indexed read): a key
# revoked or rotated by any API process, the dashboard or by hand in the database is
# refused by every process from the next request on. No positive cache: one could only
# be invalidated per process, and another process would honour a revoked key until its
# entry expired (bench/auth_bench.py measures what the read costs). Unknown keys are
# never remembered either.
# ``api_keys.last_used_at`` is kept to the minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def authenticate(request: Request, key: str | None) -> Principal:
    if not key:
        raise Unauthorized("missing API key (Authorization: Bearer <key> or X-API-Key)")
    expected_admin: str = request.app.state.admin_key
    if hmac.compare_digest(key.encode(), expected_admin.encode()):
        return Principal(is_admin=True)
    if not key.startswith(ACCOUNT_KEY_PREFIX):
        raise Unauthorized("invalid API key")
    digest = hash_key(key)
    db = request.app.state.db
    async with db.read() as session:
        row = (
            await session.execute(
                select(
                    ApiKey.id, ApiKey.account_id, ApiKey.name, ApiKey.last_used_at, ApiKey.read_only
                ).where(ApiKey.key_hash == digest, ApiKey.revoked.is_(False))
            )
        ).first()
    if row is None:
        raise Unauthorized("invalid API key")
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write per key a minute, whichever process serves it.
        async with db.write() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now)
            )
    principal = Principal(
        is_admin=False,
        account_id=row.account_id,
        key_id=row.id,
        role=Role.VIEWER if row.read_only else None,
        actor_name=f"API key {row.name} ({row.id})",
    )
    return principal


async def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = await authenticate(request, _extract_key(request))
        request.state.principal = principal
    refuse_viewer_writes(request, principal)
    return principal


def refuse_viewer_writes(request: Request, principal: Principal) -> None:
    """A viewer reads only: any request that is not a read is refused (403) before the
    endpoint runs, whether or not the service behind it checks a role itself."""
    if principal.read_only and request.method not in SAFE_METHODS:
        raise RoleForbidden("the viewer role is read-only", action="write")


async def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise PermissionDenied("this endpoint needs the admin API key")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]

__all__ = ["AdminPrincipal", "CurrentPrincipal", "Principal", "RoleForbidden", "hash_key"]
