"""The one checked state change, as a plan: the transition table consulted and the batch
counter deltas computed. Pure. ``job.service.transition`` and every bulk path (claim,
snooze, settlement, cancel, import) write a status only after planning it here."""

from __future__ import annotations

from collections import Counter

from dialer.errors import Conflict
from dialer.models.states import CORRECTIONS, IN_FLIGHT, JobStatus, can_transition

_FINAL_COUNTER = {
    JobStatus.COMPLETED: "completed_jobs",
    JobStatus.FAILED: "failed_jobs",
    JobStatus.CANCELLED: "cancelled_jobs",
}


class InvalidTransition(Conflict):
    """This job cannot move to that state."""


def _bucket(status: JobStatus) -> str:
    # pending_jobs counts every job that is not final (waiting or in flight).
    return _FINAL_COUNTER.get(status, "pending_jobs")


def plan_transition(
    src: JobStatus | None, dst: JobStatus, n: int = 1, *, correction: bool = False
) -> Counter[str]:
    """Batch counter deltas for ``n`` jobs moving from ``src`` (None: new jobs) to ``dst``.

    ``correction``: a provider's correction of the attempt that finished the job may also
    make the moves of ``CORRECTIONS`` (a completed job re-decided as a voicemail's).

    Raises InvalidTransition when the state table forbids the move (new jobs start
    PENDING). The result holds only the counters that move; sum the plans of several
    moves with ``Counter.update`` (``+`` would drop the negative deltas).
    """
    if src is None:
        if dst != JobStatus.PENDING:
            raise InvalidTransition(f"new jobs start {JobStatus.PENDING}, not {dst}")
    elif not can_transition(src, dst) and not (
        correction and dst in CORRECTIONS.get(src, frozenset())
    ):
        raise InvalidTransition(f"{src} -> {dst} is not allowed")
    deltas: Counter[str] = Counter()
    if src is None:
        deltas["total_jobs"] += n
    else:
        deltas[_bucket(src)] -= n
        if src in IN_FLIGHT:
            deltas["in_progress_jobs"] -= n
    deltas[_bucket(dst)] += n
    if dst in IN_FLIGHT:
        deltas["in_progress_jobs"] += n
    return Counter({k: v for k, v in deltas.items() if v})
