"""The dispatcher worker: claim due jobs, place the calls, persist what the provider says.

Loop (procrastinate-style)::

    while not stop:
        free = concurrency - calls being placed by this process
        claimed = claim_due_jobs(limit=min(free, CLAIM_BATCH_SIZE))   # one transaction
        for each job: task -> place_call -> persist (shielded)        # bounded by a semaphore
        nothing claimed -> wait POLL_INTERVAL, or until a local call ends, or stop

Side tasks: heartbeat, lease rescuer (maintenance.py), the outbound webhook deliverer
(``hooks/delivery.py``), the promise judge (``call/promises.py``), the agent-version pin
of started batches (``telephony/pinning.py``) and the simulated carrier loop (delivers the simulated provider's
webhooks; every worker runs one, they share the work through row locks and leases).
The rescuer, deliverer, judge and pin task wait for the probe task: every five poll
intervals it asks, in one statement on one read session, whether each of them has
anything to do (the same index probes their own rounds start with), and wakes those
that have. An idle worker thus reads once per round instead of once per task.

Invariants:
  * a placed call is persisted even if the worker is being cancelled (``asyncio.shield``);
  * a provider error never loses the job: Retryable -> the attempt is abandoned and the
    job waits (the attempt is not counted); Permanent -> the attempt ends with outcome
    ``invalid_number`` / ``failed`` through the webhook path and the retry policy decides;
  * never two calls for one attempt: a create whose outcome is unknown (timeout, reset,
    408, 5xx after sending) leaves the attempt UNKNOWN and the job in flight; the rescuer
    asks the provider (``find_call``) and only its proof that no call exists frees the job;
  * a crash at any point leaves the job DIALING/IN_PROGRESS with a lease: the rescuer of
    any worker recovers it.

SIGTERM/SIGINT set the stop event: no new claims, calls in progress get
``SHUTDOWN_TIMEOUT`` to be handed to the provider and persisted; a call task cancelled
after that still has its save (shielded) awaited before the database is closed, then
the process exits.

A side task that ends while the worker runs (a bug, not a failed round: each round's
exception is logged and the task goes on) stops the worker: ``run`` raises
``SideTaskDied`` after the graceful shutdown, and the process exits non-zero for its
supervisor to restart it - never a dispatcher without its rescuer or carrier.

Every wait (poll, side-task interval) is jittered by +-``POLL_JITTER`` so that workers
started together do not claim, rescue and deliver in lock-step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from dialer import logging as dlog
from dialer.billing.service import BalanceMoved
from dialer.call import promises
from dialer.call.service import (
    PlacedResult,
    abandon_attempt,
    mark_placed_many,
    mark_unknown,
    record_provider_ids,
)
from dialer.compliance import service as compliance_service
from dialer.config import Settings
from dialer.db.checkpoint import run_checkpoints
from dialer.db.session import Database
from dialer.hooks.delivery import Deliverer
from dialer.job.states import Outcome
from dialer.kit import clock as clock_mod
from dialer.kit.clock import Clock
from dialer.kit.group_commit import GroupCommit
from dialer.kit.heap import relax_young_collections, settle_heap
from dialer.metrics import CALLS_CLAIMED, CALLS_IN_FLIGHT, CALLS_PLACED, CLAIM_LATENCY
from dialer.script.render import job_variables
from dialer.telephony.base import (
    CallEvent,
    CallOutcomeUnknown,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    Provider,
    ProviderError,
    RetryableProviderError,
)
from dialer.telephony.pinning import pin_started_batches
from dialer.telephony.registry import Providers
from dialer.telephony.simulated import SimulatedProvider
from dialer.telephony.webhooks import handle_events
from dialer.worker.claim import ClaimedJob, claim_due_jobs, has_claimable_work
from dialer.worker.maintenance import (
    PROBED,
    due_side_tasks,
    heartbeat,
    probe_params,
    prune_maintenance_tables,
    rescue_expired,
    side_task_probe,
)

log = dlog.get_logger("dialer.worker")

SHUTDOWN_TIMEOUT = 15.0  # seconds calls in progress get to be persisted on stop
# ... and then the saves of calls the provider already has: one database write each.
SAVE_TIMEOUT = 30.0
RETRYABLE_BACKOFF = timedelta(seconds=30)
# An unknown create is looked up at the provider after this (and each rescue pass after).
UNKNOWN_RECHECK = timedelta(seconds=60)
POLL_JITTER = 0.2  # each wait lasts between 0.8 and 1.2 times its interval


class SideTaskDied(RuntimeError):
    """A side task (heartbeat, rescuer, carrier...) ended while the worker was running."""


class Worker:
    """One dispatcher process (or the task inside ``dialer serve``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        provider: Provider | None = None,
        providers: Providers | None = None,
        worker_id: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # The provider instances this worker dials with (an embedded worker: the app's).
        self.providers = providers or Providers(settings, db)
        self._provider = provider
        self.worker_id = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        )
        self._clock = clock
        self._concurrency = settings.WORKER_CONCURRENCY
        self._sem = asyncio.Semaphore(self._concurrency)
        self._running = 0
        self._full = False
        # The last claim took jobs: the next one goes straight to its transaction (more
        # are likely due), without the read-only guess that saves an idle poll one.
        self._took = False
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Saves of placed calls, shielded from the cancellation of their call task.
        self._saves: set[asyncio.Task[Any]] = set()
        self._rng = random.Random()
        self._died: list[str] = []
        self.poll = settings.POLL_INTERVAL.total_seconds()
        # Calls accepted together are recorded IN_PROGRESS in one transaction.
        self._marks: GroupCommit[tuple[str, str], PlacedResult] = GroupCommit(self._mark_many)
        self._deliverer: Deliverer | None = None
        self._stop = asyncio.Event()
        # Set by the probe task when a probed side task has work (see ``_probe``).
        self._due = {name: asyncio.Event() for name in PROBED}
        self._probe_stmt = side_task_probe(default_provider=settings.PROVIDER)

    def now(self) -> datetime:
        return self._clock.now() if self._clock else clock_mod.now()

    def provider_for(self, name: str | None) -> Provider:
        if self._provider is not None:
            return self._provider
        return self.providers.get(name)

    # -- main loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set, then shut down gracefully."""
        self._stop = stop
        started = self.now()
        log.info("worker.started", worker_id=self.worker_id, concurrency=self._concurrency)
        side = [
            asyncio.create_task(
                self._every(stop, self.poll * 10, self._heartbeat(started)), name="heartbeat"
            ),
            # Every few poll intervals, one read for the four tasks below: webhooks are
            # seconds-fresh, not claim-fresh, and on SQLite each fan-out takes the write lock.
            asyncio.create_task(self._every(stop, self.poll * 5, self._probe), name="probe"),
            asyncio.create_task(self._when_due(stop, "rescuer", self._rescue), name="rescuer"),
            asyncio.create_task(self._when_due(stop, "webhooks", self._webhooks), name="webhooks"),
            asyncio.create_task(self._when_due(stop, "promises", self._promises), name="promises"),
            # Agent versions pinned as batches start (immediate or scheduled starts).
            asyncio.create_task(self._when_due(stop, "pins", self._pins), name="pins"),
            # Retention: transcripts and recordings, then the maintenance tables.
            asyncio.create_task(
                self._every(stop, self.poll * 60, self._retention), name="retention"
            ),
        ]
        simulated = self._simulated()
        if simulated is not None:
            side.append(asyncio.create_task(self._carrier(stop, simulated), name="carrier"))
        for task in side:
            task.add_done_callback(self._side_task_ended)
        try:
            while not stop.is_set():
                claimed = await self._claim_round(stop)
                if claimed:
                    continue  # claim until nothing is due
                await self._sleep(stop)
        finally:
            # Also when the loop raised: the side tasks stop on this event, and shutdown
            # would otherwise wait out their timeouts.
            stop.set()
            await self._shutdown(side)
            log.info("worker.stopped", worker_id=self.worker_id)
        if self._died:
            raise SideTaskDied(f"side task(s) ended while running: {', '.join(self._died)}")

    def _side_task_ended(self, task: asyncio.Task[None]) -> None:
        if self._stop.is_set():
            return  # shutting down: side tasks end (or are cancelled) as they should
        exc = None if task.cancelled() else task.exception()
        self._died.append(task.get_name())
        log.error(
            "worker.side_task_died", worker_id=self.worker_id, task=task.get_name(),
            error=repr(exc) if exc else "returned",
        )  # fmt: skip
        self._stop.set()  # a half-alive worker is worse than none: stop, to be restarted

    def jittered(self, interval: float) -> float:
        """``interval`` moved by up to +-POLL_JITTER of itself, at random."""
        return interval * (1 + self._rng.uniform(-POLL_JITTER, POLL_JITTER))

    async def _claim_round(self, stop: asyncio.Event) -> int:
        free = self._concurrency - self._running
        if free <= 0:
            self._full = True  # the next call this process finishes placing wakes us
            return 0
        limit = min(free, self.settings.CLAIM_BATCH_SIZE)
        try:
            if not self._took:
                async with self.db.read() as rs:
                    if not await has_claimable_work(rs, self.now()):
                        return 0
            with CLAIM_LATENCY.time():
                async with self.db.write() as session:
                    # Begin (on SQLite: take the write lock) before reading the clock, so
                    # the window is judged at the instant the claim really happens.
                    await session.connection()
                    jobs = await claim_due_jobs(
                        session,
                        worker_id=self.worker_id,
                        now=self.now(),
                        limit=limit,
                        lease=self.settings.LEASE,
                        reserve_seconds=self.settings.RESERVE_SECONDS,
                        default_provider=self.settings.PROVIDER,
                    )
        except BalanceMoved as exc:
            # Another claim or a settlement charged the account between this claim's
            # read and its reservation: nothing was written; claim again at once.
            log.info("worker.claim_raced", worker_id=self.worker_id, account_id=str(exc))
            return 1
        except Exception:
            # A lost connection or a deadlock victim: nothing was claimed, try again later.
            log.exception("worker.claim_failed", worker_id=self.worker_id)
            self._took = False
            return 0
        self._took = bool(jobs)
        for job in jobs:
            self._running += 1
            CALLS_IN_FLIGHT.inc()
            task = asyncio.create_task(self._execute(job), name=f"call-{job.attempt_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if jobs:
            CALLS_CLAIMED.inc(len(jobs))
        # A full claim means there may be more: go again at once.
        return len(jobs) if len(jobs) >= limit else 0

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.jittered(self.poll), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waiters:
                w.cancel()

    # -- one call --------------------------------------------------------------------------

    async def _execute(self, job: ClaimedJob) -> None:
        try:
            async with self._sem:
                await self._place(job)
        except Exception:
            # Whatever happened, the lease brings the job back: log and move on.
            log.exception("worker.call_failed", job_id=job.job_id, attempt_id=job.attempt_id)
        finally:
            self._running -= 1
            CALLS_IN_FLIGHT.dec()
            if self._full:
                # Only a local slot freeing up is news to the claim loop: the caps are
                # counted in the database, and calls ending wake it through the carrier.
                # (Waking on every placed call made a claim round per call.)
                self._full = False
                self._wake.set()

    def request_for(self, job: ClaimedJob, provider: Provider) -> CallRequest:
        opts = job.provider_options
        variables = job.variables
        if variables is None:
            variables = job_variables(
                contact_name=job.contact_name, dni=job.dni, payload=job.payload
            )
        metadata = {
            "attempt_id": job.attempt_id,
            "job_id": job.job_id,
            "batch_id": job.batch_id,
            "account_id": job.account_id,
            "processing_type": job.processing_type,
            "attempt_number": str(job.attempt_number),
        }
        if job.script_id is not None:
            metadata["script_id"] = job.script_id
            metadata["script_version"] = str(job.script_version)
        return CallRequest(
            attempt_id=job.attempt_id,
            to_number=job.phone,
            from_number=opts.get("from_number"),
            agent_id=opts.get("agent_id"),
            variables=variables,
            metadata=metadata,
            max_duration_s=job.max_duration_s,
            ring_timeout_s=job.ring_timeout_s,
            from_number_id=opts.get("phone_number_id"),
            agent_version=opts.get("agent_version"),
            agent_branch=opts.get("branch_id"),
            voicemail_action=job.voicemail_action,
            voicemail_message=job.voicemail_message,
            caller_id_prefix=job.caller_id_prefix,
            webhook_url=f"{self.settings.PUBLIC_BASE_URL.rstrip('/')}/api/v1/webhooks/{provider.name}",
        )

    async def _place(self, job: ClaimedJob) -> None:
        provider = self.provider_for(job.provider)
        log.debug("worker.call_claimed", job_id=job.job_id, attempt_id=job.attempt_id,
                  batch_id=job.batch_id, account_id=job.account_id)  # fmt: skip
        try:
            placed = await provider.place_call(self.request_for(job, provider))
        except CallOutcomeUnknown as exc:
            log.warning("worker.create_outcome_unknown", job_id=job.job_id,
                        attempt_id=job.attempt_id, error=str(exc))  # fmt: skip
            await self._save(self._unknown(job, str(exc)))
            return
        except RetryableProviderError as exc:
            await self._save(self._abandon(job, str(exc)))
            return
        except PermanentProviderError as exc:
            outcome = (
                Outcome.INVALID_NUMBER if isinstance(exc, InvalidNumberError) else Outcome.FAILED
            )
            await self._save(self._rejected(job, provider.name, outcome, str(exc)))
            return
        CALLS_PLACED.labels(provider.name).inc()
        result = await self._save(self._placed(job, placed.provider_call_id))
        if placed.other_ids:
            # The call's further ids (the Twilio CallSid behind an ElevenLabs conversation,
            # a Vapi control URL): only these providers pay for this extra write.
            await self._save(self._ids(job, dict(placed.other_ids)))
        if result == PlacedResult.ABANDONED:
            # The lease expired while the provider was answering and the job was handed
            # back: this late call must not go on.
            with contextlib.suppress(ProviderError):
                await provider.hangup(placed.provider_call_id)

    async def _save(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work`` (the record of what the provider said) to its end even if the call
        task is cancelled: it runs as a task of its own, which shutdown awaits."""
        task = asyncio.ensure_future(work())
        self._saves.add(task)
        task.add_done_callback(self._saves.discard)
        return await asyncio.shield(task)

    def _placed(self, job: ClaimedJob, call_id: str) -> Callable[[], Awaitable[PlacedResult]]:
        async def work() -> PlacedResult:
            return await self._marks.submit((job.attempt_id, call_id))

        return work

    async def _mark_many(self, placed: list[tuple[str, str]]) -> list[PlacedResult]:
        async with self.db.write() as session:
            return await mark_placed_many(
                session, placed, now=self.now(), call_timeout=self.settings.CALL_TIMEOUT
            )

    def _ids(self, job: ClaimedJob, ids: dict[str, str]) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            async with self.db.write() as session:
                await record_provider_ids(session, job.attempt_id, ids)

        return work

    def _unknown(self, job: ClaimedJob, error: str) -> Callable[[], Awaitable[bool]]:
        async def work() -> bool:
            now = self.now()
            async with self.db.write() as session:
                return await mark_unknown(
                    session, job.attempt_id, now=now, recheck_at=now + UNKNOWN_RECHECK,
                    error=error,
                )  # fmt: skip

        return work

    def _abandon(self, job: ClaimedJob, error: str) -> Callable[[], Awaitable[bool]]:
        async def work() -> bool:
            now = self.now()
            async with self.db.write() as session:
                return await abandon_attempt(
                    session, job.attempt_id, now=now, retry_at=now + RETRYABLE_BACKOFF,
                    reason="provider_unavailable", error=error,
                )  # fmt: skip

        return work

    def _rejected(
        self, job: ClaimedJob, provider: str, outcome: Outcome, error: str
    ) -> Callable[[], Awaitable[int]]:
        async def work() -> int:
            now = self.now()
            event = CallEvent(
                provider=provider, provider_call_id="", attempt_id=job.attempt_id,
                event_key=f"rejected:{job.attempt_id}", final=True, status="rejected",
                outcome=outcome, ended_at=now, error=error,
            )  # fmt: skip
            async with self.db.write() as session:
                return await handle_events(session, [event], now=now)

        return work

    # -- side tasks ------------------------------------------------------------------------

    def _simulated(self) -> SimulatedProvider | None:
        if isinstance(self._provider, SimulatedProvider):
            return self._provider
        if self._provider is not None:
            return None
        p = self.providers.get("simulated")
        return p if isinstance(p, SimulatedProvider) else None

    async def _carrier(self, stop: asyncio.Event, sim: SimulatedProvider) -> None:
        batch = max(self.settings.CLAIM_BATCH_SIZE * 4, 50)
        while not stop.is_set():
            try:
                n = await sim.deliver_due(limit=batch)
            except Exception:
                log.exception("simulated.delivery_failed", worker_id=self.worker_id)
                n = 0
            if n:
                self._wake.set()  # calls ended: caps have room again
                if n >= batch:
                    continue  # a backlog: keep delivering
            # Otherwise deliver once per poll interval: calls ending one by one would
            # each cost a whole settlement transaction; a real carrier's webhooks come
            # with that kind of delay anyway. Instant calls set ``ended`` and skip it.
            sim.ended.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(sim.ended.wait())]
            try:
                await asyncio.wait(
                    waiters, timeout=self.jittered(self.poll), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for w in waiters:
                    w.cancel()

    def _heartbeat(self, started: datetime) -> Callable[[], Awaitable[None]]:
        async def beat() -> None:
            await heartbeat(self.db, worker_id=self.worker_id, started_at=started, now=self.now())

        return beat

    async def _webhooks(self) -> None:
        if self._deliverer is None:
            self._deliverer = Deliverer(self.db, self.settings)
        # Deliver until nothing is due (or the worker stops), then wait for the next round.
        # Woken by the probe, which has just read that there is work (or could not read):
        # the first round goes straight to it, the later ones check first.
        known = True
        while not self._stop.is_set() and await self._deliverer.run_once(
            self.now(), known_work=known
        ):
            known = False

    async def _promises(self) -> None:
        # Woken by the probe, which has just read that a promise is due.
        async with self.db.write() as session:
            await promises.evaluate_due(session, now=self.now())

    async def _pins(self) -> None:
        await pin_started_batches(
            self.db, self.provider_for, default=self.settings.PROVIDER, now=self.now()
        )

    async def _retention(self) -> None:
        """Records past their retention period, a chunk per table, until none is left."""
        while not self._stop.is_set():
            now = self.now()
            async with self.db.write() as session:
                records = await compliance_service.purge_call_records(
                    session, now=now, retention_days=self.settings.TRANSCRIPT_RETENTION_DAYS
                )
            rows = await prune_maintenance_tables(
                self.db, now=now, retention_days=self.settings.MAINTENANCE_RETENTION_DAYS
            )
            if not records and not rows:
                return

    async def _rescue(self) -> None:
        await rescue_expired(
            self.db, self.provider_for, now=self.now(), call_timeout=self.settings.CALL_TIMEOUT
        )

    async def _probe(self) -> None:
        """Wake the probed side tasks that have work now (all of them if the read fails:
        their own rounds then meet, and log, whatever is wrong)."""
        now = self.now()
        try:
            due = await due_side_tasks(self.db, self._probe_stmt, probe_params(now))
        except Exception:
            due = set(PROBED)
            raise
        finally:
            for name in due:
                self._due[name].set()

    async def _when_due(
        self, stop: asyncio.Event, name: str, fn: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``fn`` each time the probe finds work for ``name``, until ``stop``."""
        due = self._due[name]
        while not stop.is_set():
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(due.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            if stop.is_set():
                return
            due.clear()
            try:
                await fn()
            except Exception:
                log.exception("worker.side_task_failed", worker_id=self.worker_id, task=name)

    async def _every(
        self, stop: asyncio.Event, interval: float, fn: Callable[[], Awaitable[None]]
    ) -> None:
        while not stop.is_set():
            try:
                await fn()
            except Exception:
                log.exception("worker.side_task_failed", worker_id=self.worker_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.jittered(max(interval, 0.05)))

    async def _shutdown(self, side: list[asyncio.Task[None]]) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_TIMEOUT)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._saves:
            # A cancelled call task left its save running (shielded): the provider has
            # the call, so its record must reach the database before the database closes.
            _, unsaved = await asyncio.wait(set(self._saves), timeout=SAVE_TIMEOUT)
            if unsaved:
                log.error("worker.saves_unfinished", worker_id=self.worker_id, n=len(unsaved))
        # The deliverer finishes the POST in hand (bounded by its timeout) rather than
        # leaving it to be sent again after its lease: fewer duplicates for receivers.
        hooks = [t for t in side if t.get_name() == "webhooks"]
        if hooks:
            await asyncio.wait(hooks, timeout=self.settings.WEBHOOK_TIMEOUT.total_seconds() + 1)
        for t in side:
            t.cancel()
        await asyncio.gather(*side, return_exceptions=True)
        if self._deliverer is not None:
            await self._deliverer.aclose()
            self._deliverer = None


async def run_worker_process(settings: Settings) -> None:
    """Entry point of ``dialer worker`` / ``python -m dialer.worker``: runs until SIGTERM/SIGINT."""
    dlog.configure(settings.LOG_LEVEL, settings.LOG_JSON)
    if settings.WORKER_NICE:
        # Below the API on a shared machine: a poll of /status should never queue behind
        # a claim round. On a machine of its own the worker loses nothing.
        os.nice(settings.WORKER_NICE)
    db = Database(settings.DATABASE_URL)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    worker = Worker(db, settings)
    checkpoints = asyncio.create_task(run_checkpoints(db, stop), name="wal-checkpoints")
    settle_heap()
    relax_young_collections()
    try:
        await worker.run(stop)
    finally:
        stop.set()
        await checkpoints
        await db.dispose()
