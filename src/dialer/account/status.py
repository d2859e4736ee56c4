"""Suspended accounts: no writes that would start or change dialing.

A suspended account places no calls (the claim skips it and marks its batches
``account_suspended``); its writes are refused too, so a suspension is not worked
around by creating batches, uploading contacts, changing provider credentials or
subscribing webhooks. Reads, and what protects contacts (do-not-call entries, pausing
and cancelling), stay allowed; the admin reactivates the account (``PUT /activate``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.repository import ACCOUNT_SUSPENDED, AccountRepository
from dialer.errors import Conflict
from dialer.models import Account, AccountStatus

__all__ = ["ACCOUNT_SUSPENDED", "AccountSuspended", "ensure_active", "require_active"]


class AccountSuspended(Conflict):
    """The account is suspended: activate it before changing anything."""


def ensure_active(account: Account) -> None:
    """Raise AccountSuspended (409) unless ``account`` is active."""
    if account.status != AccountStatus.ACTIVE:
        reason = f" ({account.suspended_reason})" if account.suspended_reason else ""
        raise AccountSuspended(
            f"account '{account.id}' is suspended{reason}: writes are refused until an "
            "administrator activates it",
            field="account_id",
        )


async def require_active(session: AsyncSession, account_id: str) -> None:
    """``ensure_active`` for an account known by id (a missing one is the caller's 404)."""
    account = await AccountRepository.from_session(session).get(account_id)
    if account is not None:
        ensure_active(account)
