"""Record and read the audit log.

Services call ``record`` in the same transaction as the change they make, so an entry
exists exactly when the change does. The actor is anything shaped like
``account.auth.Principal`` (a user, an API key or the admin key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.audit.repository import AuditRepository
from dialer.kit import clock
from dialer.models import AuditEntry

# The actions the log knows (the dashboard translates each).
ACTIONS = (
    "batch.create",
    "batch.upload",
    "batch.start",
    "batch.schedule",
    "batch.pause",
    "batch.resume",
    "batch.cancel",
    "batch.settings",
    "attempt.resolve",
    "user.create",
    "user.update",
    "user.deactivate",
    "user.login",
    "user.logout",
    "key.create",
    "key.revoke",
    "key.rotate",
)


class Actor(Protocol):
    @property
    def actor_type(self) -> str: ...

    @property
    def actor_id(self) -> str | None: ...

    @property
    def display_name(self) -> str: ...


async def record(
    session: AsyncSession,
    actor: Actor,
    account_id: str,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    **details: Any,
) -> AuditEntry:
    assert action in ACTIONS, action
    entry = AuditEntry(
        account_id=account_id,
        actor_type=actor.actor_type,
        actor_id=actor.actor_id,
        actor_name=actor.display_name[:200],
        action=action,
        target_type=target_type,
        target_id=target_id,
        details={k: v for k, v in details.items() if v is not None},
        created_at=clock.now(),
    )
    AuditRepository.from_session(session).add(entry)
    await session.flush()
    return entry


async def list_entries(
    session: AsyncSession,
    account_id: str,
    *,
    action: str | None = None,
    target_id: str | None = None,
    limit: int = 50,
    skip: int = 0,
) -> tuple[Sequence[AuditEntry], int]:
    """Newest first. The caller has checked the principal may read this account's log."""
    return await AuditRepository.from_session(session).list(
        account_id, action=action, target_id=target_id, limit=limit, skip=skip
    )
