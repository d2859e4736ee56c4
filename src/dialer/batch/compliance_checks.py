"""The compliance rules a batch's due jobs go through at every claim, and the summary of
the jobs they hold back.

The dispatcher's claim runs ``DIAL_TIME_FILTERS`` (the ``batch.filters`` contract) on the
locked due jobs of one batch, under the account's row lock. The rules themselves are
compliance's (profiles, pure decisions, the lists and the contact log); this module
applies them to a batch's schedule and settings, so compliance never imports the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch.filters import BatchContext, Snooze
from dialer.batch.settings import resolve_settings
from dialer.batch.windows import (
    Schedule,
    close_of_current_window,
    for_debtor,
    is_open,
    needs_commune,
    next_open,
    schedule_for,
)
from dialer.compliance.place import commune_of
from dialer.compliance.profiles import (
    caller_id_ok,
    caller_id_rule,
    profile_for,
    provincial_registry,
)
from dialer.compliance.repository import ComplianceRepository
from dialer.compliance.rules import SnoozeUntil, cap_decision, contact_decision, debtor_key
from dialer.compliance.schemas import WaitingSummary
from dialer.compliance.service import default_caller_id, listed_phones, resolve_job_place
from dialer.errors import NotFound
from dialer.job import service as job_service
from dialer.job.states import WAITING, JobStatus, Outcome
from dialer.kit import clock
from dialer.kit.debtor_id import person_key
from dialer.models import Batch, Job

# Wait reasons set on jobs held back by a compliance rule all start with this.
COMPLIANCE_WAIT_PREFIX = "compliance_"
DEBTOR_IN_FLIGHT = "compliance_debtor_in_flight"
# How long a job waits when its debtor is on the line from another job: long enough for
# most calls to end; the weekly limit takes over if that call is answered.
DEBTOR_BUSY_RETRY = timedelta(minutes=5)
# The debtor's calling window is closed (their own clock and regional holidays).
LOCAL_WINDOW = "compliance_local_window"
# A call is not started when the debtor's window closes in less than this: the
# identification and the message need about two minutes, and the provider's maximum
# duration must end the call before the close.
MIN_CALL_SECONDS = 120
# The batch's caller ID breaks Chile's numbering rule: its jobs wait, re-checked this often.
CALLER_ID_WAIT = "compliance_caller_id"
CALLER_ID_RETRY = timedelta(minutes=15)
# A sales call to a debtor of a province with its own No Llame registry (CABA, Córdoba)
# waits until the account imported that registry, re-checked this often.
PROVINCIAL_REGISTRY_WAIT = "compliance_provincial_registry"
PROVINCIAL_REGISTRY_RETRY = timedelta(hours=1)
# A schedule that never opens again (every day excluded) re-checks after this.
NEVER_OPEN_RETRY = timedelta(days=1)


async def waiting_summary(session: AsyncSession, batch_id: str) -> dict[str, Any]:
    """How many of the batch's jobs wait because of compliance, by reason, and when the
    earliest may be dialed; plus jobs ended by the do-not-call list and, under a
    profile, whether its calling window is open now. JSON-ready (ISO timestamps)."""
    repo = ComplianceRepository.from_session(session)
    batch = await session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"batch '{batch_id}' not found", field="batch_id")
    rows = await repo.waiting_by_reason(batch_id, COMPLIANCE_WAIT_PREFIX)
    by_reason = {reason: n for reason, n, _ in rows}
    next_at = min((at for _, _, at in rows if at is not None), default=None)
    settings_raw = batch.call_settings or {}
    profile_name = str(settings_raw.get("compliance_profile") or "none")
    window_open: bool | None = None
    next_window = None
    if profile_for(profile_name) is not None:
        account = await repo.get_account(batch.account_id)
        tz = account.timezone if account else "America/Santiago"
        settings = resolve_settings(settings_raw, account_timezone=tz)
        schedule = schedule_for(
            settings, default_timezone=tz, country=account.country if account else None
        )
        now = clock.now()
        window_open = is_open(schedule, now)
        next_window = None if window_open else next_open(schedule, now)
    return WaitingSummary(
        compliance_profile=profile_name,
        waiting_jobs=sum(by_reason.values()),
        by_reason=by_reason,
        next_allowed_at=next_at,
        do_not_call_jobs=await repo.count_ended_with(batch_id, Outcome.DO_NOT_CALL.value),
        calling_window_open=window_open,
        next_window_at=next_window,
    ).model_dump(mode="json")


# -- dial time (called by the dispatcher's claim, under the account's row lock) ----------


async def do_not_call_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """Never dial a listed number: move each job to its next phone that is not on the
    account's list, or end it FAILED with ``do_not_call`` when none is left. No attempt
    is spent and nothing is reserved for a job ended here."""
    phones = {p for j in jobs for p in (j.phones or []) if p}
    listed = await listed_phones(session, ctx.account_id, sorted(phones), region=ctx.country)
    if not listed:
        return {}
    for job in jobs:
        numbers = job.phones or []
        if not numbers:
            continue
        start = job.phone_index if 0 <= job.phone_index < len(numbers) else 0
        # Same order the retry policy walks phones: from the current one, wrapping round.
        order = [(start + k) % len(numbers) for k in range(len(numbers))]
        usable = next((i for i in order if numbers[i] not in listed), None)
        if usable is None:
            await job_service.transition(
                session, job, JobStatus.FAILED, last_outcome=Outcome.DO_NOT_CALL.value,
                wait_reason=None,
            )  # fmt: skip
        elif usable != job.phone_index:
            job.phone_index = usable
    return {}


def _waiting_debtors(jobs: Sequence[Job]) -> tuple[list[Job], dict[str, str | None]]:
    """The jobs still waiting, and each one's debtor key (RUT/DNI, else first phone)."""
    waiting = [j for j in jobs if j.status in WAITING]
    return waiting, {j.id: debtor_key(j.dni, j.phones) for j in waiting}


async def contact_limit_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """The profile's per-debtor contact limit. A job waits (no attempt spent) when its
    debtor was contacted within the period by any of the account's batches, or is on
    the line right now from another job, so parallel workers cannot make two contacts.
    """
    profile = profile_for(ctx.settings.compliance_profile)
    if profile is None or profile.contacts_per_debtor is None or profile.contact_period is None:
        return {}
    waiting, keys = _waiting_debtors(jobs)
    wanted = sorted({k for k in keys.values() if k})
    if not wanted:
        return {}
    repo = ComplianceRepository.from_session(session)
    # In-flight first, contacts second: a settlement committing between the two reads
    # (PostgreSQL read committed: each statement sees the latest commits) then shows up
    # in the second. Read the other way round, the job had already left "in flight" but
    # its contact was not yet visible, and the debtor could be called twice in a week.
    busy = {debtor_key(dni, phones) for dni, phones in await repo.in_flight_debtors(ctx.account_id)}
    contacts = await repo.contacts_since(ctx.account_id, wanted, now - profile.contact_period)
    out: dict[str, Snooze] = {}
    for job in waiting:
        key = keys[job.id]
        if key is None:
            continue
        decision = contact_decision(profile, contacts.get(key, ()), now)
        if isinstance(decision, SnoozeUntil):
            # Wake when both the week and the debtor's calling window allow it.
            until = next_open(debtor_schedule(ctx, job), decision.until) or decision.until
            out[job.id] = Snooze(until=until, reason=decision.reason)
        elif key in busy:
            out[job.id] = Snooze(until=now + DEBTOR_BUSY_RETRY, reason=DEBTOR_IN_FLIGHT)
        else:
            busy.add(key)  # a second job of this debtor in the same claim must wait
    return out


def debtor_schedule(ctx: BatchContext, job: Job) -> Schedule:
    """The batch's schedule on the job's debtor's clock and regional calendar (and its
    commune, read from the row's place columns, where a holiday is communal)."""
    commune = (
        commune_of(job.payload) if needs_commune(ctx.schedule.holiday_country, job.region) else None
    )
    return for_debtor(
        ctx.schedule, ctx.settings.compliance_profile, job.timezone, job.region, commune
    )


async def local_window_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """Each debtor's own calling window: the batch's hours and days on the debtor's
    clock, closed on national holidays and on the debtor's regional ones. A job whose
    window is closed, or closes in less than ``MIN_CALL_SECONDS``, waits for its next
    opening (no attempt spent); the others get the seconds left before the close as
    their call's maximum duration (``ctx.call_limits``)."""
    out: dict[str, Snooze] = {}
    for job in jobs:
        resolve_job_place(job, ctx.country)
        sched = debtor_schedule(ctx, job)
        if not is_open(sched, now):
            opens = next_open(sched, now)
        else:
            close = close_of_current_window(sched, now)
            if close is None:  # open around the clock: no close to end the call by
                continue
            left = int((close - now).total_seconds())
            if left >= MIN_CALL_SECONDS:
                ctx.call_limits[job.id] = left
                continue
            opens = next_open(sched, close)  # open, but closing too soon
        out[job.id] = Snooze(until=opens or now + NEVER_OPEN_RETRY, reason=LOCAL_WINDOW)
    return out


async def legal_stop_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """No collection contact with a debtor under a legal stop, in any batch: the job
    ends CANCELLED with ``legal_stop`` (no attempt spent, nothing reserved)."""
    keys = {j.id: person_key(j.dni) for j in jobs if j.dni}
    if not keys:
        return {}
    repo = ComplianceRepository.from_session(session)
    stopped = await repo.stopped_among(ctx.account_id, sorted(set(keys.values())))
    for job in jobs:
        if keys.get(job.id) in stopped and job.status in WAITING:
            await job_service.transition(
                session, job, JobStatus.CANCELLED, last_outcome=Outcome.LEGAL_STOP.value,
                wait_reason=None,
            )  # fmt: skip
    return {}


async def contact_caps_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """``max_calls_per_contact_per_day`` / ``_per_week``: attempts to one debtor across
    all the account's batches (answered or not, voicemail included; attempts that never
    reached the provider do not count), per calendar day / ISO week on the debtor's
    clock. A job over a cap waits for the next day or week (no attempt spent)."""
    per_day = ctx.settings.max_calls_per_contact_per_day
    per_week = ctx.settings.max_calls_per_contact_per_week
    if per_day is None and per_week is None:
        return {}
    waiting, keys = _waiting_debtors(jobs)
    wanted = sorted({k for k in keys.values() if k})
    if not wanted:
        return {}
    # Every debtor's local week started less than 8 days ago, on any clock.
    since = now - timedelta(days=8)
    attempts = await ComplianceRepository.from_session(session).attempts_since(
        ctx.account_id, wanted, since
    )
    out: dict[str, Snooze] = {}
    for job in waiting:
        key = keys[job.id]
        if key is None:
            continue
        sched = debtor_schedule(ctx, job)
        decision = cap_decision(
            attempts.get(key, ()), now, sched.tz, per_day=per_day, per_week=per_week
        )
        if decision is None:
            # A second job of this debtor in the same claim counts this one.
            attempts.setdefault(key, []).append(now)
            continue
        until = next_open(sched, decision.until) or decision.until
        out[job.id] = Snooze(until=until, reason=decision.reason)
    return out


async def caller_id_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """Chile's caller-ID numbering on the number the calls would present: the batch's
    ``provider_options.from_number``, else the default number of the account's
    configuration of the provider (which may have changed since the batch started). A
    number that breaks the rule holds every due job of the batch back
    (``compliance_caller_id``, re-checked every ``CALLER_ID_RETRY``), no attempt spent.
    A provider that names its number only by id (Vapi, ElevenLabs ``phone_number_id``)
    is checked on the number behind the id, as read when the account's configuration
    was saved; a batch's own id that is not the configuration's is checked by the
    adapter, which reads the number from the vendor right before the call."""
    rule = caller_id_rule(
        profile_name=ctx.settings.compliance_profile,
        processing_type=ctx.processing_type,
        country=ctx.country,
    )
    if rule is None or not jobs:
        return {}
    number = ctx.from_number
    if not number and ctx.provider:
        number = await default_caller_id(session, ctx.account_id, ctx.provider, ctx.from_number_id)
    if not number or caller_id_ok(rule, number):
        return {}
    wait = Snooze(until=now + CALLER_ID_RETRY, reason=CALLER_ID_WAIT)
    return {job.id: wait for job in jobs}


async def provincial_registry_filter(
    session: AsyncSession, ctx: BatchContext, jobs: Sequence[Job], now: datetime
) -> dict[str, Snooze]:
    """Argentine sales batches: a debtor placed in a province with its own No Llame
    registry (``compliance.profiles.PROVINCIAL_REGISTRIES``: CABA Ley 2.014, Córdoba
    Ley 10.016) is not called until the account has imported that registry (its
    numbers then go through the do-not-call list like the national one's); the job
    waits (``compliance_provincial_registry``), no attempt spent."""
    needed = {
        job.id: reg
        for job in jobs
        if (
            reg := provincial_registry(
                processing_type=ctx.processing_type, country=ctx.country, region=job.region
            )
        )
    }
    if not needed:
        return {}
    account = await ComplianceRepository.from_session(session).get_account(ctx.account_id)
    imported = set((account.registry_imports or {}) if account else ())
    wait = Snooze(until=now + PROVINCIAL_REGISTRY_RETRY, reason=PROVINCIAL_REGISTRY_WAIT)
    return {job_id: wait for job_id, reg in needed.items() if reg.code not in imported}


# Registered in the dispatcher's claim, in this order: the debtor's own window first (a
# closed window decides nothing else), then the lists that end a job, then the limits.
DIAL_TIME_FILTERS = (
    caller_id_filter,
    local_window_filter,
    provincial_registry_filter,
    legal_stop_filter,
    do_not_call_filter,
    contact_limit_filter,
    contact_caps_filter,
)
