"""Settlement: what a call's events do to its attempt, its job, billing, the batch counters,
the contact log and the event feed. Read -> pure plan -> apply.

``apply_events`` (called with deduplicated events, in the caller's transaction):

1. read: the attempts the events name (by our attempt id when echoed, else by provider
   call id); lock their jobs (PostgreSQL FOR UPDATE, id order) and read the attempts
   again under the locks — another transaction may have finished them meanwhile;
2. a non-final event moves a DIALING (or UNKNOWN) attempt and its job to IN_PROGRESS; an event for an ended
   attempt is stale, except a later post-call analysis (``call.analysis``);
3. final events: read the accounts (unlocked: pricing, timezone, balance) and batch rows,
   and the ledger keys these attempts already used; ``plan_endings`` (pure) computes,
   per ended attempt, its billing (``billing.plan_settlement``), its job's next step
   (``batch.retry.decide`` through ``plan_transition``), the contact-log row and the
   counter deltas; ``_apply`` writes the plan in bulk.

Lock order (as in the claim): jobs -> hourly stats -> batch rows -> account rows. The
accounts are locked only for the ledger at the very end, so a busy account's claims and
settlements do not queue behind each other's whole transactions. If a balance moved
between the read and the lock, the money is planned again on the locked value (charges
only differ when one is capped at the balance, and the rows they touch are ours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from dialer.batch.retry import GiveUp, JobState, decide
from dialer.batch.rules import batch_rules
from dialer.batch.settings import CallSettings
from dialer.batch.windows import Schedule, for_debtor
from dialer.billing.pricing import call_cost
from dialer.billing.repository import read_account
from dialer.billing.service import (
    Charge,
    Entry,
    Settlement,
    append_entries,
    lock_account,
    plan_settlement,
    pricing_of,
    unlimited_ids,
    used_keys,
)
from dialer.call.analysis import (
    apply_late_analysis,
    record_provider_report,
    record_result,
)
from dialer.call.business import (
    Settled,
    business_step,
    correction_json,
    currency_for,
    read_outcome,
    record_business,
    record_late_business,
    voicemail_retry,
    write_results,
)
from dialer.call.event import CallEvent
from dialer.call.promises import withdraw_of_attempt
from dialer.call.service import abandon_attempt
from dialer.compliance import service as compliance_service
from dialer.db.bulk import insert_rows, write_through
from dialer.errors import NotFound
from dialer.job.counters import plan_transition
from dialer.job.outcomes import KIND_SYNONYMS, Kind, norm_key
from dialer.job.outcomes import Outcome as BusinessOutcome
from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.job.repository import JobRepository
from dialer.job.service import bump_batch, reopen_batch, set_status
from dialer.job.states import (
    ATTEMPT_FINAL,
    CORRECTIONS,
    FINAL,
    IN_FLIGHT,
    AttemptStatus,
    JobStatus,
    Outcome,
)
from dialer.kit import clock
from dialer.logging import get_logger
from dialer.metrics import CALL_OUTCOMES
from dialer.models import (
    Account,
    Batch,
    BatchStatus,
    CallAttempt,
    ContactLog,
    EntryKind,
    Event,
    Job,
    OutboxEvent,
)
from dialer.outbox import publish
from dialer.reporting.service import hour_bucket, record_attempt

log = get_logger("dialer.settlement")


@dataclass(frozen=True)
class Ending:
    """A final event and the attempt and job it ends (read under the job's lock)."""

    event: CallEvent
    attempt: CallAttempt
    job: Job


@dataclass(frozen=True)
class BatchRules:
    """What settling needs of a batch: its status when read and its call settings."""

    account_id: str
    status: BatchStatus
    call_settings: dict[str, Any]
    # The validated settings and schedule by (account timezone, country), resolved once
    # per settlement rather than once per ending and step.
    resolved: dict[tuple[str, str | None], tuple[CallSettings, Schedule]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True)
class NextStep:
    """Where a job goes after its current attempt ended."""

    status: JobStatus
    wait_reason: str | None
    next_attempt_at: datetime | None = None  # a retry's due time
    phone_index: int | None = None  # a retry's phone
    # Why the time is not the retry policy's (callback, promise follow-up, voicemail band).
    record: dict[str, Any] | None = None


@dataclass(frozen=True)
class EndingPlan:
    """One ended attempt: what it records, what it is charged, where its job goes."""

    ending: Ending
    outcome: str
    duration_s: int
    billed_seconds: int
    ended_at: datetime
    charge: Charge
    next: NextStep | None  # None: the job had already moved on (a rescued, re-dialed job)
    business: BusinessOutcome | None = None  # the structured business result of an answered call

    @property
    def answered(self) -> bool:
        return self.outcome == Outcome.COMPLETED


@dataclass
class SettlementPlan:
    endings: list[EndingPlan]
    money: list[Settlement]  # per ending, planned on the balances read
    counters: dict[str, Counter[str]] = field(default_factory=dict)  # by batch id

    def add(self, batch_id: str, deltas: Mapping[str, int]) -> None:
        self.counters.setdefault(batch_id, Counter()).update(deltas)


async def apply_events(session: AsyncSession, events: Sequence[CallEvent], now: datetime) -> int:
    """Apply deduplicated provider events; returns how many changed something. Never commits."""
    attempt_jobs = await _attempt_jobs(session, events)
    job_ids = sorted(set(attempt_jobs.values()))
    if not job_ids:
        for e in events:
            log.warning("webhook.unknown_call", provider=e.provider, call_id=e.provider_call_id)
        return 0
    jobs, attempts = await _lock(session, job_ids, set(attempt_jobs))
    by_call = {(a.provider, a.provider_call_id): a for a in attempts.values()}
    applied = 0
    endings: list[Ending] = []
    late: list[tuple[CallEvent, CallAttempt, Job]] = []
    not_dialed: list[CallAttempt] = []
    ending_ids: set[str] = set()
    # Progress events first, so "answered" then "ended" in one delivery lands in order.
    for e in sorted(events, key=lambda e: e.final):
        a = attempts.get(e.attempt_id) if e.attempt_id else by_call.get(_call_key(e))
        job = jobs.get(a.job_id) if a else None
        if a is None or job is None:
            log.warning("webhook.unknown_call", provider=e.provider, call_id=e.provider_call_id)
        elif a.status in ATTEMPT_FINAL or a.id in ending_ids:
            late.append((e, a, job))
        elif not e.final:
            applied += _apply_progress(a, job, e)
        elif not e.spend_attempt:
            # The provider refused before dialing (its concurrency limit): no call was
            # made, no attempt is spent, the job backs off.
            not_dialed.append(a)
            ending_ids.add(a.id)
        else:
            endings.append(Ending(e, a, job))
            ending_ids.add(a.id)
    if endings:
        # Batch rows are locked in first-touch order: keep it sorted across transactions.
        endings.sort(key=lambda x: (x.job.batch_id, x.job.id))
        applied += await _settle(session, endings, now)
    for a in sorted(not_dialed, key=lambda a: a.job_id):
        applied += int(
            await abandon_attempt(
                session, a.id, now=now, retry_at=now + PROVIDER_BUSY_BACKOFF,
                reason="provider_busy", error="provider at its concurrency limit", placed=True,
            )
        )  # fmt: skip
    for e, a, job in late:
        # Stale, except a later post-call analysis (Retell call_analyzed): merged into the
        # ended attempt without billing again - or, when it says the line was a
        # voicemail, re-settled as one (once).
        if _late_voicemail(a, e):
            applied += await resettle_as_voicemail(session, a, job, e, now)
            continue
        report = record_provider_report(a, e) if a.status == AttemptStatus.ENDED else False
        merged = apply_late_analysis(a, job, e)
        applied += max(merged, int(report))
        if merged:
            await late_business(session, a, job, e, now)
    await session.flush()
    return applied


# A provider at its concurrency limit: the job is tried again after this.
PROVIDER_BUSY_BACKOFF = timedelta(seconds=60)


def _late_voicemail(a: CallAttempt, e: CallEvent) -> bool:
    return (
        e.final
        and a.status == AttemptStatus.ENDED
        and a.outcome == Outcome.COMPLETED
        and e.outcome == Outcome.VOICEMAIL
    )


async def resettle_as_voicemail(
    session: AsyncSession, a: CallAttempt, job: Job, e: CallEvent, now: datetime
) -> int:
    """A completed attempt the provider's later report says reached a voicemail (Retell
    ``call_analysis.in_voicemail``, a Twilio async AMD verdict after the final status) is
    settled again as one, once:

    * billing: its billed time and charge become a voicemail's (the unanswered price
      class); the difference is one ledger ``adjustment`` (key ``voicemail:<attempt>``);
      the hourly roll-up moves the call from the ``completed`` to the ``voicemail``
      bucket; the answered-call counter and the recovery figures lose it;
    * the job, when this attempt is what decided its state (completed, or scheduled for
      the call's callback / promise follow-up): re-decided by the retry policy as for a
      voicemail (``next_step``) - a retry in another band, or failed when no attempt is
      left or the campaign is over - through the checked ``CORRECTIONS`` moves; a callback
      or promise follow-up the call had scheduled goes with it;
    * the promise to pay recorded from the call is withdrawn (``promise.withdrawn``, out of
      the recovery figures), and ``call.corrected`` tells the account's webhooks what the
      call is now (they were told ``call.completed``, perhaps ``job.finished``).

    Returns 1 when applied."""
    account = await read_account(session, a.account_id)
    if account is None:
        return 0
    # The line time: what the provider measured for the call, whichever report says more.
    duration = max(e.duration_s, a.duration_s or 0, 0)
    secs, cost = call_cost(
        account.plan_type, pricing_of(account), duration_s=duration, answered=False
    )
    old_secs, old_cost = a.billed_seconds, a.cost_units
    d_secs, d_cost = secs - old_secs, cost - old_cost
    a.outcome = str(Outcome.VOICEMAIL)
    a.business_result = None
    a.answered_at = None
    a.billed_seconds, a.cost_units = secs, cost
    a.duration_s = duration
    a.summary = e.summary or a.summary
    record_provider_report(a, e)
    job.billed_seconds += d_secs
    job.cost_units += d_cost
    if job.last_outcome == Outcome.COMPLETED:
        job.last_outcome = str(Outcome.VOICEMAIL)
    if (job.result or {}).get("attempt_id") == a.id:
        job.business_result = None
        job.result = {}
    batches = await _batch_rules(session, {job.batch_id})
    step = _redecided(job, a, batches.get(job.batch_id), account, now)
    moved = _correct_job(job, step, now) if step is not None else Counter()
    await session.flush()
    # Lock order: jobs (held) -> hourly stats -> batch -> account.
    hour = hour_bucket(a.ended_at or now)
    await record_attempt(
        session, account_id=a.account_id, at=hour, outcome=str(Outcome.COMPLETED),
        billed_seconds=-old_secs, cost_units=-old_cost, calls=-1,
    )  # fmt: skip
    await record_attempt(
        session, account_id=a.account_id, at=hour, outcome=str(Outcome.VOICEMAIL),
        billed_seconds=secs, cost_units=cost, calls=1,
    )  # fmt: skip
    deltas: Counter[str] = Counter(
        {"answered_calls": -1, "billed_seconds": d_secs, "cost_units": d_cost}
    )
    deltas.update(moved)
    kind = (a.result or {}).get("kind")
    await add_recovery(
        session,
        [RecoveryDelta(a.batch_id, a.account_id, a.ended_at or now, contacts=-1,
                       right_party=-int(kind != "wrong_person"), billed_seconds=d_secs,
                       cost_units=d_cost)],
    )  # fmt: skip
    a.result = None
    # The promise recorded from the call (and the follow-up scheduled from it, re-decided
    # above) is withdrawn: nobody made it.
    withdrawn = await withdraw_of_attempt(
        session, a.id, home_currency=currency_for(account.country), now=now,
        at=a.ended_at or now,
    )  # fmt: skip
    if step is not None:
        await insert_rows(session, Event, [_job_event(job, now)])
    wanted = await JobRepository.from_session(session).subscribed([a.account_id])
    if "call.corrected" in wanted.get(a.account_id, frozenset()):
        # The customer's CRM heard "completed" (call.completed, maybe job.finished and
        # promise.created): it hears the correction, signed and delivered like those.
        session.add(
            OutboxEvent.new(
                account_id=a.account_id, type="call.corrected", at=now,
                data=correction_json(
                    a, job, previous_outcome=str(Outcome.COMPLETED), refund_units=-d_cost,
                    withdrawn_promises=[p.id for p in withdrawn],
                    reason=_correction_reason(e),
                ),
            )
        )  # fmt: skip
    await bump_batch(session, a.batch_id, a.account_id, {k: v for k, v in deltas.items() if v})
    if d_cost and f"voicemail:{a.id}" not in await used_keys(session, {a.id}):
        locked = await lock_account(session, a.account_id)
        await append_entries(
            session, {a.account_id: locked},
            [Entry(a.account_id, EntryKind.ADJUSTMENT, -d_cost, f"voicemail:{a.id}",
                   batch_id=a.batch_id, job_id=a.job_id, attempt_id=a.id,
                   description="re-settled as voicemail (provider's post-call analysis)")],
            now=now,
        )  # fmt: skip
    log.info("settlement.resettled_voicemail", attempt_id=a.id, job_id=a.job_id,
             account_id=a.account_id, refund=-d_cost, withdrawn_promises=len(withdrawn),
             job_status=str(job.status))  # fmt: skip
    return 1


def _correction_reason(e: CallEvent) -> str:
    """Why a completed call became a voicemail, as the correction event names it."""
    if str((e.extracted or {}).get("answered_by", "")).startswith(("machine", "fax")):
        return "answering_machine_detected"  # Twilio's async AMD verdict came late
    return "provider_voicemail_verdict"  # the provider's post-call analysis


# Job states an attempt's own settlement leads to, which a correction of it re-decides.
_DECIDED_BY_CALL = frozenset({"callback", "promise"})


def _redecided(
    job: Job, a: CallAttempt, batch: BatchRules | None, account: Account, now: datetime
) -> NextStep | None:
    """Where the job goes now that ``a`` is a voicemail; None when ``a`` is not what
    decided the job's state (a later attempt did, it is in flight again, an operator or a
    payment moved it) - then the job is left as it is. Pure."""
    if job.current_attempt_id is not None or job.attempts != a.number:
        return None
    decided = job.status == JobStatus.COMPLETED or (
        job.status == JobStatus.SCHEDULED and job.wait_reason in _DECIDED_BY_CALL
    )
    if not decided:
        return None
    if batch is None or batch.status not in (BatchStatus.ACTIVE, BatchStatus.PAUSED):
        # The campaign is over (completed or cancelled): no retry; nobody was reached.
        return NextStep(JobStatus.FAILED, None)
    step = next_step(job, a, str(Outcome.VOICEMAIL), batch, account, now)
    return step if step.status in CORRECTIONS[job.status] else None


def _correct_job(job: Job, step: NextStep, now: datetime) -> Counter[str]:
    """Apply a re-decided step to a settled job (``CORRECTIONS`` moves); its counter deltas."""
    deltas = set_status(job, step.status, correction=True)
    job.wait_reason = step.wait_reason
    if step.next_attempt_at is not None:
        job.next_attempt_at = step.next_attempt_at
    if step.phone_index is not None:
        job.phone_index = step.phone_index
    if step.record is not None:
        job.result = {**(job.result or {}), "follow_up": step.record}
    job.completed_at = (job.completed_at or now) if step.status in FINAL else None
    return deltas


async def late_business(
    session: AsyncSession, a: CallAttempt, job: Job, e: CallEvent, now: datetime
) -> None:
    """The structured result of a post-call analysis that came after the settlement."""
    account = await read_account(session, a.account_id)
    if account is None:
        return
    rules = await _batch_rules(session, {job.batch_id})
    batch = rules.get(job.batch_id)
    settings, schedule = _rules_of(job, batch, account)
    currency = currency_for(account.country)
    business = read_outcome(
        raw=e.raw, extracted=a.extracted or {}, declared=a.business_result,
        call_at=a.ended_at or now, tz=schedule.tz, currency=currency,
    )  # fmt: skip
    if business is not None:
        await record_late_business(
            session, a, job, business, currency=currency, home_currency=currency,
            grace_days=settings.collections.broken_promise.grace_days, tz=schedule.tz, now=now,
        )  # fmt: skip
        await _late_follow_up(session, a, job, batch, business, settings, schedule, now)


async def _late_follow_up(
    session: AsyncSession,
    a: CallAttempt,
    job: Job,
    batch: BatchRules | None,
    business: BusinessOutcome,
    settings: CallSettings,
    schedule: Schedule,
    now: datetime,
) -> None:
    """A callback or promise follow-up that only the post-call analysis reported (Retell
    sends the analysis in ``call_analyzed``, after ``call_ended`` settled the call): the
    job its call completed waits for it, as if the settlement had read it - one checked
    ``CORRECTIONS`` move (completed -> scheduled). When that call was the campaign's last,
    the campaign completed with it and is reopened for the follow-up. Nothing when this
    attempt is not what finished the job or the campaign was cancelled."""
    if (
        job.status != JobStatus.COMPLETED
        or job.current_attempt_id is not None
        or job.attempts != a.number
        or batch is None
        or batch.status not in (BatchStatus.ACTIVE, BatchStatus.PAUSED, BatchStatus.COMPLETED)
    ):
        return
    wait = business_step(
        business, settings=settings, schedule=schedule, phone_index=a.phone_index,
        callbacks_made=int((job.result or {}).get("callbacks") or 0), now=now,
    )  # fmt: skip
    if wait is None:
        return
    step = NextStep(JobStatus.SCHEDULED, wait.wait_reason, wait.at, wait.phone_index, wait.record)
    deltas = _correct_job(job, step, now)
    # The follow-up dial is one more attempt, whatever the retries already spent.
    job.max_attempts = max(job.max_attempts, job.attempts + 1)
    if wait.wait_reason == "callback":
        result = dict(job.result or {})
        result["callbacks"] = int(result.get("callbacks") or 0) + 1
        job.result = result
    await session.flush()
    await insert_rows(session, Event, [_job_event(job, now)])
    await bump_batch(session, job.batch_id, job.account_id, {k: v for k, v in deltas.items() if v})
    # The rules may be cached from before the campaign completed: the reopening is
    # decided by the batch row itself (a no-op unless it is completed).
    await reopen_batch(session, job.batch_id, job.account_id, reason=wait.wait_reason)
    log.info("settlement.late_follow_up", attempt_id=a.id, job_id=job.id,
             reason=wait.wait_reason, at=wait.at.isoformat())  # fmt: skip


def _call_key(e: CallEvent) -> tuple[str, str | None]:
    return (e.provider, e.provider_call_id)


async def _attempt_jobs(session: AsyncSession, events: Sequence[CallEvent]) -> dict[str, str]:
    """Job id by attempt id of the attempts the events name. Plain rows: only the job ids
    are needed to take the locks; the attempts are read again under them."""
    cols = (CallAttempt.id, CallAttempt.job_id)
    by_id = {e.attempt_id for e in events if e.attempt_id}
    by_call = {(e.provider, e.provider_call_id) for e in events if not e.attempt_id}
    found: list[Any] = []
    if by_id:
        found += (await session.execute(select(*cols).where(CallAttempt.id.in_(by_id)))).all()
    for provider, call_id in by_call:
        a = (
            await session.execute(
                select(*cols).where(
                    CallAttempt.provider == provider, CallAttempt.provider_call_id == call_id
                )
            )
        ).first()
        if a is not None:
            found.append(a)
    return {a.id: a.job_id for a in found}


async def _lock(
    session: AsyncSession, job_ids: list[str], attempt_ids: set[str]
) -> tuple[dict[str, Job], dict[str, CallAttempt]]:
    # The contact data (payload) and the variables sent are never needed here: not
    # decoding them is a good part of the cost of a settlement.
    jobs_stmt = (
        select(Job)
        .where(Job.id.in_(job_ids))
        .order_by(Job.id)
        .options(defer(Job.payload, raiseload=True))
        .execution_options(populate_existing=True)
    )
    jobs_stmt = jobs_stmt.with_for_update()
    jobs = {j.id: j for j in (await session.execute(jobs_stmt)).scalars().all()}
    attempts_stmt = (
        select(CallAttempt)
        .where(CallAttempt.id.in_(attempt_ids))
        .options(defer(CallAttempt.variables, raiseload=True))
        .execution_options(populate_existing=True)
    )
    attempts = {a.id: a for a in (await session.execute(attempts_stmt)).scalars().all()}
    return jobs, attempts


def _apply_progress(a: CallAttempt, job: Job, e: CallEvent) -> int:
    a.provider_call_id = a.provider_call_id or e.provider_call_id
    record_provider_report(a, e)
    if e.answered_at and a.answered_at is None:
        a.answered_at = e.answered_at
    if a.status not in (AttemptStatus.DIALING, AttemptStatus.UNKNOWN):
        return 0
    a.status = AttemptStatus.IN_PROGRESS
    if job.current_attempt_id == a.id and job.status == JobStatus.DIALING:
        set_status(job, JobStatus.IN_PROGRESS)  # moves no counter
        job.wait_reason = None  # an unresolved call (operator's attention) is resolved now
    return 1


# -- plan (pure) ------------------------------------------------------------------------


def plan_endings(
    endings: Sequence[Ending],
    accounts: Mapping[str, Account],
    batches: Mapping[str, BatchRules],
    used: Collection[str],
    now: datetime,
) -> SettlementPlan:
    """The settlement of ``endings`` (in order). Pure: reads the objects, changes nothing.

    ``accounts`` and ``batches`` by id as read; ``used`` the ledger keys these attempts
    already have (a replayed event is charged nothing)."""
    plans: list[EndingPlan] = []
    moved: set[str] = set()  # jobs given their next step by an earlier ending here
    for x in endings:
        a, job, e = x.attempt, x.job, x.event
        account = accounts[a.account_id]
        outcome = str(e.outcome or Outcome.FAILED)
        duration = max(e.duration_s, 0)
        secs, cost = call_cost(
            account.plan_type,
            pricing_of(account),
            duration_s=duration,
            answered=outcome == Outcome.COMPLETED,
        )
        ended_at = e.ended_at or now
        _settings, schedule = _rules_of(job, batches.get(job.batch_id), account)
        business = (
            read_outcome(
                raw=e.raw, extracted=e.extracted, declared=e.business_result, call_at=ended_at,
                tz=schedule.tz, currency=currency_for(account.country),
            )
            if outcome == Outcome.COMPLETED
            else None
        )  # fmt: skip
        step = None
        if job.id not in moved and job.current_attempt_id == a.id and job.status in IN_FLIGHT:
            step = next_step(job, a, outcome, batches.get(job.batch_id), account, now, business)
            moved.add(job.id)
        charge = Charge(a.account_id, a.id, a.batch_id, a.job_id, a.reserved_units or 0, cost)
        plans.append(EndingPlan(x, outcome, duration, secs, ended_at, charge, step, business))
    balances = {i: acc.balance for i, acc in accounts.items()}
    money = plan_settlement(
        balances, [p.charge for p in plans], used, unlimited=unlimited_ids(accounts)
    )
    plan = SettlementPlan(plans, money)
    for p, m in zip(plans, money, strict=True):
        a, job = p.ending.attempt, p.ending.job
        plan.add(
            a.batch_id,
            {
                "attempts_made": 1,
                "answered_calls": int(p.answered),
                "billed_seconds": p.billed_seconds,
                "cost_units": m.charged,
            },
        )
        if p.next is not None:
            plan.add(job.batch_id, _step_deltas(job.status, p.next.status))
    return plan


def _rules_of(
    job: Job, batch: BatchRules | None, account: Account
) -> tuple[CallSettings, Schedule]:
    """The batch's settings and its schedule on the debtor's own clock and regional
    calendar (the claim's): a callback's "mañana a las 11", a promise's "el viernes" and
    the opening a follow-up moves to are the debtor's."""
    key = (account.timezone, account.country)
    rules = batch.resolved.get(key) if batch is not None else None
    if rules is None:
        rules = batch_rules(
            job.batch_id, (batch.call_settings if batch else None) or {},
            timezone=account.timezone, country=account.country,
        )  # fmt: skip
        if batch is not None:
            batch.resolved[key] = rules
    settings, schedule = rules
    return settings, for_debtor(schedule, settings.compliance_profile, job.timezone, job.region)


def next_step(
    job: Job,
    a: CallAttempt,
    outcome: str,
    batch: BatchRules | None,
    account: Account,
    now: datetime,
    business: BusinessOutcome | None = None,
) -> NextStep:
    """The retry policy applied to a job whose current attempt ended, then what its
    business result asks (a callback, a promise's follow-up) and the voicemail policy.
    Pure."""
    settings, schedule = _rules_of(job, batch, account)
    state = JobState(
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        phone_index=a.phone_index,
        phone_count=len(job.phones or []),
    )
    decision = decide(state, outcome, settings, now)
    cancelled = batch is not None and batch.status == BatchStatus.CANCELLED
    if isinstance(decision, GiveUp):
        if decision.final_status == JobStatus.COMPLETED and not cancelled:
            wait = business_step(
                business, settings=settings, schedule=schedule, phone_index=a.phone_index,
                callbacks_made=int((job.result or {}).get("callbacks") or 0), now=now,
            )  # fmt: skip
            if wait is not None:
                return NextStep(JobStatus.SCHEDULED, wait.wait_reason, wait.at,
                                wait.phone_index, wait.record)  # fmt: skip
        return NextStep(decision.final_status, None)
    if cancelled:
        # Cancelled while on the line: the call finished and was billed; no retry.
        return NextStep(JobStatus.CANCELLED, None, decision.at, decision.phone_index)
    at, record = decision.at, None
    if outcome == Outcome.VOICEMAIL:
        at, record = voicemail_retry(
            at, settings=settings, schedule=schedule, last_attempt_at=a.started_at or now
        )
    return NextStep(JobStatus.SCHEDULED, "retry", at, decision.phone_index, record)


def _step_deltas(src: JobStatus, dst: JobStatus) -> Counter[str]:
    """Counter deltas of a next step; a cancelled retry goes through SCHEDULED."""
    if dst == JobStatus.CANCELLED and src in IN_FLIGHT:
        deltas = plan_transition(src, JobStatus.SCHEDULED)
        deltas.update(plan_transition(JobStatus.SCHEDULED, dst))
        return deltas
    return plan_transition(src, dst)


# -- apply ------------------------------------------------------------------------------


async def _settle(session: AsyncSession, endings: list[Ending], now: datetime) -> int:
    accounts: dict[str, Account] = {}
    for account_id in sorted({x.attempt.account_id for x in endings}):
        account = await read_account(session, account_id)
        if account is None:
            raise NotFound(f"account '{account_id}' not found")
        accounts[account_id] = account
    batches = await _batch_rules(session, {x.job.batch_id for x in endings})
    used = await used_keys(session, {x.attempt.id for x in endings})
    plan = plan_endings(endings, accounts, batches, used, now)
    await _apply(session, plan, accounts, batches, used, now)
    return len(endings)


async def _batch_rules(session: AsyncSession, batch_ids: set[str]) -> dict[str, BatchRules]:
    rows = await session.execute(
        select(Batch.id, Batch.account_id, Batch.status, Batch.call_settings).where(
            Batch.id.in_(batch_ids)
        )
    )
    return {r.id: BatchRules(r.account_id, r.status, r.call_settings or {}) for r in rows}


async def _apply(
    session: AsyncSession,
    plan: SettlementPlan,
    accounts: dict[str, Account],
    batches: Mapping[str, BatchRules],
    used: Collection[str],
    now: datetime,
) -> None:
    contacts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    stats: dict[tuple[str, datetime, str], Counter[str]] = {}
    for p, money in zip(plan.endings, plan.money, strict=True):
        a, job = p.ending.attempt, p.ending.job
        _end_attempt(a, p.ending.event, p, money.charged)
        job.billed_seconds += p.billed_seconds
        job.cost_units += money.charged
        job.last_outcome = p.outcome
        if p.answered:
            record_result(job, a)
            contacts.append(
                {
                    "account_id": a.account_id,
                    "debtor_key": job.dni or (job.phones[0] if job.phones else a.phone),
                    "attempt_id": a.id,
                    "batch_id": a.batch_id,
                    "contacted_at": a.answered_at or p.ended_at,
                }
            )
        if p.next is not None:
            _move_job(job, p.next, now)
            events.append(_job_event(job, now))
        CALL_OUTCOMES.labels(p.outcome).inc()
        key = (a.account_id, hour_bucket(p.ended_at), p.outcome)
        stats.setdefault(key, Counter()).update(
            calls=1, billed_seconds=p.billed_seconds, cost_units=money.charged
        )
    business = _settled(plan, accounts, batches)
    write_results(business)
    # The settled rows in one statement per table (the unit of work would issue one per
    # run of rows that differ in which columns changed); anything else flushes as usual.
    jobs = {p.ending.job.id: p.ending.job for p in plan.endings}
    await write_through(session, list(jobs.values()), _SETTLED_JOB)
    await write_through(session, [p.ending.attempt for p in plan.endings], _ENDED_ATTEMPT)
    await session.flush()
    await insert_rows(session, ContactLog, contacts)
    await insert_rows(session, Event, events)
    home = {i: currency_for(acc.country) for i, acc in accounts.items()}
    await record_business(session, business, home=home, now=now)

    # Hot rows last, always in this order: hourly stats -> batch -> account (the claim
    # takes batch -> account), each held only until the commit that follows.
    for (account_id, hour, outcome), s in sorted(stats.items()):
        await record_attempt(
            session, account_id=account_id, at=hour, outcome=outcome,
            billed_seconds=s["billed_seconds"], cost_units=s["cost_units"], calls=s["calls"],
        )  # fmt: skip
    for batch_id in sorted(plan.counters):
        deltas = {k: v for k, v in plan.counters[batch_id].items() if v}
        if deltas:
            b = batches.get(batch_id)
            await bump_batch(session, batch_id, b.account_id if b else "", deltas)
    await _cancel_retries_of_cancelled(session, [p.ending.job for p in plan.endings], batches)
    for p in plan.endings:
        a, job = p.ending.attempt, p.ending.job
        if p.answered and _asked_not_to_call(a.business_result):
            # The debtor asked not to be called again: the number goes on the list and
            # the debtor's other waiting jobs end, in every batch of the account.
            await compliance_service.honour_do_not_call_request(
                session, account_id=a.account_id, dni=job.dni, phone=a.phone, attempt_id=a.id
            )
    await _publish_progress(session, sorted(plan.counters))

    settled = await _lock_and_replan(session, plan, accounts, used)
    entries = [entry for m in settled for entry in m.entries]
    await append_entries(session, accounts, entries, now=now)


# What ending an attempt writes on its row and its job's (``write_through``).
_ENDED_ATTEMPT = frozenset(
    {
        "status", "outcome", "business_result", "provider_call_id", "answered_at", "ended_at",
        "duration_s", "billed_seconds", "cost_units", "transcript", "summary", "extracted",
        "error", "recording_url", "provider_cost", "collected_variables", "provider_ids",
        "result",
    }
)  # fmt: skip
_SETTLED_JOB = frozenset(
    {
        "status", "billed_seconds", "cost_units", "last_outcome", "business_result", "result",
        "wait_reason", "next_attempt_at", "phone_index", "max_attempts", "lease_expires_at",
        "worker_id", "current_attempt_id", "completed_at",
    }
)  # fmt: skip


def _settled(
    plan: SettlementPlan, accounts: Mapping[str, Account], batches: Mapping[str, BatchRules]
) -> list[Settled]:
    """The settled attempts as the business side needs them (structured results,
    promises, the recovery roll-up and outbound events)."""
    settled = []
    for p, money in zip(plan.endings, plan.money, strict=True):
        a, job = p.ending.attempt, p.ending.job
        account = accounts[a.account_id]
        settings, schedule = _rules_of(job, batches.get(job.batch_id), account)
        settled.append(
            Settled(
                attempt=a, job=job, outcome=p.outcome, answered=p.answered,
                business=p.business, step_record=p.next.record if p.next else None,
                ended_at=p.ended_at, billed_seconds=p.billed_seconds, cost_units=money.charged,
                currency=currency_for(account.country),
                grace_days=settings.collections.broken_promise.grace_days, tz=schedule.tz,
                finished=p.next is not None and p.next.status in FINAL,
            )
        )  # fmt: skip
    return settled


def _end_attempt(a: CallAttempt, e: CallEvent, p: EndingPlan, charged: int) -> None:
    a.status = AttemptStatus.ENDED
    a.outcome = p.outcome
    a.business_result = e.business_result
    a.provider_call_id = a.provider_call_id or e.provider_call_id
    a.answered_at = a.answered_at or e.answered_at
    a.ended_at = p.ended_at
    a.duration_s = p.duration_s
    a.billed_seconds = p.billed_seconds
    a.cost_units = charged
    a.transcript = e.transcript
    a.summary = e.summary
    a.extracted = dict(e.extracted)
    a.error = e.error
    record_provider_report(a, e)


def _asked_not_to_call(business_result: str | None) -> bool:
    return bool(business_result) and (
        KIND_SYNONYMS.get(norm_key(business_result or "")) == Kind.DO_NOT_CALL
    )


def _move_job(job: Job, step: NextStep, now: datetime) -> None:
    if step.status == JobStatus.CANCELLED and job.status in IN_FLIGHT:
        set_status(job, JobStatus.SCHEDULED)
    set_status(job, step.status)
    job.wait_reason = step.wait_reason
    if step.next_attempt_at is not None:
        job.next_attempt_at = step.next_attempt_at
    if step.phone_index is not None:
        job.phone_index = step.phone_index
    if step.wait_reason in ("callback", "promise"):
        # The follow-up dial is one more attempt, whatever the retries already spent.
        job.max_attempts = max(job.max_attempts, job.attempts + 1)
    job.lease_expires_at = None
    job.worker_id = None
    job.current_attempt_id = None
    if step.status in FINAL and job.completed_at is None:
        job.completed_at = now


def _job_event(job: Job, now: datetime) -> dict[str, Any]:
    return {
        "account_id": job.account_id,
        "batch_id": job.batch_id,
        "job_id": job.id,
        "type": "job.status",
        "created_at": now,
        "data": {"job_id": job.id, "status": str(job.status), "outcome": job.last_outcome},
    }


async def _lock_and_replan(
    session: AsyncSession,
    plan: SettlementPlan,
    accounts: dict[str, Account],
    used: Collection[str],
) -> list[Settlement]:
    """Lock the accounts (id order) and, if a balance moved since it was read, plan the
    money again on the locked values and correct the charges that changed."""
    read = {i: acc.balance for i, acc in accounts.items()}
    for account_id in sorted(accounts):
        accounts[account_id] = await lock_account(session, account_id)
    if all(accounts[i].balance == read[i] for i in accounts):
        return plan.money
    charges = [p.charge for p in plan.endings]
    balances = {i: a.balance for i, a in accounts.items()}
    replanned = plan_settlement(balances, charges, used, unlimited=unlimited_ids(accounts))
    for p, old, new in zip(plan.endings, plan.money, replanned, strict=True):
        diff = new.charged - old.charged
        if diff:
            a = p.ending.attempt
            a.cost_units = new.charged
            p.ending.job.cost_units += diff
            await JobRepository.from_session(session).apply_batch_deltas(
                a.batch_id, {"cost_units": diff}
            )
            await record_attempt(
                session, account_id=a.account_id, at=p.ended_at, outcome=p.outcome,
                billed_seconds=0, cost_units=diff, calls=0,
            )  # fmt: skip
    return replanned


async def _cancel_retries_of_cancelled(
    session: AsyncSession, jobs: list[Job], batches: Mapping[str, BatchRules]
) -> None:
    """A cancel that committed after this settlement read the batch status (PostgreSQL,
    READ COMMITTED) must still win: the counter UPDATE above waited for it and now holds
    the batch row, so the status read here is final. Retries just scheduled in such a
    batch are cancelled. (A cancel that comes later cancels them itself.)"""
    ids = sorted({j.batch_id for j in jobs})
    now_status = dict(
        (await session.execute(select(Batch.id, Batch.status).where(Batch.id.in_(ids)))).all()
    )
    stale = {
        b for b in ids
        if now_status.get(b) == BatchStatus.CANCELLED
        and (batches.get(b) is None or batches[b].status != BatchStatus.CANCELLED)
    }  # fmt: skip
    if not stale:
        return
    moved: dict[str, Counter[str]] = {}
    for job in jobs:
        if job.batch_id in stale and job.status == JobStatus.SCHEDULED:
            moved.setdefault(job.batch_id, Counter()).update(set_status(job, JobStatus.CANCELLED))
            job.wait_reason = None
            job.completed_at = job.completed_at or clock.now()
    await session.flush()
    for batch_id, deltas in sorted(moved.items()):
        await JobRepository.from_session(session).apply_batch_deltas(batch_id, deltas)


async def _publish_progress(session: AsyncSession, batch_ids: list[str]) -> None:
    if not batch_ids:
        return
    rows = (
        await session.execute(
            select(
                Batch.id, Batch.account_id, Batch.status, Batch.total_jobs, Batch.pending_jobs,
                Batch.in_progress_jobs, Batch.completed_jobs, Batch.failed_jobs,
                Batch.cancelled_jobs, Batch.attempts_made, Batch.answered_calls,
                Batch.billed_seconds, Batch.cost_units,
            ).where(Batch.id.in_(batch_ids))
        )
    ).all()  # fmt: skip
    for r in rows:
        total = r.total_jobs or 0
        done = (r.completed_jobs or 0) + (r.failed_jobs or 0) + (r.cancelled_jobs or 0)
        await publish(
            session,
            account_id=r.account_id,
            batch_id=r.id,
            type="batch.progress",
            data={
                "batch_id": r.id, "status": str(r.status), "total_jobs": total,
                "pending_jobs": r.pending_jobs, "in_progress_jobs": r.in_progress_jobs,
                "completed_jobs": r.completed_jobs, "failed_jobs": r.failed_jobs,
                "cancelled_jobs": r.cancelled_jobs, "attempts_made": r.attempts_made,
                "answered_calls": r.answered_calls, "billed_seconds": r.billed_seconds,
                "cost_units": r.cost_units,
                "progress_percentage": round(100 * done / total, 2) if total else 0.0,
            },
        )  # fmt: skip
