"""Balance movements: topup, reserve before dialing, release and charge when a call ends.

Every movement is one append-only ``LedgerEntry`` with a unique idempotency key, taken
while the account row is locked (PostgreSQL ``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``).
``account.balance`` caches the ledger sum and is updated in the same transaction, so
it always equals ``SUM(amount)`` and never goes below zero.

One implementation, in bulk (the dispatcher settles and reserves thousands of attempts
a second): ``reserve_many`` holds units for the attempts of one claim; ``plan_settlement``
(pure) turns ended attempts into the entries that settle them; ``append_entries`` writes
planned entries on locked accounts; ``settle`` is the three steps for a caller that has
nothing else to lock in between.

Keys used by the dispatcher (attempt id = provider idempotency key)::

    reserve:<attempt_id>   release:<attempt_id>   charge:<attempt_id>
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from dialer.billing.errors import InsufficientBalance, InvalidAmount
from dialer.billing.pricing import PricingSettings, limited
from dialer.billing.repository import LedgerRepository, take_balance
from dialer.db.bulk import insert_rows
from dialer.errors import NotFound
from dialer.kit import clock
from dialer.logging import get_logger
from dialer.models import Account, EntryKind, LedgerEntry

log = get_logger("dialer.billing")


class BalanceMoved(Exception):
    """The balance fell below what a claim read (a concurrent charge): claim again."""


@dataclass(frozen=True)
class Entry:
    """One planned ledger movement."""

    account_id: str
    kind: EntryKind
    amount: int
    key: str
    batch_id: str | None = None
    job_id: str | None = None
    attempt_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Hold:
    """Units to hold for one attempt before it is dialed."""

    attempt_id: str
    batch_id: str
    job_id: str
    units: int


@dataclass(frozen=True)
class Charge:
    """One ended attempt to settle: its hold back, its real cost charged."""

    account_id: str
    attempt_id: str
    batch_id: str
    job_id: str
    reserved: int  # the hold taken at the claim (0: none)
    cost: int  # the real cost (0: only give the hold back)


@dataclass(frozen=True)
class Settlement:
    """The entries settling one attempt and the units it was charged."""

    entries: tuple[Entry, ...]
    charged: int


def pricing_of(account: Account) -> PricingSettings:
    return PricingSettings.model_validate((account.settings or {}).get("pricing", {}))


async def lock_account(session: AsyncSession, account_id: str) -> Account:
    """Load and lock the account for a balance change."""
    account = await LedgerRepository.from_session(session).lock_account(account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found")
    return account


def plan_settlement(
    balances: Mapping[str, int],
    charges: Sequence[Charge],
    used: Collection[str],
    *,
    unlimited: Collection[str] = frozenset(),
) -> list[Settlement]:
    """Per charge, in order: the entries settling it and the units charged. Pure.

    ``balances`` by account id, ``used`` the idempotency keys already in the ledger for
    these attempts. Each attempt gets its hold released and its cost charged at most
    once; a charge is capped at the balance so the ledger never goes negative, except
    for the ``unlimited`` accounts (by id), whose whole cost is metered.
    """
    left = dict(balances)
    seen = set(used)
    out: list[Settlement] = []
    for c in charges:
        if f"charge:{c.attempt_id}" in seen:
            out.append(Settlement((), 0))  # already charged: a replayed event
            continue
        entries: list[Entry] = []
        ids = {"batch_id": c.batch_id, "job_id": c.job_id, "attempt_id": c.attempt_id}
        if c.reserved and f"release:{c.attempt_id}" not in seen:
            entries.append(
                Entry(c.account_id, EntryKind.RELEASE, c.reserved, f"release:{c.attempt_id}", **ids)
            )
            left[c.account_id] += c.reserved
        # Unlimited plans have no balance to cap at: the whole cost is metered.
        cap = c.cost if c.account_id in unlimited else left[c.account_id]
        charged = max(min(c.cost, cap), 0)
        if charged < c.cost:
            log.warning(
                "billing.charge_capped",
                account_id=c.account_id,
                attempt_id=c.attempt_id,
                cost=c.cost,
                charged=charged,
            )
        if charged > 0:
            entries.append(
                Entry(c.account_id, EntryKind.CHARGE, -charged, f"charge:{c.attempt_id}", **ids)
            )
            left[c.account_id] -= charged
        seen.update(e.key for e in entries)
        out.append(Settlement(tuple(entries), charged))
    return out


def unlimited_ids(accounts: Mapping[str, Account]) -> set[str]:
    """The ids of the accounts whose balance does not limit them (plan ``unlimited``)."""
    return {i for i, a in accounts.items() if not limited(a.plan_type)}


async def used_keys(session: AsyncSession, attempt_ids: Collection[str]) -> set[str]:
    """The idempotency keys already in the ledger for these attempts."""
    return await LedgerRepository.from_session(session).keys_of_attempts(attempt_ids)


async def append_entries(
    session: AsyncSession,
    accounts: Mapping[str, Account],
    entries: Sequence[Entry],
    *,
    now: datetime,
) -> None:
    """Write planned entries, in order, on *locked* accounts (by id) and move their cached
    balances. Raises InsufficientBalance rather than letting a balance go negative
    (unlimited plans' balances may: their usage is metered).

    The entries' keys must be fresh (planned against the used keys): the unique index
    on ``idempotency_key`` rejects a reused one."""
    rows: list[dict[str, Any]] = []
    balances = {i: a.balance for i, a in accounts.items()}
    for e in entries:
        balance = balances[e.account_id] + e.amount
        if balance < 0 and limited(accounts[e.account_id].plan_type):
            raise InsufficientBalance(
                f"balance {balances[e.account_id]} does not cover {-e.amount}",
                balance=balances[e.account_id],
            )
        balances[e.account_id] = balance
        rows.append(
            {
                "account_id": e.account_id, "kind": e.kind, "amount": e.amount,
                "balance_after": balance, "idempotency_key": e.key, "batch_id": e.batch_id,
                "job_id": e.job_id, "attempt_id": e.attempt_id, "description": e.description,
                "created_at": now,
            }
        )  # fmt: skip
    for account_id, balance in balances.items():
        accounts[account_id].balance = balance
    await session.flush()
    await insert_rows(session, LedgerEntry, rows)


async def settle(
    session: AsyncSession, charges: Sequence[Charge], *, now: datetime
) -> list[Settlement]:
    """Settle ended (or never placed: cost 0) attempts: read the used keys, lock the
    accounts in id order, plan, append. Idempotent per attempt."""
    if not charges:
        return []
    used = await used_keys(session, {c.attempt_id for c in charges})
    accounts = {i: await lock_account(session, i) for i in sorted({c.account_id for c in charges})}
    planned = plan_settlement(
        {i: a.balance for i, a in accounts.items()},
        charges,
        used,
        unlimited=unlimited_ids(accounts),
    )
    await append_entries(session, accounts, [e for s in planned for e in s.entries], now=now)
    return planned


async def reserve_many(
    session: AsyncSession, account: Account, holds: Sequence[Hold], *, now: datetime
) -> None:
    """Hold units for freshly claimed attempts of one account, in one atomic UPDATE of the
    balance plus one entry per attempt. Raises BalanceMoved when the balance no longer
    covers them all (nothing is written then).

    Issued last in a claim, so the account row is locked (by this one UPDATE) only until
    the commit. The keys are brand-new attempt ids: no idempotency lookup is needed.
    """
    total = sum(h.units for h in holds)
    if total <= 0:
        return
    new_balance = await take_balance(session, account.id, total, enforce=limited(account.plan_type))
    if new_balance is None:
        raise BalanceMoved(account.id)
    balance = new_balance + total
    rows: list[dict[str, Any]] = []
    for h in holds:
        balance -= h.units
        rows.append(
            {
                "account_id": account.id, "kind": EntryKind.RESERVATION, "amount": -h.units,
                "balance_after": balance, "idempotency_key": f"reserve:{h.attempt_id}",
                "batch_id": h.batch_id, "job_id": h.job_id, "attempt_id": h.attempt_id,
                "created_at": now,
            }
        )  # fmt: skip
    await insert_rows(session, LedgerEntry, rows)
    # The row was updated in SQL: record the new value without marking it dirty.
    set_committed_value(account, "balance", new_balance)


async def topup(
    session: AsyncSession, account_id: str, units: int, *, key: str, description: str | None = None
) -> tuple[Account, LedgerEntry | None]:
    """Add balance. Idempotent on ``key``: returns None as the entry when it was used."""
    if units <= 0:
        raise InvalidAmount("topup amount must be positive", field="amount")
    repo = LedgerRepository.from_session(session)
    account = await lock_account(session, account_id)
    if await repo.has_key(key):
        return account, None
    entry = Entry(account_id, EntryKind.TOPUP, units, key, description=description)
    await append_entries(session, {account_id: account}, [entry], now=clock.now())
    log.info("billing.topup", account_id=account_id, amount=units, balance=account.balance)
    return account, await repo.entry_by_key(key)
