"""Promises to pay: recorded when a call ends with one, judged against payments.

* kept: the debtor paid the promised amount (any amount when none was promised) between
  the day of the promise and ``due_on + grace_days``; judged as soon as the payments
  are imported;
* broken: not kept at ``judge_at`` (the start of the day after ``due_on + grace_days``
  in the debtor's timezone); judged by the maintenance task (``evaluate_due``), which
  also makes the debtor due again in its batch when ``collections.broken_promise.
  follow_up`` is on (the claim then applies every rule: window, caps, do-not-call).

Each judgement adds to the recovery roll-up and enqueues ``promise.broken`` (outbound
webhooks) in the same transaction.

A promise is **withdrawn** (``withdraw_of_attempt``) when the call it was recorded from
turns out not to have reached anyone (a provider's late voicemail verdict): it is never
judged, leaves the recovery figures and ``promise.withdrawn`` is enqueued.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch.settings import CallSettings
from dialer.call.promise_repository import PromiseRepository
from dialer.job.outcomes import Promise as PromiseTerms
from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.job.repository import JobRepository
from dialer.job.service import transition
from dialer.job.states import WAITING, JobStatus
from dialer.models import OutboxEvent, Promise

Verdict = Literal["kept", "broken"]


def judge_at(due_on: date, grace_days: int, tz: tzinfo) -> datetime:
    """When a promise for ``due_on`` that was not kept becomes broken."""
    return datetime.combine(due_on + timedelta(days=grace_days + 1), time(0), tzinfo=tz)


def judge(
    promised: int | None, paid: int, *, now: datetime, judge_at: datetime | None
) -> Verdict | None:
    """Pure: the verdict on a promise given what was paid in its period, or None (open)."""
    if paid > 0 and (promised is None or paid >= promised):
        return "kept"
    if judge_at is not None and now >= judge_at:
        return "broken"
    return None


def _period(p: Promise) -> tuple[date, date | None]:
    # Payments count from the day before the promise (a payment made just before a
    # call that records the promise is still the promise kept) to due_on + grace.
    start = p.created_at.date() - timedelta(days=1)
    end = p.due_on + timedelta(days=_grace_of(p)) if p.due_on else None
    return start, end


def _grace_of(p: Promise) -> int:
    if p.judge_at is None or p.due_on is None:
        return 0
    return max((p.judge_at.date() - p.due_on).days - 1, 0)


async def record_promise(
    session: AsyncSession,
    *,
    account_id: str,
    batch_id: str,
    job_id: str,
    attempt_id: str,
    debtor_id: str | None,
    terms: PromiseTerms,
    currency: str,
    grace_days: int,
    tz: tzinfo,
    now: datetime,
    first_attempt: bool = False,
    notify: bool | None = None,
) -> Promise:
    """Record a promise made on ``attempt_id`` (superseding the job's open one; a first
    attempt has none). ``notify``: whether ``promise.created`` is wanted (None: look)."""
    repo = PromiseRepository.from_session(session)
    if not first_attempt:
        await repo.supersede_open(job_id, now=now)
    promise = Promise(
        id="prm_" + uuid.uuid4().hex[:20],
        account_id=account_id,
        batch_id=batch_id,
        job_id=job_id,
        attempt_id=attempt_id,
        debtor_id=debtor_id,
        amount=terms.amount,
        currency=terms.currency or currency,
        due_on=terms.date,
        judge_at=judge_at(terms.date, grace_days, tz) if terms.date else None,
        method=terms.method,
        status="open",
        paid_amount=0,
        created_at=now,
    )
    session.add(promise)
    if notify is None:
        notify = await _wanted(session, account_id, "promise.created")
    if notify:
        session.add(
            OutboxEvent.new(
                account_id=account_id, type="promise.created", at=now, data=promise_json(promise)
            )
        )
    return promise


async def withdraw_of_attempt(
    session: AsyncSession, attempt_id: str, *, home_currency: str, now: datetime,
    at: datetime,
) -> list[Promise]:  # fmt: skip
    """Withdraw the open promise recorded from ``attempt_id`` (the call reached a voicemail,
    not the debtor): status ``withdrawn``, out of the recovery figures of the hour ``at``
    it was counted in, and ``promise.withdrawn`` for the subscribed accounts. A promise
    already judged (kept / broken) or superseded stays as it is. Returns those withdrawn."""
    promises = list(await PromiseRepository.from_session(session).open_of_attempt(attempt_id))
    deltas = []
    for p in promises:
        p.status, p.evaluated_at = "withdrawn", now
        promised = p.amount if p.amount is not None and p.currency == home_currency else 0
        deltas.append(
            RecoveryDelta(p.batch_id, p.account_id, at, promises=-1, promised_amount=-promised)
        )
        if await _wanted(session, p.account_id, "promise.withdrawn"):
            session.add(
                OutboxEvent.new(
                    account_id=p.account_id, type="promise.withdrawn", at=now,
                    data=promise_json(p),
                )
            )  # fmt: skip
    await add_recovery(session, deltas)
    return promises


async def _wanted(session: AsyncSession, account_id: str, type: str) -> bool:
    wanted = await JobRepository.from_session(session).subscribed([account_id])
    return type in wanted.get(account_id, frozenset())


def promise_json(p: Promise) -> dict[str, object]:
    return {
        "promise_id": p.id,
        "job_id": p.job_id,
        "batch_id": p.batch_id,
        "attempt_id": p.attempt_id,
        "debtor_id": p.debtor_id,
        "amount": p.amount,
        "currency": p.currency,
        "due_on": p.due_on.isoformat() if p.due_on else None,
        "method": p.method,
        "status": p.status,
        "paid_amount": p.paid_amount,
    }


async def _apply(
    session: AsyncSession, promises: Sequence[Promise], *, now: datetime, kept_only: bool
) -> dict[str, int]:
    repo = PromiseRepository.from_session(session)
    counts = {"kept": 0, "broken": 0}
    deltas: list[RecoveryDelta] = []
    # What the verdicts read, once per round rather than per promise (judging changes
    # none of it): the debtors' payments, the accounts' subscriptions, the batches'
    # follow-up setting (read only when a promise is broken).
    payments = await repo.payments_of((p.account_id, p.debtor_id) for p in promises if p.debtor_id)
    wanted: dict[str, frozenset[str]] | None = None
    follow_up: dict[str, bool] | None = None
    for p in promises:
        paid = _paid(p, payments.get((p.account_id, p.debtor_id), ())) if p.debtor_id else 0
        verdict = judge(p.amount, paid, now=now, judge_at=p.judge_at)
        if verdict is None or (kept_only and verdict != "kept"):
            continue
        p.status, p.paid_amount, p.evaluated_at = verdict, paid, now
        counts[verdict] += 1
        deltas.append(RecoveryDelta(p.batch_id, p.account_id, now, **{verdict: 1}))
        if verdict == "broken":
            if wanted is None:
                wanted = await JobRepository.from_session(session).subscribed(
                    x.account_id for x in promises
                )
            if "promise.broken" in wanted.get(p.account_id, frozenset()):
                session.add(
                    OutboxEvent.new(
                        account_id=p.account_id, type="promise.broken", at=now,
                        data=promise_json(p),
                    )
                )  # fmt: skip
            if follow_up is None:
                follow_up = await _follow_ups(repo, {x.batch_id for x in promises})
            if follow_up.get(p.batch_id, False):
                await _follow_up(repo, p, now=now)
        else:
            await _end_follow_up(session, repo, p)
    await add_recovery(session, deltas)
    await session.flush()
    return counts


def _paid(p: Promise, payments: Sequence[tuple[str, date, int]]) -> int:
    """What the debtor paid in the promise's currency within its period."""
    start, end = _period(p)
    return sum(
        amount
        for currency, paid_on, amount in payments
        if currency == p.currency and paid_on >= start and (end is None or paid_on <= end)
    )


async def _follow_ups(repo: PromiseRepository, batch_ids: set[str]) -> dict[str, bool]:
    """Whether each batch makes a debtor due again after a broken promise. Read through
    the settings model, as the settlement does: a batch stored without the setting has
    the default (on); a batch that is gone has none."""
    stored = await repo.batch_settings(batch_ids)
    return {
        batch_id: CallSettings.model_validate(settings).collections.broken_promise.follow_up
        for batch_id, settings in stored.items()
    }


async def _end_follow_up(session: AsyncSession, repo: PromiseRepository, p: Promise) -> None:
    """A kept promise ends the follow-up its job waits for: the debtor kept their word and
    is not called again for it (cancelled, ``cancelled_reason: promise_kept``, as a payment
    in full cancels with ``paid``)."""
    job = await repo.job(p.job_id)
    if (
        job is None
        or job.status != JobStatus.SCHEDULED
        or job.wait_reason != "promise"
        or await repo.others_open(job.id, p.id)
    ):
        return
    result = {**(job.result or {}), "cancelled_reason": "promise_kept"}
    await transition(session, job, JobStatus.CANCELLED, result=result,
                     wait_reason="promise_kept")  # fmt: skip


async def _follow_up(repo: PromiseRepository, p: Promise, *, now: datetime) -> None:
    """A broken promise makes its debtor due again (its batch asks for it: ``_follow_ups``)."""
    job = await repo.job(p.job_id)
    if job is None or job.status not in WAITING:
        return
    if job.next_attempt_at > now:
        job.next_attempt_at = now
    job.wait_reason = None
    job.max_attempts = max(job.max_attempts, job.attempts + 1)
    job.result = {
        **(job.result or {}),
        "follow_up": {"reason": "broken_promise", "promise_id": p.id},
    }


def due_probe(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """True when ``evaluate_due`` has work: an expression, read with the worker's other
    side-task probes in one statement."""
    return PromiseRepository.due_exists(now)


async def evaluate_due(session: AsyncSession, *, now: datetime, limit: int = 500) -> dict[str, int]:
    """Judge the open promises whose time has come (maintenance task)."""
    promises = await PromiseRepository.from_session(session).due(now, limit)
    return await _apply(session, promises, now=now, kept_only=False)


async def judge_after_payments(
    session: AsyncSession, account_id: str, debtor_ids: Sequence[str], *, now: datetime
) -> dict[str, int]:
    """Mark kept the open promises of these debtors that the payments now cover."""
    promises = await PromiseRepository.from_session(session).open_for_debtors(
        account_id, sorted(set(debtor_ids))
    )
    return await _apply(session, promises, now=now, kept_only=True)
