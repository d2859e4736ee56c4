"""``plan_transition``: the state table checked and the batch counters every status change
moves (the claim, the settlement, cancels and imports all add these plans up)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.job.counters import InvalidTransition, plan_transition
from dialer.job.states import FINAL, JOB_TRANSITIONS, JobStatus


def test_new_jobs_count_in_total_and_pending() -> None:
    assert plan_transition(None, JobStatus.PENDING, 5) == Counter(total_jobs=5, pending_jobs=5)


def test_dialing_counts_in_flight_and_stays_pending() -> None:
    assert plan_transition(JobStatus.PENDING, JobStatus.DIALING, 3) == Counter(in_progress_jobs=3)
    assert plan_transition(JobStatus.DIALING, JobStatus.IN_PROGRESS) == Counter()


def test_an_answered_call_leaves_pending_and_in_flight() -> None:
    assert plan_transition(JobStatus.IN_PROGRESS, JobStatus.COMPLETED) == Counter(
        pending_jobs=-1, in_progress_jobs=-1, completed_jobs=1
    )


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (JobStatus.COMPLETED, JobStatus.SCHEDULED),
        (JobStatus.CANCELLED, JobStatus.DIALING),
        (JobStatus.IN_PROGRESS, JobStatus.CANCELLED),
        (JobStatus.PENDING, JobStatus.IN_PROGRESS),
        (None, JobStatus.DIALING),
    ],
)
def test_moves_the_table_forbids_are_refused(src: JobStatus | None, dst: JobStatus) -> None:
    with pytest.raises(InvalidTransition):
        plan_transition(src, dst)


def _paths() -> st.SearchStrategy[list[JobStatus]]:
    @st.composite
    def walk(draw: st.DrawFn) -> list[JobStatus]:
        path = [JobStatus.PENDING]
        for _ in range(draw(st.integers(0, 8))):
            nxt = sorted(JOB_TRANSITIONS[path[-1]])
            if not nxt:
                break
            path.append(draw(st.sampled_from(nxt)))
        return path

    return walk()


@given(_paths(), st.integers(1, 50))
def test_any_allowed_life_keeps_the_counters_consistent(path: list[JobStatus], n: int) -> None:
    total: Counter[str] = Counter()
    total.update(plan_transition(None, path[0], n))
    for src, dst in pairwise(path):
        total.update(plan_transition(src, dst, n))
    last = path[-1]
    # Every job is counted exactly once: not final (pending) or in its final counter.
    done = total["completed_jobs"] + total["failed_jobs"] + total["cancelled_jobs"]
    assert total["total_jobs"] == total["pending_jobs"] + done == n
    assert total["pending_jobs"] == (0 if last in FINAL else n)
    assert total["in_progress_jobs"] == (
        n if last in {JobStatus.DIALING, JobStatus.IN_PROGRESS} else 0
    )


def test_a_providers_correction_reopens_a_completed_job_and_nothing_else_does() -> None:
    # A call settled as answered that the provider then reports as a voicemail.
    assert plan_transition(JobStatus.COMPLETED, JobStatus.SCHEDULED, correction=True) == Counter(
        completed_jobs=-1, pending_jobs=1
    )
    assert plan_transition(JobStatus.COMPLETED, JobStatus.FAILED, correction=True) == Counter(
        completed_jobs=-1, failed_jobs=1
    )
    for dst in (JobStatus.DIALING, JobStatus.CANCELLED, JobStatus.PENDING):
        with pytest.raises(InvalidTransition):
            plan_transition(JobStatus.COMPLETED, dst, correction=True)
    with pytest.raises(InvalidTransition):
        plan_transition(JobStatus.CANCELLED, JobStatus.SCHEDULED, correction=True)
