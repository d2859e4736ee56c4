"""Payments: recorded idempotently by reference, matched to the debtor's jobs in every
batch of the account.

For each job of the debtor: the payment adds to ``payload.paid_amount`` (smallest unit)
and the job's amount (``payload.amount``, or the key the job was given: ``monto``,
``debt_amount`` ...) becomes what is still owed (``payload.amount_original`` keeps the
debt), so the next call's script variables say the remaining amount. A job paid in full
that is still waiting is cancelled with reason ``paid``; jobs already final only record
the payment. The recovery goes to the batch of the debtor's most recent job (counted
once per payment, at the start of its day), open promises the payments cover become
kept, and ``payment.matched`` is enqueued for outbound webhooks, all in the caller's
transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.call.promises import judge_after_payments
from dialer.collection.repository import CollectionRepository
from dialer.collection.rows import PaymentRow, RowError, validate
from dialer.collection.schemas import (
    MatchedJob,
    PaymentImport,
    PaymentPage,
    PaymentRead,
    PaymentResult,
)
from dialer.errors import Conflict, InvalidInput, NotFound
from dialer.job.outcomes import CURRENCY_EXPONENT, DEFAULT_CURRENCY, ParseError, parse_amount
from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.job.repository import JobRepository
from dialer.job.service import transition
from dialer.job.states import WAITING, JobStatus
from dialer.models import Account, Job, OutboxEvent, Payment
from dialer.script.render import AMOUNT_KEYS


class PaymentRowsInvalid(InvalidInput):
    """The payments have errors; nothing was recorded."""


class PaymentReferenceConflict(Conflict):
    """A reference is already recorded with another debtor, amount or date."""


async def account_for(session: AsyncSession, principal: Principal, account_id: str) -> Account:
    """The account (NotFound unless the caller may see it)."""
    principal.check_account(account_id)
    account = await CollectionRepository.from_session(session).account(account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    return account


def currency_of(account: Account) -> str:
    return DEFAULT_CURRENCY.get(account.country, "CLP")


def amount_key(payload: Mapping[str, Any]) -> str:
    """The payload key holding the job's amount: the first the agent's variables read
    (``script.render.AMOUNT_KEYS``: ``monto``, ``amount``, ``debt_amount`` ...), so a
    partial payment lowers the amount the next call says; ``amount`` when there is none."""
    return next((k for k in AMOUNT_KEYS if payload.get(k) not in (None, "")), "amount")


def _owed_base(job: Job, currency: str) -> int | None:
    """The job's debt in the smallest unit (its original amount), or None when unknown."""
    payload = job.payload or {}
    raw = payload.get("amount_original", payload.get(amount_key(payload)))
    if raw is None or (payload.get("currency") or currency) != currency:
        return None
    try:
        return parse_amount(raw, currency)[0]
    except ParseError:
        return None


def _main_units(amount: int, currency: str) -> int | float:
    exp = CURRENCY_EXPONENT[currency]
    if exp == 0:
        return amount
    value = Decimal(amount).scaleb(-exp)
    return int(value) if value == value.to_integral_value() else float(value)


async def record_payments(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    records: Sequence[tuple[int, Mapping[str, object]]],
    *,
    now: datetime,
    errors: Sequence[RowError] = (),
) -> PaymentImport:
    """Validate and record payments (all or nothing) and apply them to the debtors' jobs.

    ``records`` are ``(row number, {column: value})``; ``errors`` are problems found
    while reading them (a file's missing columns)."""
    account = await account_for(session, principal, account_id)
    if not errors:
        rows, errors = validate(records, country=account.country, currency=currency_of(account))
    if not errors and not records:
        errors = [RowError(1, "", "no payments given")]
    if errors:
        raise PaymentRowsInvalid(
            errors=[e.to_dict() for e in errors[:200]], error_count=len(errors)
        )
    repo = CollectionRepository.from_session(session)
    known = await repo.payments_by_reference(account_id, [r.reference for r in rows])
    fresh: dict[str, PaymentRow] = {}
    conflicts: list[dict[str, object]] = []
    repeated = 0
    for r in rows:
        seen = known.get(r.reference)
        same = fresh.get(r.reference)
        key = (r.debtor_id, r.amount, r.currency, r.paid_on)
        if seen is not None:
            if (seen.debtor_id, seen.amount, seen.currency, seen.paid_on) != key:
                conflicts.append(
                    {
                        "row": r.row,
                        "column": "reference",
                        "message": f"'{r.reference}' is already recorded with other values",
                    }
                )
            repeated += 1
        elif same is not None:
            if (same.debtor_id, same.amount, same.currency, same.paid_on) != key:
                conflicts.append(
                    {
                        "row": r.row,
                        "column": "reference",
                        "message": f"'{r.reference}' appears twice with different values",
                    }
                )
            repeated += 1
        else:
            fresh[r.reference] = r
    if conflicts:
        raise PaymentReferenceConflict(errors=conflicts)

    new = sorted(fresh.values(), key=lambda r: (r.paid_on, r.reference))
    jobs = await repo.jobs_of_debtors(account_id, [r.debtor_id for r in new])
    by_debtor: dict[str, list[Job]] = defaultdict(list)
    for j in jobs:
        if j.dni:
            by_debtor[j.dni].append(j)
    tz = ZoneInfo(account.timezone)
    home = currency_of(account)
    results: list[PaymentResult] = []
    deltas: list[RecoveryDelta] = []
    wanted = await JobRepository.from_session(session).subscribed([account_id])
    hooks = "payment.matched" in wanted.get(account_id, frozenset())
    cancelled = 0
    for r in new:
        matched = by_debtor.get(r.debtor_id, [])
        credited = max(matched, key=lambda j: (j.created_at, j.id)) if matched else None
        payment = Payment(
            id="pay_" + uuid.uuid4().hex[:20],
            account_id=account_id,
            reference=r.reference,
            debtor_id=r.debtor_id,
            amount=r.amount,
            currency=r.currency,
            paid_on=r.paid_on,
            batch_id=credited.batch_id if credited else None,
            matched_jobs=[j.id for j in matched],
            created_at=now,
        )
        session.add(payment)
        outcome: list[MatchedJob] = []
        for job in matched:
            cancelled += await _apply_to_job(session, job, r, now=now)
            base = _owed_base(job, r.currency)
            paid = int((job.payload or {}).get("paid_amount") or 0)
            outcome.append(
                MatchedJob(
                    job_id=job.id, batch_id=job.batch_id, status=str(job.status),
                    owed=max(base - paid, 0) if base is not None else None,
                )
            )  # fmt: skip
        if credited is not None and r.currency == home:
            day_start = datetime.combine(r.paid_on, time(0), tzinfo=tz)
            deltas.append(
                RecoveryDelta(credited.batch_id, account_id, day_start, payments=1,
                              recovered_amount=r.amount)
            )  # fmt: skip
        result = PaymentResult(**PaymentRead.model_validate(payment).model_dump(), jobs=outcome)
        if matched and hooks:
            session.add(
                OutboxEvent.new(
                    account_id=account_id, type="payment.matched", at=now,
                    data=result.model_dump(mode="json"),
                )
            )  # fmt: skip
        results.append(result)
    await session.flush()
    await add_recovery(session, deltas)
    verdicts = await judge_after_payments(session, account_id, [r.debtor_id for r in new], now=now)
    return PaymentImport(
        accepted=len(new),
        already_recorded=repeated,
        jobs_cancelled=cancelled,
        promises_kept=verdicts["kept"],
        payments=results,
    )


async def _apply_to_job(session: AsyncSession, job: Job, row: PaymentRow, *, now: datetime) -> int:
    """Add the payment to the job; cancel it when paid in full and still waiting (1)."""
    payload = dict(job.payload or {})
    base = _owed_base(job, row.currency)
    paid = int(payload.get("paid_amount") or 0) + row.amount
    payload["paid_amount"] = paid
    payload["last_payment_on"] = row.paid_on.isoformat()
    if base is None:
        job.payload = payload
        return 0
    key = amount_key(payload)
    payload.setdefault("amount_original", payload.get(key))
    owed = max(base - paid, 0)
    payload[key] = _main_units(owed, row.currency)
    job.payload = payload
    if owed == 0 and job.status in WAITING:
        result = {**(job.result or {}), "cancelled_reason": "paid"}
        await transition(session, job, JobStatus.CANCELLED, result=result, wait_reason="paid",
                         lease_expires_at=None)  # fmt: skip
        return 1
    return 0


async def list_payments(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    debtor_id: str | None = None,
    since: date | None = None,
    limit: int = 50,
    skip: int = 0,
) -> PaymentPage:
    """The account's payments, newest first."""
    await account_for(session, principal, account_id)
    total, rows = await CollectionRepository.from_session(session).payments(
        account_id, debtor_id=debtor_id, since=since, limit=limit, skip=skip
    )
    return PaymentPage(total=total, items=[PaymentRead.model_validate(p) for p in rows])
