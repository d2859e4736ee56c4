"""Worker side tasks: the lease rescuer, the heartbeat and the retention of the
maintenance tables.

Rescuer (any worker may run it; every step re-checks under the job lock, so two rescuers
or a rescuer racing a late webhook do no harm):

* a job DIALING past its lease: the worker died between the claim and the provider's
  answer, or the create's answer never came (attempt UNKNOWN). The provider is asked
  (``find_call``: our attempt id in the call's metadata, or the calls to that number since
  the attempt). A call found did go out: the job becomes IN_PROGRESS (and a finished one
  is settled from the provider's record). Only an answer proving no call exists abandons
  the attempt (hold released, job due again, attempt not counted); a provider that cannot
  answer leaves the job as it is for the next pass - it is never re-dialed meanwhile; one
  that shows calls it cannot prove are the attempt's (Twilio, past its attribution
  deadline) leaves it unknown for the operator (``wait_reason`` ``unresolved_call``),
  asked again hourly;
* a job IN_PROGRESS past the call timeout: the final webhook was lost. The provider is
  asked (``get_call``) and its final state applied through the webhook path; if it has
  none, the attempt fails as ``failed`` (hold released, retry policy applies).

Retention (``prune_maintenance_tables``): rows that only serve the running system are
deleted once older than ``MAINTENANCE_RETENTION_DAYS`` - progress events (the SSE and
feed backlog), webhook receipts (the replay guard: providers stop retrying within
days) and the simulated carrier's delivered calls. Never the contact log, the
attempts, the ledger or the audit log: those are the record of what was done.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, bindparam, delete, select

from dialer.call import promises
from dialer.call.service import abandon_attempt, hold_unattributable, mark_placed
from dialer.db.dialect import insert
from dialer.db.session import Database
from dialer.db.types import UTCDateTime
from dialer.hooks.delivery import work_probe
from dialer.job.states import JobStatus, Outcome
from dialer.logging import get_logger
from dialer.metrics import LEASES_RESCUED
from dialer.models import CallAttempt, Event, Job, SimulatedCall, WebhookReceipt, WorkerHeartbeat
from dialer.telephony.base import CallEvent, CallNotAttributable, ProviderError
from dialer.telephony.pinning import LOOKBACK as PIN_LOOKBACK
from dialer.telephony.pinning import pin_probe
from dialer.telephony.webhooks import handle_events

log = get_logger("dialer.worker")

# An attempt whose call the provider cannot attribute is asked about again this often.
UNATTRIBUTED_RECHECK = timedelta(hours=1)


def _lease_expired(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """A job placed or being placed whose worker's lease ran out before ``now``."""
    return and_(
        Job.status.in_([JobStatus.DIALING, JobStatus.IN_PROGRESS]), Job.lease_expires_at < now
    )


def expired_probe(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """True when ``rescue_expired`` may have a job to recover (the same index probe)."""
    return select(Job.id).where(_lease_expired(now)).exists()


# The side tasks the probe reads for (``Worker._probe`` wakes them), in its column order.
PROBED = ("rescuer", "webhooks", "promises", "pins")


def side_task_probe(*, default_provider: str) -> Executable:
    """One statement that says, per probed side task, whether its round has work: the
    index probe its own round starts with, as an EXISTS column named after the task.
    Built once; execute it with ``probe_params(now)``."""
    now: Any = bindparam("now", type_=UTCDateTime())
    started_from: Any = bindparam("started_from", type_=UTCDateTime())
    probes = {
        "rescuer": expired_probe(now),
        "webhooks": work_probe(now),
        "promises": promises.due_probe(now),
        "pins": pin_probe(default=default_provider, now=now, started_from=started_from),
    }
    return select(*(probes[name].label(name) for name in PROBED))


def probe_params(now: datetime) -> dict[str, Any]:
    return {"now": now, "started_from": now - PIN_LOOKBACK}


async def due_side_tasks(db: Database, probe: Executable, params: dict[str, Any]) -> set[str]:
    """The names of the probes of ``side_task_probe`` that hold, on one read session."""
    async with db.read() as session:
        row = (await session.execute(probe, params)).one()
    return {name for name, due in row._mapping.items() if due}


async def rescue_expired(
    db: Database,
    providers: Any,
    *,
    now: datetime,
    call_timeout: timedelta,
    limit: int = 100,
) -> int:
    """Recover jobs whose lease expired. ``providers(name)`` returns the provider for an
    attempt. Returns how many jobs were recovered."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Job.id, Job.status, Job.current_attempt_id, CallAttempt.provider,
                       CallAttempt.provider_call_id, CallAttempt.phone, CallAttempt.started_at)
                .join(CallAttempt, CallAttempt.id == Job.current_attempt_id)
                .where(_lease_expired(now))
                .limit(limit)
            )
        ).all()  # fmt: skip
    rescued = 0
    for job_id, status, attempt_id, provider_name, call_id, phone, started_at in rows:
        if attempt_id is None:
            continue  # an in-flight job always has its attempt; nothing to rescue without one
        provider = providers(provider_name)
        try:
            if status == JobStatus.DIALING:
                rescued += await _rescue_dialing(
                    db, provider, attempt_id, now, call_timeout, phone=phone,
                    since=started_at or now - call_timeout,
                )  # fmt: skip
            else:
                rescued += await _rescue_in_progress(db, provider, attempt_id, call_id, now)
        except CallNotAttributable as exc:
            # Calls that may be the attempt's, none proven: never guessed, never re-dialed.
            # The operator is shown it; the provider is asked again in an hour.
            async with db.write() as session:
                first = await hold_unattributable(
                    session, attempt_id, now=now, recheck_at=now + UNATTRIBUTED_RECHECK,
                    error=str(exc),
                )  # fmt: skip
            if first:
                log.error("worker.call_not_attributable", job_id=job_id, attempt_id=attempt_id,
                          error=str(exc))  # fmt: skip
        except ProviderError as exc:
            # The provider cannot answer now: leave the job for the next pass.
            log.warning(
                "worker.rescue_deferred", job_id=job_id, attempt_id=attempt_id, error=str(exc)
            )
    if rescued:
        LEASES_RESCUED.inc(rescued)
    return rescued


async def _rescue_dialing(
    db: Database,
    provider: Any,
    attempt_id: str,
    now: datetime,
    call_timeout: timedelta,
    *,
    phone: str,
    since: datetime,
) -> int:
    # Raises ProviderError when the provider cannot tell: the job waits for the next pass.
    known: CallEvent | None = await provider.find_call(attempt_id, to_number=phone, since=since)
    async with db.write() as session:
        if known is not None:
            await mark_placed(
                session, attempt_id, known.provider_call_id, now=now, call_timeout=call_timeout
            )
            if known.final:
                # It already ended: settle it from the provider's record now.
                await handle_events(session, [replace(known, attempt_id=attempt_id)], now=now)
            log.info("worker.lease_rescued", attempt_id=attempt_id, result="call_found")
            return 1
        done = await abandon_attempt(
            session, attempt_id, now=now, retry_at=now, reason="lease_expired",
            error="the provider has no call for this attempt",
        )  # fmt: skip
    if done:
        log.info("worker.lease_rescued", attempt_id=attempt_id, result="abandoned")
    return int(done)


async def _rescue_in_progress(
    db: Database, provider: Any, attempt_id: str, call_id: str | None, now: datetime
) -> int:
    event = await provider.get_call(call_id) if call_id else None
    if event is None or not event.final:
        if event is not None and call_id:
            try:
                await provider.hangup(call_id)
            except ProviderError:
                pass
        event = CallEvent(
            provider=provider.name, provider_call_id=call_id or "", attempt_id=attempt_id,
            event_key=f"timeout:{attempt_id}", final=True, status="timeout",
            outcome=Outcome.FAILED, error="no final report from the provider within CALL_TIMEOUT",
        )  # fmt: skip
    async with db.write() as session:
        applied = await handle_events(session, [event], now=now)
    log.info("worker.call_reconciled", attempt_id=attempt_id, outcome=event.outcome)
    return int(applied > 0)


async def heartbeat(db: Database, *, worker_id: str, started_at: datetime, now: datetime) -> None:
    """Record that this worker is alive (one row per worker, upserted)."""
    values = {
        "worker_id": worker_id,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "last_seen_at": now,
    }
    async with db.write() as session:
        await session.execute(
            insert(session, WorkerHeartbeat)
            .values(values)
            .on_conflict_do_update(index_elements=["worker_id"], set_={"last_seen_at": now})
        )


PRUNE_CHUNK = 1000  # rows per table per round: short transactions (SQLite's write lock)


async def prune_maintenance_tables(db: Database, *, now: datetime, retention_days: int) -> int:
    """Delete up to ``PRUNE_CHUNK`` rows per table older than ``retention_days``; returns
    how many went (the retention task repeats while there are some)."""
    cutoff = now - timedelta(days=retention_days)
    old: list[tuple[Any, Any, Any]] = [
        (Event, Event.id, Event.created_at < cutoff),
        (WebhookReceipt, WebhookReceipt.id, WebhookReceipt.received_at < cutoff),
        # Only calls whose report was delivered: an undelivered one is still news.
        (
            SimulatedCall,
            SimulatedCall.id,
            (SimulatedCall.delivered == 1) & (SimulatedCall.complete_at < cutoff),
        ),
    ]
    removed = 0
    for model, key, condition in old:
        chunk = select(key).where(condition).order_by(key).limit(PRUNE_CHUNK)
        async with db.write() as session:
            result = await session.execute(
                delete(model).where(key.in_(chunk)).execution_options(synchronize_session=False)
            )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    if removed:
        log.info("worker.retention_pruned", rows=removed, before=cutoff.isoformat())
    return removed
