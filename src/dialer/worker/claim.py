"""The claim: atomically take due jobs for dialing, within every rule. Same contract on
SQLite and PostgreSQL.

One transaction (the caller's ``db.write()``)::

    candidate batches  ── active batch, due work (EXISTS on ix_jobs_claim) ──┐
        │ account suspended   -> batch.waiting_reason = account_suspended    │ Python,
        │ window closed       -> batch.waiting_reason = outside_window,      │ no locks
        │                        waiting_until = next opening (jobs untouched)│
        ▼                                                                    ┘
    per account: take the account's claim lock (PostgreSQL advisory xact lock; SQLite:
    BEGIN IMMEDIATE already serialises writers), re-read the account and batch status,
    read the in-flight counters of the account's batches (kept transactionally),
    room = min(account cap - in flight, batch cap - in flight)
    daily_call_limit (account settings): calls ended today (hourly roll-up) + in flight;
    reached -> waiting_reason = daily_limit, waiting_until = the account's midnight
        ▼
    balance: affordable = balance // reservation; short -> waiting_reason = insufficient_balance
        ▼
    due jobs of the batch, by next_attempt_at (PostgreSQL: FOR UPDATE SKIP LOCKED)
        ▼
    per-job filters (JOB_FILTERS: compliance rules plug in here) may snooze a job
        ▼
    job -> dialing (lease, worker, attempts + 1, current_attempt_id), CallAttempt row
    (its id is the provider idempotency key), batch counters, and LAST the reservation:
    one atomic balance UPDATE on the account row plus its ledger entries.

Lock order on PostgreSQL, the same on every path (claim, webhook settlement, rescue):
claim lock -> jobs -> batch row -> account row. The account row is taken last and held
only until commit, so settlements never wait for a whole claim.

Invariants:
  * the caps hold across processes because every claim for an account runs under that
    account's claim lock, and in-flight counts are read after taking it (settlements
    only ever lower them);
  * a job outside its window, over a cap or without balance is not touched and spends
    no attempt (a snooze);
  * a claimed job always has exactly one DIALING attempt and a matching reservation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch.compliance_checks import DIAL_TIME_FILTERS
from dialer.batch.filters import BatchContext, DialFilter, Snooze
from dialer.batch.rules import batch_rules
from dialer.batch.settings import CallSettings
from dialer.batch.windows import Schedule, next_open_anywhere, open_anywhere
from dialer.billing.pricing import limited, reservation
from dialer.billing.repository import read_account, serialize_claims
from dialer.billing.service import Hold, pricing_of, reserve_many
from dialer.compliance.profiles import COUNTRY_ZONES, caller_id_rule
from dialer.compliance.rules import debtor_key
from dialer.db.bulk import insert_rows
from dialer.job.service import bump_batch, set_status
from dialer.job.states import WAITING, AttemptStatus, JobStatus
from dialer.kit.ids import new_id
from dialer.models import (
    Account,
    AccountStatus,
    Batch,
    BatchStatus,
    CallAttempt,
    CallStat,
    Job,
)
from dialer.script.pinned import script_for_batch
from dialer.script.render import job_variables

OUTSIDE_WINDOW = "outside_window"
INSUFFICIENT_BALANCE = "insufficient_balance"
ACCOUNT_SUSPENDED = "account_suspended"
# The account's daily_call_limit (settings) is reached: its batches wait for midnight.
DAILY_LIMIT = "daily_limit"


@dataclass(frozen=True)
class ClaimedJob:
    """Everything the runner needs to place one call, without another query."""

    job_id: str
    attempt_id: str
    attempt_number: int
    batch_id: str
    account_id: str
    phone: str
    phone_index: int
    contact_name: str | None
    dni: str | None
    payload: dict[str, Any]
    provider: str | None
    provider_options: dict[str, Any]
    script_id: str | None
    processing_type: str
    max_duration_s: int
    reserved_units: int
    lease_expires_at: datetime
    # The agent's dynamic variables, as stored on the attempt (None: not computed).
    variables: dict[str, str] | None = None
    script_version: int | None = None
    ring_timeout_s: int | None = None  # the batch's; None: the provider's default
    # The batch's voicemail policy (call_settings.collections.voicemail).
    voicemail_action: str | None = None  # "hangup" | "message"
    voicemail_message: str | None = None
    # The caller ID the call must present (E.164 prefix, Chile's 600/809 rule): the
    # adapter refuses to dial from another number. None: no numbering rule.
    caller_id_prefix: str | None = None


# call_settings.collections.voicemail.action -> CallRequest.voicemail_action
VOICEMAIL_ACTIONS: dict[str | None, str] = {"hang_up": "hangup", "leave_message": "message"}


# The filters the claim runs, compliance rules first (see ``batch.filters``).
JOB_FILTERS: list[DialFilter] = [*DIAL_TIME_FILTERS]


@dataclass
class _Candidate:
    batch_id: str
    account_id: str
    priority: int
    call_settings: dict[str, Any]
    provider: str | None
    provider_options: dict[str, Any]
    script_id: str | None
    script_version: int | None
    processing_type: str
    waiting_reason: str | None
    waiting_until: datetime | None
    started: bool
    account_status: AccountStatus
    account_timezone: str
    account_country: str | None
    in_flight: int = 0
    account_cap: int | None = None
    variable_set: str | None = None
    settings: CallSettings | None = None
    schedule: Schedule | None = None
    reason: str | None = field(default=None)
    until: datetime | None = None


@dataclass
class _Writes:
    """Hot-row writes of one claim, applied at its end in a fixed order: batch counters
    sorted by batch id, then account balances sorted by account id — the order every
    other path (webhook settlement, cancel, rescue) takes them in, so no deadlock."""

    batches: dict[str, tuple[str, Counter[str], dict[str, Any]]] = field(default_factory=dict)
    reservations: dict[str, tuple[Account, list[Hold]]] = field(default_factory=dict)

    def bump(self, batch_id: str, account_id: str, deltas: Mapping[str, int], **extra: Any) -> None:
        _, d, x = self.batches.setdefault(batch_id, (account_id, Counter(), {}))
        d.update(deltas)
        x.update(extra)

    def reserve(self, account: Account, hold: Hold) -> None:
        self.reservations.setdefault(account.id, (account, []))[1].append(hold)

    async def apply(self, session: AsyncSession, now: datetime) -> None:
        for batch_id in sorted(self.batches):
            account_id, counts, extra = self.batches[batch_id]
            deltas = {k: v for k, v in counts.items() if v}
            if deltas or extra:
                await bump_batch(session, batch_id, account_id, deltas, **extra)
        for account_id in sorted(self.reservations):
            account, holds = self.reservations[account_id]
            await reserve_many(session, account, holds, now=now)


async def claim_due_jobs(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    reserve_seconds: int = 300,
    default_provider: str = "simulated",
) -> list[ClaimedJob]:
    """Claim up to ``limit`` due jobs, moving them to DIALING with a lease.

    Locks the accounts it claims for (until the caller commits), writes the attempt
    rows and balance reservations, and records why waiting batches wait. Never commits.
    """
    if limit <= 0:
        return []
    candidates = await _candidate_batches(session, now)
    writes = _Writes()
    by_account: dict[str, list[_Candidate]] = {}
    for c in candidates:
        if c.account_status != AccountStatus.ACTIVE:
            _set_waiting(writes, c, ACCOUNT_SUSPENDED, None)
            continue
        c.settings, c.schedule = batch_rules(
            c.batch_id, c.call_settings, timezone=c.account_timezone, country=c.account_country
        )
        # The batch's hours on any clock its debtors may have: each job's own window is
        # checked in the claim (batch.compliance_checks.local_window_filter).
        zones = _debtor_zones(c.account_country)
        if not open_anywhere(c.schedule, zones, now):
            _set_waiting(writes, c, OUTSIDE_WINDOW, next_open_anywhere(c.schedule, zones, now))
            continue
        by_account.setdefault(c.account_id, []).append(c)

    # Accounts are locked in id order so two claims can never deadlock on PostgreSQL.
    # An account at its cap costs one cheap pass, so later accounts are not starved.
    accounts = sorted(by_account.items())

    claimed: list[ClaimedJob] = []
    for account_id, batches in accounts:
        if len(claimed) >= limit:
            break
        claimed += await _claim_for_account(
            session,
            writes,
            account_id,
            batches,
            worker_id=worker_id,
            now=now,
            limit=limit - len(claimed),
            lease=lease,
            reserve_seconds=reserve_seconds,
            default_provider=default_provider,
        )
    await writes.apply(session, now)
    return claimed


def _debtor_zones(country: str | None) -> frozenset[str]:
    return COUNTRY_ZONES.get(country or "", frozenset())


async def has_claimable_work(session: AsyncSession, now: datetime) -> bool:
    """A cheap read-only guess: could a claim at ``now`` take anything?

    Uses the batch counters instead of locks, so it may be stale; the runner only uses
    it to skip opening a write transaction (on SQLite, the database-wide write lock)
    when every due batch is closed, suspended or at its caps.
    """
    candidates = await _candidate_batches(session, now)
    in_flight: dict[str, int] = {}
    for c in candidates:
        in_flight[c.account_id] = in_flight.get(c.account_id, 0) + c.in_flight
    for c in candidates:
        if c.account_status != AccountStatus.ACTIVE:
            continue
        if (
            c.waiting_reason == DAILY_LIMIT
            and c.waiting_until is not None
            and c.waiting_until > now
        ):
            continue  # nothing until the account's next day
        settings, schedule = batch_rules(
            c.batch_id, c.call_settings, timezone=c.account_timezone, country=c.account_country
        )
        if not open_anywhere(schedule, _debtor_zones(c.account_country), now):
            if c.waiting_reason != OUTSIDE_WINDOW:
                return True  # let the claim record why the batch waits
            continue
        if c.in_flight < settings.max_concurrent_calls and (
            c.account_cap is None or in_flight[c.account_id] < c.account_cap
        ):
            return True
    return False


# Built once (it runs on every poll of every worker): ``now`` is bound per execution.
_CANDIDATES = (
    select(
        Batch.id,
        Batch.account_id,
        Batch.priority,
        Batch.call_settings,
        Batch.provider,
        Batch.provider_options,
        Batch.script_id,
        Batch.script_version,
        Batch.processing_type,
        Batch.waiting_reason,
        Batch.waiting_until,
        Batch.started_at,
        Account.status,
        Account.timezone,
        Account.country,
        Batch.in_progress_jobs,
        Account.max_concurrent_calls,
        Batch.variable_set,
    )
    .join(Account, Account.id == Batch.account_id)
    .where(
        Batch.status == BatchStatus.ACTIVE,
        Batch.is_active.is_(True),
        exists().where(
            Job.batch_id == Batch.id,
            Job.status.in_(WAITING),
            Job.next_attempt_at <= bindparam("now"),
        ),
    )
)


async def _candidate_batches(session: AsyncSession, now: datetime) -> list[_Candidate]:
    """Active batches with due work (EXISTS on ix_jobs_claim), with their accounts."""
    rows: Sequence[Any] = (await session.execute(_CANDIDATES, {"now": now})).all()
    return [
        _Candidate(
            batch_id=r[0],
            account_id=r[1],
            priority=r[2] or 0,
            call_settings=r[3] or {},
            provider=r[4],
            provider_options=r[5] or {},
            script_id=r[6],
            script_version=r[7],
            processing_type=r[8] or "basic",
            waiting_reason=r[9],
            waiting_until=r[10],
            started=r[11] is not None,
            account_status=r[12],
            account_timezone=r[13],
            account_country=r[14],
            in_flight=r[15] or 0,
            account_cap=r[16],
            variable_set=r[17],
        )
        for r in rows
    ]


def _set_waiting(
    writes: _Writes, c: _Candidate, reason: str | None, until: datetime | None
) -> None:
    # Written only when it changes: this runs every poll for every waiting batch.
    if c.waiting_reason == reason and c.waiting_until == until:
        return
    writes.bump(c.batch_id, c.account_id, {}, waiting_reason=reason, waiting_until=until)
    c.waiting_reason, c.waiting_until = reason, until


async def _account_in_flight(session: AsyncSession, account_id: str) -> int:
    # The batches' transactional in-flight counters, read under the account's claim
    # lock: every claim for the account is serialised behind it and commits its counter
    # before releasing it, and every other path only lowers them, so the sum can only
    # overstate what is on the line. Counting the job rows instead walked the index
    # entries of every in-flight job (and their dead versions) on each claim.
    total = (
        await session.execute(
            select(func.coalesce(func.sum(Batch.in_progress_jobs), 0)).where(
                Batch.account_id == account_id, Batch.in_progress_jobs > 0
            )
        )
    ).scalar_one()
    return int(total)


def _local_day(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of ``now``'s day and the next midnight on the account's clock."""
    tz = ZoneInfo(timezone)
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


async def _calls_ended_since(session: AsyncSession, account_id: str, start: datetime) -> int:
    """Attempts of the account that ended since ``start``, from the hourly roll-up (a
    day's rows, never the attempts); with the ones in flight, its calls of the day."""
    total = (
        await session.execute(
            select(func.coalesce(func.sum(CallStat.calls), 0)).where(
                CallStat.account_id == account_id, CallStat.hour >= start
            )
        )
    ).scalar_one()
    return int(total)


async def _due_job_ids(session: AsyncSession, batch_id: str, now: datetime, n: int) -> list[str]:
    # One index range per waiting status, merged: ORDER BY over "status IN (...)" would
    # sort every due row of a large batch on each claim.
    parts = []
    for status in (JobStatus.PENDING, JobStatus.SCHEDULED):
        parts.append(
            select(Job.id, Job.next_attempt_at)
            .where(Job.batch_id == batch_id, Job.status == status, Job.next_attempt_at <= now)
            .order_by(Job.next_attempt_at)
            .limit(n)
            .subquery()
        )
    u = union_all(*(select(p.c.id, p.c.next_attempt_at) for p in parts)).subquery()
    stmt = select(u.c.id).order_by(u.c.next_attempt_at).limit(n)
    return list((await session.execute(stmt)).scalars().all())


async def _batch_in_flight(session: AsyncSession, batch_id: str) -> int | None:
    """The batch's in-flight counter (see ``_account_in_flight``), or None when the batch
    is no longer active.

    The status is re-read under the account's claim lock: pause/resume/cancel take the
    same lock, so one that returned is seen here and one still running waits for this
    claim — no call is claimed after a pause/cancel returns."""
    row = (
        await session.execute(
            select(Batch.status, Batch.is_active, Batch.in_progress_jobs).where(
                Batch.id == batch_id
            )
        )
    ).first()
    if row is None or row[0] != BatchStatus.ACTIVE or not row[1]:
        return None
    return int(row[2] or 0)


async def _lock_jobs(session: AsyncSession, ids: list[str], now: datetime) -> list[Job]:
    stmt = (
        select(Job)
        .where(Job.id.in_(ids), Job.status.in_(WAITING), Job.next_attempt_at <= now)
        .order_by(Job.next_attempt_at, Job.id)
        .execution_options(populate_existing=True)
    )
    # Rows being cancelled or claimed elsewhere are skipped, not waited for.
    stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars().all())


async def _claim_for_account(
    session: AsyncSession,
    writes: _Writes,
    account_id: str,
    batches: list[_Candidate],
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    reserve_seconds: int,
    default_provider: str,
) -> list[ClaimedJob]:
    if not await serialize_claims(session, account_id, wait=False):
        # Another worker is claiming for this account right now: it will take what is
        # due, and queueing behind it would only delay this worker's other accounts.
        return []
    account = await read_account(session, account_id)
    if account is None or account.status != AccountStatus.ACTIVE:  # suspended meanwhile
        return []
    in_flight_account = await _account_in_flight(session, account_id)
    room_account = account.max_concurrent_calls - in_flight_account
    daily = (account.settings or {}).get("daily_call_limit")
    if isinstance(daily, int) and not isinstance(daily, bool):
        start, midnight = _local_day(now, account.timezone)
        left = daily - in_flight_account - await _calls_ended_since(session, account_id, start)
        if left <= 0:
            for c in batches:
                _set_waiting(writes, c, DAILY_LIMIT, midnight)
            return []
        room_account = min(room_account, left)
    pricing = pricing_of(account)
    available = account.balance  # what this claim has not reserved yet
    claimed: list[ClaimedJob] = []
    batches.sort(key=lambda c: -c.priority)
    for c in batches:
        if room_account <= 0 or len(claimed) >= limit:
            break
        assert c.settings is not None
        assert c.schedule is not None
        in_flight = await _batch_in_flight(session, c.batch_id)
        if in_flight is None:
            continue
        room = min(room_account, c.settings.max_concurrent_calls - in_flight, limit - len(claimed))
        if room <= 0:
            continue
        max_seconds = min(reserve_seconds, c.settings.max_call_duration_s)
        per_job = reservation(account.plan_type, pricing, max_seconds=max_seconds)
        # Unlimited plans are metered (reserved and charged) but never held back.
        affordable = available // per_job if per_job > 0 and limited(account.plan_type) else room
        n = min(room, affordable)
        jobs = (
            await _lock_jobs(session, await _due_job_ids(session, c.batch_id, now, n), now)
            if n
            else []
        )
        balance_short = affordable < room and len(jobs) >= n
        ctx = BatchContext(
            c.batch_id, c.account_id, c.settings, c.schedule, c.account_country,
            provider=c.provider or default_provider,
            from_number=str(c.provider_options.get("from_number") or "") or None,
            processing_type=c.processing_type,
            from_number_id=str(c.provider_options.get("phone_number_id") or "") or None,
        )  # fmt: skip
        if JOB_FILTERS and jobs:
            jobs = await _apply_filters(session, writes, c, ctx, jobs, now)
        if jobs:
            claimed += await _dial(
                session, writes, account, c, ctx, jobs, per_job,
                worker_id=worker_id, now=now, lease=lease, default_provider=default_provider,
            )  # fmt: skip
            room_account -= len(jobs)
            available -= per_job * len(jobs)
        _set_waiting(writes, c, INSUFFICIENT_BALANCE if balance_short else None, None)
    return claimed


async def _apply_filters(
    session: AsyncSession,
    writes: _Writes,
    c: _Candidate,
    ctx: BatchContext,
    jobs: list[Job],
    now: datetime,
) -> list[Job]:
    snoozed: dict[str, Snooze] = {}
    for f in JOB_FILTERS:
        remaining = [j for j in jobs if j.id not in snoozed]
        if remaining:
            snoozed.update(await f(session, ctx, remaining, now))
    deltas: Counter[str] = Counter()
    for job in jobs:
        s = snoozed.get(job.id)
        if s is None:
            continue
        # A snooze spends no attempt: only the due time and the visible reason move.
        deltas.update(set_status(job, JobStatus.SCHEDULED))
        job.next_attempt_at = max(s.until, now)
        job.wait_reason = s.reason
    if deltas:
        writes.bump(c.batch_id, c.account_id, deltas)
    # A filter may also end a job outright (e.g. every phone on the do-not-call list).
    return [j for j in jobs if j.id not in snoozed and j.status in WAITING]


async def _dial(
    session: AsyncSession,
    writes: _Writes,
    account: Account,
    c: _Candidate,
    ctx: BatchContext,
    jobs: list[Job],
    per_job: int,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    default_provider: str,
) -> list[ClaimedJob]:
    assert c.settings is not None
    provider = c.provider or default_provider
    lease_until = now + lease
    # One cached lookup per batch: the variables the agent gets are computed here and
    # stored on the attempt, so what was sent is on record without another write.
    script = await script_for_batch(
        session, batch_id=c.batch_id, account_id=c.account_id, script_id=c.script_id,
        script_version=c.script_version, processing_type=c.processing_type,
    )  # fmt: skip
    template_vars = list(script.variables) if script is not None else None
    variable_set = c.variable_set or (script.variable_set if script else None) or "standard"
    # The legacy variables carry the current time in the batch's timezone.
    local_now = now.astimezone(ZoneInfo(c.settings.timezone or c.account_timezone))
    rule = caller_id_rule(
        profile_name=c.settings.compliance_profile, processing_type=c.processing_type,
        country=c.account_country,
    )  # fmt: skip
    out: list[ClaimedJob] = []
    attempts: list[dict[str, Any]] = []
    deltas: Counter[str] = Counter()
    for job in jobs:
        attempt_id = new_id("att")
        phones = job.phones or []
        index = job.phone_index if 0 <= job.phone_index < len(phones) else 0
        phone = phones[index] if phones else ""
        deltas.update(set_status(job, JobStatus.DIALING))
        job.attempts += 1
        job.phone_index = index
        job.lease_expires_at = lease_until
        job.worker_id = worker_id
        job.current_attempt_id = attempt_id
        job.wait_reason = None
        payload = dict(job.payload or {})
        variables = job_variables(
            contact_name=job.contact_name, dni=job.dni, payload=payload,
            template_vars=template_vars, country=c.account_country,
            variable_set=variable_set, processing_type=c.processing_type, now=local_now,
            collector=account.account_name,
        )  # fmt: skip
        # The call must end before the debtor's window closes.
        max_duration = min(
            c.settings.max_call_duration_s,
            ctx.call_limits.get(job.id, c.settings.max_call_duration_s),
        )
        attempts.append(
            {
                "id": attempt_id, "job_id": job.id, "batch_id": job.batch_id,
                "account_id": job.account_id, "number": job.attempts, "phone": phone,
                "debtor_key": debtor_key(job.dni, phones),
                "phone_index": index, "provider": provider, "status": AttemptStatus.DIALING,
                "worker_id": worker_id, "started_at": now, "reserved_units": per_job,
                "variables": variables,
            }
        )  # fmt: skip
        if per_job > 0:
            writes.reserve(account, Hold(attempt_id, job.batch_id, job.id, per_job))
        out.append(
            ClaimedJob(
                job_id=job.id, attempt_id=attempt_id, attempt_number=job.attempts,
                batch_id=job.batch_id, account_id=job.account_id, phone=phone,
                phone_index=index, contact_name=job.contact_name, dni=job.dni,
                payload=payload, provider=provider,
                provider_options=dict(c.provider_options),
                script_id=script.script_id if script else None,
                processing_type=c.processing_type,
                max_duration_s=max_duration, reserved_units=per_job,
                lease_expires_at=lease_until, variables=variables,
                script_version=script.version if script else None,
                ring_timeout_s=c.settings.ring_timeout_s,
                voicemail_action=VOICEMAIL_ACTIONS.get(c.settings.collections.voicemail.action),
                voicemail_message=c.settings.collections.voicemail.message,
                caller_id_prefix=rule.prefix if rule else None,
            )
        )  # fmt: skip
    await session.flush()  # the jobs first: attempts reference them
    await insert_rows(session, CallAttempt, attempts)
    extra: dict[str, Any] = {}
    if not c.started:
        extra["started_at"] = now
        c.started = True
    writes.bump(c.batch_id, c.account_id, deltas, **extra)
    return out
