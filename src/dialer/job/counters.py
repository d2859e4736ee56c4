"""Batch counter deltas for a job status change. Pure."""

from __future__ import annotations

from dialer.job.states import FINAL, IN_FLIGHT, JobStatus

_FINAL_COUNTER = {
    JobStatus.COMPLETED: "completed_jobs",
    JobStatus.FAILED: "failed_jobs",
    JobStatus.CANCELLED: "cancelled_jobs",
}


def counter_deltas(src: JobStatus | None, dst: JobStatus, n: int = 1) -> dict[str, int]:
    """How batch counters move when ``n`` jobs go from ``src`` (None = new) to ``dst``."""
    deltas: dict[str, int] = {}

    def add(col: str, v: int) -> None:
        deltas[col] = deltas.get(col, 0) + v

    if src is None:
        add("total_jobs", n)
    else:
        if src not in FINAL:
            add("pending_jobs", -n)
        else:
            add(_FINAL_COUNTER[src], -n)
        if src in IN_FLIGHT:
            add("in_progress_jobs", -n)
    if dst not in FINAL:
        add("pending_jobs", n)
    else:
        add(_FINAL_COUNTER[dst], n)
    if dst in IN_FLIGHT:
        add("in_progress_jobs", n)
    return {k: v for k, v in deltas.items() if v}
