"""Provider callbacks -> attempts, jobs, billing. The single path for every provider's
events (the simulated carrier's too), so duplicates and out-of-order events are harmless
for all of them.

``handle_events`` in one transaction:

1. dedupe: one ``webhook_receipts`` row per event key (INSERT .. ON CONFLICT DO NOTHING,
   keys in sorted order). A concurrent duplicate waits on the unique index and then
   finds the key taken, so it can never apply twice;
2. lock the jobs concerned (PostgreSQL FOR UPDATE), then batch counters, then — last,
   for the settlement only — their accounts (sorted): the same order as the claim
   (jobs -> batch -> account), so no deadlock and short account-row locks;
3. non-final events move a DIALING attempt/job to IN_PROGRESS; a non-final event after
   the final one, or a final event for an ended/abandoned attempt, is ignored;
4. a final event ends the attempt, settles billing (release the hold + charge the real
   cost, idempotency keys per attempt), moves counters, logs the contact, records hourly
   stats, applies the retry policy and publishes progress events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from dialer.billing.pricing import call_cost
from dialer.billing.repository import read_account
from dialer.billing.service import lock_account, pricing_of
from dialer.config import Settings
from dialer.db.bulk import insert_rows, table_of
from dialer.db.session import Database, dialect_of
from dialer.errors import InvalidInput, NotFound, Unauthorized
from dialer.events.service import publish
from dialer.job.counters import counter_deltas
from dialer.job.repository import JobRepository
from dialer.job.service import InvalidTransition, bump_batch
from dialer.job.states import (
    ATTEMPT_FINAL,
    FINAL,
    IN_FLIGHT,
    AttemptStatus,
    JobStatus,
    Outcome,
    can_transition,
)
from dialer.kit import clock
from dialer.logging import get_logger
from dialer.metrics import CALL_OUTCOMES, WEBHOOKS
from dialer.models import (
    Account,
    Batch,
    BatchStatus,
    CallAttempt,
    ContactLog,
    EntryKind,
    Event,
    Job,
    LedgerEntry,
    WebhookReceipt,
)
from dialer.reporting.service import hour_bucket
from dialer.reporting.service import record_attempt as _record_attempt
from dialer.telephony.analysis import apply_late_analysis
from dialer.telephony.base import CallEvent, WebhookVerificationError, check_event
from dialer.worker.claim import batch_rules
from dialer.worker.retry import GiveUp, JobState, decide

log = get_logger("dialer.webhooks")


async def receive_webhook(
    session: AsyncSession,
    *,
    provider_name: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    settings: Settings,
    db: Database,
) -> int:
    """Verify and apply one provider webhook. Raises NotFound for an unknown provider and
    Unauthorized for a bad signature. Returns how many events were applied."""
    from dialer.telephony.providers.routing import react, verify_webhook
    from dialer.telephony.registry import get_provider, known_providers

    if provider_name not in known_providers():
        raise NotFound(f"unknown provider '{provider_name}'")
    provider = get_provider(provider_name, settings, db)
    try:
        # Verified with the credentials of the attempt's own account and bound to it.
        events = await verify_webhook(
            provider, db, body=body, headers=headers, url=url, now=clock.now()
        )
        for event in events:
            check_event(event)
    except WebhookVerificationError as exc:
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise Unauthorized(f"webhook rejected: {exc}") from None
    except (ValueError, TypeError, OverflowError, OSError, KeyError, AttributeError) as exc:
        # Signed or not, absurd values (a timestamp of 10^20, a list where an id goes)
        # are the sender's to fix: a 422, never a 500.
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise MalformedWebhook(f"webhook body: {exc}", field="body") from None
    applied = await handle_events(session, events)
    WEBHOOKS.labels(provider_name, "accepted").inc()
    await react(provider, events)
    return applied


class MalformedWebhook(InvalidInput):
    """The webhook body holds values no call can have."""


async def _fresh_keys(session: AsyncSession, events: Sequence[CallEvent]) -> set[str]:
    rows = [
        {
            "provider": e.provider,
            "event_key": e.event_key,
            "provider_call_id": e.provider_call_id,
            "payload": dict(e.raw),
            "received_at": clock.now(),
        }
        for e in sorted(events, key=lambda e: e.event_key)
    ]
    ins = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    table = table_of(WebhookReceipt)
    # executemany with RETURNING (insertmanyvalues): compiled once, batched by the driver.
    stmt = (
        ins(table).on_conflict_do_nothing(index_elements=["event_key"]).returning(table.c.event_key)
    )
    return set((await session.execute(stmt, rows)).scalars().all())


async def _load_attempts(session: AsyncSession, events: Sequence[CallEvent]) -> dict[str, Any]:
    """(attempt id, job id, provider, provider call id) by event key: by our attempt id
    when echoed, else by provider call id. Plain rows: only the job ids are needed to
    take the locks, the attempts themselves are read again under them."""
    cols = (CallAttempt.id, CallAttempt.job_id, CallAttempt.provider, CallAttempt.provider_call_id)
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
    ids = {a.id: a for a in found}
    calls = {(a.provider, a.provider_call_id): a for a in found}
    out: dict[str, Any] = {}
    for e in events:
        a = ids.get(e.attempt_id) if e.attempt_id else calls.get((e.provider, e.provider_call_id))
        if a is not None:
            out[e.event_key] = a
    return out


async def handle_events(
    session: AsyncSession, events: Sequence[CallEvent], *, now: datetime | None = None
) -> int:
    """Apply provider events idempotently; returns how many changed something. Never commits."""
    if not events:
        return 0
    now = now or clock.now()
    unique = {e.event_key: e for e in events}
    fresh = await _fresh_keys(session, list(unique.values()))
    todo = [e for e in unique.values() if e.event_key in fresh]
    if not todo:
        return 0
    attempts = await _load_attempts(session, todo)
    job_ids = sorted({a.job_id for a in attempts.values()})
    if not job_ids:
        for e in todo:
            log.warning("webhook.unknown_call", provider=e.provider, call_id=e.provider_call_id)
        return 0
    # The contact data (payload) and the variables sent are never needed here: not
    # decoding them is a good part of the cost of a settlement.
    jobs_stmt = (
        select(Job)
        .where(Job.id.in_(job_ids))
        .order_by(Job.id)
        .options(defer(Job.payload, raiseload=True))
        .execution_options(populate_existing=True)
    )
    if dialect_of(session) == "postgresql":
        jobs_stmt = jobs_stmt.with_for_update()
    jobs = {j.id: j for j in (await session.execute(jobs_stmt)).scalars().all()}
    # Re-read the attempts now that their jobs are locked: another transaction may have
    # finished them while we waited.
    fresh_attempts = {
        a.id: a
        for a in (
            await session.execute(
                select(CallAttempt)
                .where(CallAttempt.id.in_({a.id for a in attempts.values()}))
                .options(defer(CallAttempt.variables, raiseload=True))
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    }

    applied = 0
    finals: list[tuple[CallEvent, CallAttempt, Job]] = []
    # Progress events first, so "answered" then "ended" in one delivery lands in order.
    for e in sorted(todo, key=lambda e: e.final):
        a0 = attempts.get(e.event_key)
        a = fresh_attempts.get(a0.id) if a0 else None
        job = jobs.get(a.job_id) if a else None
        if a is None or job is None:
            log.warning("webhook.unknown_call", provider=e.provider, call_id=e.provider_call_id)
            continue
        if a.status in ATTEMPT_FINAL:
            # Stale, except a later post-call analysis (Retell call_analyzed): merged
            # into the ended attempt without billing again.
            applied += apply_late_analysis(a, job, e)
            continue
        if not e.final:
            applied += _apply_progress(a, job, e, now)
            continue
        finals.append((e, a, job))
    if finals:
        # Batch rows are locked in first-touch order: keep it sorted across transactions.
        finals.sort(key=lambda t: (t[2].batch_id, t[2].id))
        applied += await _apply_finals(session, finals, now)
    await session.flush()
    return applied


def _apply_progress(a: CallAttempt, job: Job, e: CallEvent, now: datetime) -> int:
    a.provider_call_id = a.provider_call_id or e.provider_call_id
    if e.answered_at and a.answered_at is None:
        a.answered_at = e.answered_at
    if a.status in (AttemptStatus.DIALING, AttemptStatus.UNKNOWN):
        a.status = AttemptStatus.IN_PROGRESS
        if job.current_attempt_id == a.id and can_transition(job.status, JobStatus.IN_PROGRESS):
            # DIALING -> IN_PROGRESS moves no counter; no transition() round trip needed.
            job.status = JobStatus.IN_PROGRESS
        return 1
    return 0


async def _apply_finals(
    session: AsyncSession, finals: list[tuple[CallEvent, CallAttempt, Job]], now: datetime
) -> int:
    # Lock order (as in the claim): jobs (already locked) -> batch rows -> account rows.
    # The accounts are read unlocked for their pricing and timezone, and locked only for
    # the settlement at the very end, so a busy account's claims and settlements do not
    # queue behind each other's whole transactions.
    accounts: dict[str, Account] = {}
    for account_id in sorted({a.account_id for _, a, _ in finals}):
        account = await read_account(session, account_id)
        if account is None:
            raise NotFound(f"account '{account_id}' not found")
        accounts[account_id] = account
    batch_rows = {
        r[0]: r
        for r in (
            await session.execute(
                select(Batch.id, Batch.status, Batch.call_settings, Batch.account_id).where(
                    Batch.id.in_({j.batch_id for _, _, j in finals})
                )
            )
        ).all()
    }
    deltas: dict[str, dict[str, int]] = {}

    def add(batch_id: str, col: str, v: int) -> None:
        d = deltas.setdefault(batch_id, {})
        d[col] = d.get(col, 0) + v

    to_settle: list[tuple[CallAttempt, Job, str, int, int, datetime]] = []
    contacts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for e, a, job in finals:
        account = accounts[a.account_id]
        outcome = e.outcome or Outcome.FAILED
        answered = outcome == Outcome.COMPLETED
        secs, cost = call_cost(
            account.plan_type,
            pricing_of(account),
            duration_s=max(e.duration_s, 0),
            answered=answered,
        )
        ended_at = e.ended_at or now
        a.status = AttemptStatus.ENDED
        a.outcome = str(outcome)
        a.business_result = e.business_result
        a.provider_call_id = a.provider_call_id or e.provider_call_id
        a.answered_at = a.answered_at or e.answered_at
        a.ended_at = ended_at
        a.duration_s = max(e.duration_s, 0)
        a.billed_seconds = secs
        a.transcript = e.transcript
        a.summary = e.summary
        a.extracted = dict(e.extracted)
        a.error = e.error
        add(a.batch_id, "attempts_made", 1)
        add(a.batch_id, "answered_calls", int(answered))
        add(a.batch_id, "billed_seconds", secs)
        job.billed_seconds += secs
        job.last_outcome = str(outcome)
        to_settle.append((a, job, str(outcome), secs, cost, ended_at))
        if answered:
            job.business_result = e.business_result
            job.result = {
                "attempt_id": a.id,
                "business_result": e.business_result,
                "summary": e.summary,
                "extracted": dict(e.extracted),
            }
            debtor = job.dni or (job.phones[0] if job.phones else a.phone)
            contacts.append(
                {
                    "account_id": a.account_id, "debtor_key": debtor, "attempt_id": a.id,
                    "batch_id": a.batch_id, "contacted_at": a.answered_at or ended_at,
                }
            )  # fmt: skip
        CALL_OUTCOMES.labels(str(outcome)).inc()
        if job.current_attempt_id != a.id or job.status not in IN_FLIGHT:
            continue  # the job already moved on (e.g. the attempt was rescued and re-dialed)
        row = batch_rows.get(job.batch_id)
        for col, v in _decide_next(job, a, str(outcome), row, account, now, events).items():
            add(job.batch_id, col, v)
    # Money, planned on the balance read above (no lock yet).
    # By attempt id (indexed, a few rows each): an IN list of thousands of keys made
    # PostgreSQL scan the whole ledger.
    used = set(
        (
            await session.execute(
                select(LedgerEntry.idempotency_key).where(
                    LedgerEntry.attempt_id.in_({a.id for a, *_ in to_settle})
                )
            )
        )
        .scalars()
        .all()
    )
    planned = _plan_settlement(accounts, to_settle, used)
    stats: dict[tuple[str, datetime, str], list[int]] = {}
    for (a, job, outcome, secs, _cost, ended_at), (_entries, charged) in zip(
        to_settle, planned, strict=True
    ):
        a.cost_units = charged
        job.cost_units += charged
        add(a.batch_id, "cost_units", charged)
        bucket = stats.setdefault((a.account_id, hour_bucket(ended_at), outcome), [0, 0, 0])
        bucket[0] += 1
        bucket[1] += secs
        bucket[2] += charged
    await session.flush()
    await insert_rows(session, ContactLog, contacts)
    await insert_rows(session, Event, events)

    # Hot rows last, always in this order: hourly stats -> batch -> account (the claim
    # takes batch -> account), each held only until the commit that follows.
    if _record_attempt is not None:
        for (account_id, hour, outcome), (calls, secs, cost) in sorted(stats.items()):
            await _record_attempt(
                session, account_id=account_id, at=hour, outcome=outcome,
                billed_seconds=secs, cost_units=cost, calls=calls,
            )  # fmt: skip
    for batch_id in sorted(deltas):
        d = {k: v for k, v in deltas[batch_id].items() if v}
        if d:
            row = batch_rows.get(batch_id)
            await bump_batch(session, batch_id, row[3] if row else "", d)
    await _cancel_retries_of_cancelled(session, [j for _, _, j in finals], batch_rows)
    await _publish_progress(session, sorted(deltas))

    snapshot = {acc_id: acc.balance for acc_id, acc in accounts.items()}
    for account_id in sorted(accounts):
        accounts[account_id] = await lock_account(session, account_id)
    if any(accounts[i].balance != snapshot[i] for i in accounts):
        # The balance moved since it was read: re-plan on the locked value. Charges only
        # differ when one is capped at the balance (rare); the rows they touch are
        # already ours, so correcting them takes no new lock.
        replanned = _plan_settlement(accounts, to_settle, used)
        for (a, job, outcome, _secs, _c, ended_at), (_e, old), (_e2, new) in zip(
            to_settle, planned, replanned, strict=True
        ):
            if new != old:
                a.cost_units = new
                job.cost_units += new - old
                await JobRepository.from_session(session).apply_batch_deltas(
                    a.batch_id, {"cost_units": new - old}
                )
                if _record_attempt is not None:
                    await _record_attempt(
                        session, account_id=a.account_id, at=ended_at, outcome=outcome,
                        billed_seconds=0, cost_units=new - old, calls=0,
                    )  # fmt: skip
        planned = replanned
    ledger: list[dict[str, Any]] = []
    for (a, *_), (entries, _charged) in zip(to_settle, planned, strict=True):
        account = accounts[a.account_id]
        for kind, amount, key in entries:
            account.balance += amount
            ledger.append(
                {
                    "account_id": account.id, "kind": kind, "amount": amount,
                    "balance_after": account.balance, "idempotency_key": key,
                    "batch_id": a.batch_id, "job_id": a.job_id, "attempt_id": a.id,
                    "created_at": now,
                }
            )  # fmt: skip
    await session.flush()
    await insert_rows(session, LedgerEntry, ledger)
    return len(finals)


async def _cancel_retries_of_cancelled(
    session: AsyncSession, jobs: list[Job], batch_rows: Mapping[str, Any]
) -> None:
    """A cancel that committed after this delivery read the batch status (PostgreSQL,
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
        and (batch_rows.get(b) is None or batch_rows[b][1] != BatchStatus.CANCELLED)
    }  # fmt: skip
    if not stale:
        return
    moved: dict[str, int] = {}
    for job in jobs:
        if job.batch_id in stale and job.status == JobStatus.SCHEDULED:
            job.status = JobStatus.CANCELLED
            job.wait_reason = None
            job.completed_at = job.completed_at or clock.now()
            moved[job.batch_id] = moved.get(job.batch_id, 0) + 1
    await session.flush()
    for batch_id, n in sorted(moved.items()):
        await JobRepository.from_session(session).apply_batch_deltas(
            batch_id, counter_deltas(JobStatus.SCHEDULED, JobStatus.CANCELLED, n)
        )


def _plan_settlement(
    accounts: Mapping[str, Account],
    to_settle: Sequence[tuple[CallAttempt, Job, str, int, int, datetime]],
    used: set[str],
) -> list[tuple[list[tuple[EntryKind, int, str]], int]]:
    """Per attempt: the ledger entries settling it and the units charged. Pure.

    The in-memory equivalent of ``billing.service.settle`` for accounts whose used
    idempotency keys were fetched in one query: release the hold, charge the cost
    (capped at the balance so it never goes negative), each at most once per attempt.
    """
    balances = {i: acc.balance for i, acc in accounts.items()}
    seen = set(used)
    out: list[tuple[list[tuple[EntryKind, int, str]], int]] = []
    for a, _job, _outcome, _secs, cost, _ended in to_settle:
        entries: list[tuple[EntryKind, int, str]] = []
        if f"charge:{a.id}" in seen:
            out.append((entries, 0))  # already charged: a replayed event
            continue
        if a.reserved_units and f"release:{a.id}" not in seen:
            entries.append((EntryKind.RELEASE, a.reserved_units, f"release:{a.id}"))
            balances[a.account_id] += a.reserved_units
        charged = max(min(cost, balances[a.account_id]), 0)
        if charged < cost:
            log.warning(
                "billing.charge_capped", account_id=a.account_id, attempt_id=a.id, cost=cost
            )
        if charged > 0:
            entries.append((EntryKind.CHARGE, -charged, f"charge:{a.id}"))
            balances[a.account_id] -= charged
        seen.update(key for _, _, key in entries)
        out.append((entries, charged))
    return out


def _decide_next(
    job: Job,
    a: CallAttempt,
    outcome: str,
    row: Any,
    account: Account,
    now: datetime,
    events: list[dict[str, Any]],
) -> dict[str, int]:
    """Apply the retry policy to a job whose current attempt ended; returns counter deltas.

    The bulk equivalent of ``job.service.transition`` (state table checked, counters
    returned to be applied once per batch, the job.status event appended to ``events``)."""
    status = row[1] if row else None
    settings, _ = batch_rules(
        job.batch_id, (row[2] if row else None) or {}, timezone=account.timezone,
        country=account.country,
    )  # fmt: skip
    state = JobState(
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        phone_index=a.phone_index,
        phone_count=len(job.phones or []),
    )
    decision = decide(state, outcome, settings, now)
    src = job.status
    if isinstance(decision, GiveUp):
        dst = decision.final_status
        job.wait_reason = None
    else:
        dst = JobStatus.SCHEDULED
        job.next_attempt_at = decision.at
        job.phone_index = decision.phone_index
        job.wait_reason = "retry"
    if not can_transition(src, dst):
        raise InvalidTransition(f"job {job.id}: {src} -> {dst} is not allowed")
    deltas = counter_deltas(src, dst)
    if dst == JobStatus.SCHEDULED and status == BatchStatus.CANCELLED:
        # Cancelled while on the line: the call finished and was billed; no retry.
        deltas = _merge(deltas, counter_deltas(dst, JobStatus.CANCELLED))
        dst = JobStatus.CANCELLED
        job.wait_reason = None
    job.status = dst
    job.lease_expires_at = None
    job.worker_id = None
    job.current_attempt_id = None
    if dst in FINAL and job.completed_at is None:
        job.completed_at = now
    events.append(
        {
            "account_id": job.account_id, "batch_id": job.batch_id, "job_id": job.id,
            "type": "job.status", "created_at": now,
            "data": {"job_id": job.id, "status": str(dst), "outcome": job.last_outcome},
        }
    )  # fmt: skip
    return deltas


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


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


__all__ = ["BatchStatus", "handle_events", "receive_webhook"]
