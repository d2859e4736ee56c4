"""Balance movements: topup, reserve before dialing, release and charge when a call ends.

Every movement is one append-only ``LedgerEntry`` with a unique idempotency key, taken
while the account row is locked (PostgreSQL ``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``).
``account.balance`` caches the ledger sum and is updated in the same transaction, so
it always equals ``SUM(amount)`` and never goes below zero.

Keys used by the dispatcher (attempt id = provider idempotency key)::

    reserve:<attempt_id>   release:<attempt_id>   charge:<attempt_id>
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.billing.errors import InsufficientBalance, InvalidAmount
from dialer.billing.pricing import PricingSettings, limited
from dialer.billing.repository import LedgerRepository
from dialer.errors import NotFound
from dialer.logging import get_logger
from dialer.models import Account, EntryKind, LedgerEntry

log = get_logger("dialer.billing")


def pricing_of(account: Account) -> PricingSettings:
    return PricingSettings.model_validate((account.settings or {}).get("pricing", {}))


async def lock_account(session: AsyncSession, account_id: str) -> Account:
    """Load and lock the account for a balance change."""
    account = await LedgerRepository.from_session(session).lock_account(account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found")
    return account


async def append(
    session: AsyncSession,
    account: Account,
    *,
    kind: EntryKind,
    amount: int,
    key: str,
    batch_id: str | None = None,
    job_id: str | None = None,
    attempt_id: str | None = None,
    description: str | None = None,
) -> LedgerEntry | None:
    """Append one movement to a *locked* account. Returns None if ``key`` was already used.

    Raises InsufficientBalance rather than letting the balance go negative.
    """
    repo = LedgerRepository.from_session(session)
    if await repo.has_key(key):
        return None
    new_balance = account.balance + amount
    if new_balance < 0 and limited(account.plan_type):
        raise InsufficientBalance(
            f"balance {account.balance} does not cover {-amount}", balance=account.balance
        )
    entry = LedgerEntry(
        account_id=account.id,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        idempotency_key=key,
        batch_id=batch_id,
        job_id=job_id,
        attempt_id=attempt_id,
        description=description,
    )
    account.balance = new_balance
    session.add(entry)
    await session.flush()
    log.info(
        "billing.entry_appended",
        account_id=account.id,
        kind=str(kind),
        amount=amount,
        balance=new_balance,
        attempt_id=attempt_id,
        batch_id=batch_id,
    )
    return entry


async def topup(
    session: AsyncSession, account_id: str, units: int, *, key: str, description: str | None = None
) -> tuple[Account, LedgerEntry | None]:
    """Add balance. Idempotent on ``key``."""
    if units <= 0:
        raise InvalidAmount("topup amount must be positive", field="amount")
    account = await lock_account(session, account_id)
    entry = await append(
        session, account, kind=EntryKind.TOPUP, amount=units, key=key, description=description
    )
    return account, entry


async def reserve(
    session: AsyncSession,
    account: Account,
    units: int,
    *,
    attempt_id: str,
    batch_id: str,
    job_id: str,
) -> bool:
    """Hold ``units`` for an attempt on a locked account; False when the balance is short."""
    if units > account.balance and limited(account.plan_type):
        return False
    await append(
        session,
        account,
        kind=EntryKind.RESERVATION,
        amount=-units,
        key=f"reserve:{attempt_id}",
        batch_id=batch_id,
        job_id=job_id,
        attempt_id=attempt_id,
    )
    return True


async def settle(
    session: AsyncSession,
    account: Account,
    *,
    reserved: int,
    cost: int,
    attempt_id: str,
    batch_id: str,
    job_id: str,
) -> int:
    """Give back the hold and charge the real cost, once per attempt. Returns the charged units.

    A charge larger than what is available (a call longer than the hold) is capped at
    the balance so the ledger never goes negative; the shortfall is logged.
    """
    repo = LedgerRepository.from_session(session)
    if await repo.has_key(f"charge:{attempt_id}"):
        return 0  # already charged: a replayed event
    if reserved:  # idempotent: a no-op if the hold was already given back
        await append(
            session, account, kind=EntryKind.RELEASE, amount=reserved,
            key=f"release:{attempt_id}", batch_id=batch_id, job_id=job_id, attempt_id=attempt_id,
        )  # fmt: skip
    # Unlimited plans have no balance to cap at: the whole cost is metered.
    charged = min(cost, account.balance) if limited(account.plan_type) else cost
    if charged < cost:
        log.warning(
            "billing.charge_capped",
            account_id=account.id,
            attempt_id=attempt_id,
            cost=cost,
            charged=charged,
        )
    if charged > 0:
        await append(
            session, account, kind=EntryKind.CHARGE, amount=-charged,
            key=f"charge:{attempt_id}", batch_id=batch_id, job_id=job_id, attempt_id=attempt_id,
        )  # fmt: skip
    return charged


async def release(
    session: AsyncSession,
    account: Account,
    *,
    reserved: int,
    attempt_id: str,
    batch_id: str,
    job_id: str,
) -> None:
    """Give back the hold of an attempt that placed no call. Idempotent."""
    if reserved <= 0:
        return
    await append(
        session, account, kind=EntryKind.RELEASE, amount=reserved,
        key=f"release:{attempt_id}", batch_id=batch_id, job_id=job_id, attempt_id=attempt_id,
    )  # fmt: skip
