"""What the business result of an ended call does, for the settlement.

Pure part (``read_outcome``, ``business_step``, ``voicemail_retry``): the structured
result of an answered call (``dialer.job.outcomes``), and whether it schedules the job
(a callback at the requested time, a promise's follow-up) instead of ending it, or moves
a voicemail retry to another band of the day. Apply part: the structured result on the
attempt and the job (``write_results``, before the settlement's flush), then the promise
row, the recovery roll-up and the outbound events (``record_business``), in the
settlement's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch import followups
from dialer.batch.settings import CallSettings
from dialer.batch.windows import Schedule
from dialer.call.promises import judge_at, record_promise
from dialer.job.outcomes import DEFAULT_CURRENCY, Kind, Outcome, analysis_fields, parse_outcome
from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.job.repository import JobRepository
from dialer.models import CallAttempt, Job, OutboxEvent


@dataclass(frozen=True)
class BusinessStep:
    """The job waits for a business reason instead of ending."""

    at: datetime
    wait_reason: str  # callback | promise
    phone_index: int
    record: dict[str, Any]


def currency_for(country: str | None) -> str:
    return DEFAULT_CURRENCY.get(country or "", "CLP")


def read_outcome(
    *,
    raw: Mapping[str, Any],
    extracted: Mapping[str, Any],
    declared: str | None,
    call_at: datetime,
    tz: tzinfo,
    currency: str,
) -> Outcome | None:
    """The structured business result of an answered call (None: nothing reported)."""
    fields = analysis_fields({**raw, "extracted": dict(extracted)})
    if not fields and not declared:
        return None
    return parse_outcome(fields, call_at=call_at, tz=tz, currency=currency, declared=declared)


def business_step(
    outcome: Outcome | None,
    *,
    settings: CallSettings,
    schedule: Schedule,
    phone_index: int,
    callbacks_made: int,
    now: datetime,
) -> BusinessStep | None:
    """A callback or promise follow-up that keeps the job waiting, when the batch wants it."""
    if outcome is None:
        return None
    rules = settings.collections
    if outcome.kind == Kind.CALLBACK and rules.callbacks and outcome.callback is not None:
        if callbacks_made >= rules.max_callbacks:
            return None
        fu = followups.callback(
            schedule, at=outcome.callback.at, day=outcome.callback.date, now=now
        )
        if fu is not None:
            return BusinessStep(fu.at, "callback", phone_index, fu.to_json())
    if (
        outcome.kind == Kind.PROMISE_TO_PAY
        and rules.broken_promise.follow_up
        and outcome.promise is not None
        and outcome.promise.date is not None
    ):
        when = judge_at(outcome.promise.date, rules.broken_promise.grace_days, schedule.tz)
        fu = followups.promise_follow_up(schedule, judge_at=when)
        if fu is not None:
            return BusinessStep(fu.at, "promise", phone_index, fu.to_json())
    return None


def voicemail_retry(
    at: datetime, *, settings: CallSettings, schedule: Schedule, last_attempt_at: datetime
) -> tuple[datetime, dict[str, Any] | None]:
    """A voicemail retry, moved to another band of the day when the batch asks for it."""
    if not settings.collections.voicemail.retry_other_band:
        return at, None
    fu = followups.other_band(schedule, retry_at=at, last_attempt_at=last_attempt_at)
    return fu.at, fu.to_json()


@dataclass(frozen=True)
class Settled:
    """One settled attempt, as the business side needs it."""

    attempt: CallAttempt
    job: Job
    outcome: str
    answered: bool
    business: Outcome | None
    step_record: dict[str, Any] | None
    ended_at: datetime
    billed_seconds: int
    cost_units: int
    currency: str
    grace_days: int
    tz: tzinfo
    finished: bool  # this settlement moved the job to a final status


def recovery_of(s: Settled, *, home_currency: str) -> RecoveryDelta:
    kind = s.business.kind if s.business else None
    promise = s.business.promise if s.business else None
    promised = (
        promise.amount
        if promise is not None and promise.amount is not None and promise.currency == home_currency
        else 0
    )
    return RecoveryDelta(
        s.attempt.batch_id,
        s.attempt.account_id,
        s.ended_at,
        attempts=1,
        contacts=int(s.answered),
        right_party=int(s.answered and kind != Kind.WRONG_PERSON),
        promises=int(kind == Kind.PROMISE_TO_PAY),
        promised_amount=promised,
        cost_units=s.cost_units,
        billed_seconds=s.billed_seconds,
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def call_json(s: Settled) -> dict[str, Any]:
    a = s.attempt
    return {
        "attempt_id": a.id,
        "job_id": a.job_id,
        "batch_id": a.batch_id,
        "phone": a.phone,
        "attempt_number": a.number,
        "outcome": s.outcome,
        "business_result": s.business.kind.value if s.business and s.business.kind else None,
        "result": s.business.to_json() if s.business else None,
        "started_at": _iso(a.started_at),
        "answered_at": _iso(a.answered_at),
        "ended_at": _iso(s.ended_at),
        "duration_s": a.duration_s,
        "billed_seconds": s.billed_seconds,
        "cost_units": s.cost_units,
    }


def correction_json(
    a: CallAttempt, job: Job, *, previous_outcome: str, refund_units: int,
    withdrawn_promises: Sequence[str], reason: str,
) -> dict[str, Any]:  # fmt: skip
    """``call.corrected``: a call already reported (``call.completed``) is settled again -
    what it is now, what it was, the money given back, the promises withdrawn and where
    its job stands (``job.finished`` may have said it was done)."""
    return {
        "attempt_id": a.id,
        "job_id": a.job_id,
        "batch_id": a.batch_id,
        "phone": a.phone,
        "attempt_number": a.number,
        "reason": reason,
        "previous_outcome": previous_outcome,
        "outcome": a.outcome,
        "business_result": a.business_result,
        "ended_at": _iso(a.ended_at),
        "duration_s": a.duration_s,
        "billed_seconds": a.billed_seconds,
        "cost_units": a.cost_units,
        "refund_units": refund_units,
        "withdrawn_promises": list(withdrawn_promises),
        "job": job_json(job),
    }


def job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "batch_id": job.batch_id,
        "status": str(job.status),
        "dni": job.dni,
        "attempts": job.attempts,
        "last_outcome": job.last_outcome,
        "business_result": job.business_result,
        "result": (job.result or {}).get("outcome"),
        "completed_at": _iso(job.completed_at),
    }


def write_results(settled: Sequence[Settled]) -> None:
    """The structured results on the attempts and jobs (pure: attributes only), before the
    settlement's flush, so each row is written once."""
    for s in settled:
        a, job = s.attempt, s.job
        if s.business is not None:
            data = s.business.to_json()
            a.result = data
            if s.business.kind is not None:
                a.business_result = s.business.kind.value
            job.business_result = a.business_result
            result = dict(job.result or {})
            result["outcome"] = data
            if s.step_record is not None:
                result["follow_up"] = s.step_record
                if s.step_record.get("reason") == "callback":
                    result["callbacks"] = int(result.get("callbacks") or 0) + 1
            job.result = result
        elif s.step_record is not None:
            job.result = {**(job.result or {}), "follow_up": s.step_record}


async def record_business(
    session: AsyncSession, settled: Sequence[Settled], *, home: Mapping[str, str], now: datetime
) -> None:
    """Write what the business results mean (after ``write_results``): promises, the
    recovery roll-up and the outbound events; ``home`` is each account's currency."""
    deltas: list[RecoveryDelta] = []
    events: list[OutboxEvent] = []
    wanted = await JobRepository.from_session(session).subscribed(
        s.attempt.account_id for s in settled
    )
    for s in settled:
        a, job = s.attempt, s.job
        promise = s.business.promise if s.business is not None else None
        if (
            s.business is not None
            and s.business.kind == Kind.PROMISE_TO_PAY
            and promise is not None
        ):
            await record_promise(
                session, account_id=a.account_id, batch_id=a.batch_id, job_id=job.id,
                attempt_id=a.id, debtor_id=job.dni, terms=promise, currency=s.currency,
                grace_days=s.grace_days, tz=s.tz, now=now, first_attempt=a.number == 1,
                notify="promise.created" in wanted.get(a.account_id, frozenset()),
            )  # fmt: skip
        deltas.append(recovery_of(s, home_currency=home.get(a.account_id, s.currency)))
        want = wanted.get(a.account_id, frozenset())
        if "call.completed" in want:
            events.append(
                OutboxEvent.new(account_id=a.account_id, type="call.completed", at=now,
                                data=call_json(s))
            )  # fmt: skip
        if s.finished and "job.finished" in want:
            events.append(
                OutboxEvent.new(account_id=job.account_id, type="job.finished", at=now,
                                data=job_json(job))
            )  # fmt: skip
    session.add_all(events)
    await add_recovery(session, deltas)


async def record_late_business(
    session: AsyncSession,
    attempt: CallAttempt,
    job: Job,
    business: Outcome,
    *,
    currency: str,
    home_currency: str,
    grace_days: int,
    tz: tzinfo,
    now: datetime,
) -> None:
    """A post-call analysis that came after the call was settled (Retell ``call_analyzed``):
    the structured result and the promise are recorded, and the roll-up corrected (the
    attempt, its contact and its cost were counted at settlement)."""
    before = attempt.result
    attempt.result = business.to_json()
    if business.kind is not None:
        attempt.business_result = business.kind.value
    if (job.result or {}).get("attempt_id") in (None, attempt.id):
        job.business_result = attempt.business_result
        job.result = {**(job.result or {}), "outcome": attempt.result}
    if before and before.get("kind") == business.kind:
        return  # the same analysis again
    promise = business.promise
    promised = 0
    if business.kind == Kind.PROMISE_TO_PAY and promise is not None:
        await record_promise(
            session, account_id=attempt.account_id, batch_id=attempt.batch_id, job_id=job.id,
            attempt_id=attempt.id, debtor_id=job.dni, terms=promise, currency=currency,
            grace_days=grace_days, tz=tz, now=now,
        )  # fmt: skip
        if promise.amount is not None and promise.currency == home_currency:
            promised = promise.amount
    await add_recovery(
        session,
        [
            RecoveryDelta(
                attempt.batch_id, attempt.account_id, attempt.ended_at or now,
                right_party=-int(business.kind == Kind.WRONG_PERSON),
                promises=int(business.kind == Kind.PROMISE_TO_PAY), promised_amount=promised,
            )
        ],
    )  # fmt: skip
