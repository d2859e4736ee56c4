"""``plan_endings``: the pure heart of a settlement. Given the ended attempts as read, it
decides the charge, the job's next step and the counter deltas, touching nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from dialer.call.event import CallEvent
from dialer.call.settlement import BatchRules, Ending, NextStep, plan_endings
from dialer.job.states import AttemptStatus, JobStatus
from dialer.models import Account, BatchStatus, CallAttempt, Job, PlanType

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 12:00 in Santiago


def _account(balance: int = 3600) -> Account:
    return Account(
        id="acc", account_name="A", country="CL", timezone="America/Santiago",
        plan_type=PlanType.MINUTES_BASED, balance=balance, settings={},
    )  # fmt: skip


def _ending(
    outcome: str,
    *,
    attempts: int = 1,
    duration: int = 61,
    job_status: JobStatus = JobStatus.IN_PROGRESS,
    current: str | None = "att-1",
    attempt_id: str = "att-1",
) -> Ending:
    job = Job(
        id="job-1", batch_id="b1", account_id="acc", status=job_status, phones=["+56911112222"],
        attempts=attempts, max_attempts=3, phone_index=0, current_attempt_id=current,
        next_attempt_at=NOW, billed_seconds=0, cost_units=0,
    )  # fmt: skip
    attempt = CallAttempt(
        id=attempt_id, job_id="job-1", batch_id="b1", account_id="acc", number=attempts,
        phone="+56911112222", phone_index=0, provider="simulated",
        status=AttemptStatus.IN_PROGRESS, reserved_units=300,
    )  # fmt: skip
    event = CallEvent(
        provider="simulated", provider_call_id="c1", event_key=f"k-{attempt_id}",
        attempt_id=attempt_id, final=True, status="ended", outcome=outcome, duration_s=duration,
        ended_at=NOW,
    )  # fmt: skip
    return Ending(event, attempt, job)


BATCH = {"b1": BatchRules("acc", BatchStatus.ACTIVE, {})}


def test_an_answered_call_completes_the_job_and_charges_rounded_minutes() -> None:
    x = _ending("completed")
    plan = plan_endings([x], {"acc": _account()}, BATCH, set(), NOW)
    [p] = plan.endings
    assert p.next == NextStep(JobStatus.COMPLETED, None)
    assert p.billed_seconds == 120
    assert plan.money[0].charged == 120
    assert plan.counters["b1"] == Counter(
        attempts_made=1, answered_calls=1, billed_seconds=120, cost_units=120,
        pending_jobs=-1, in_progress_jobs=-1, completed_jobs=1,
    )  # fmt: skip
    # Pure: the objects are as read.
    assert x.job.status == JobStatus.IN_PROGRESS
    assert x.attempt.status == AttemptStatus.IN_PROGRESS


def test_an_unanswered_call_with_attempts_left_is_retried_later() -> None:
    plan = plan_endings([_ending("no_answer")], {"acc": _account()}, BATCH, set(), NOW)
    [p] = plan.endings
    assert p.next is not None
    assert p.next.status == JobStatus.SCHEDULED
    assert p.next.wait_reason == "retry"
    assert p.next.next_attempt_at is not None
    assert p.next.next_attempt_at > NOW
    assert plan.money[0].charged == 0
    assert plan.counters["b1"] == Counter(attempts_made=1, in_progress_jobs=-1)


def test_the_last_attempt_fails_the_job() -> None:
    plan = plan_endings([_ending("busy", attempts=3)], {"acc": _account()}, BATCH, set(), NOW)
    assert plan.endings[0].next == NextStep(JobStatus.FAILED, None)


def test_a_retry_in_a_batch_cancelled_meanwhile_is_cancelled() -> None:
    cancelled = {"b1": BatchRules("acc", BatchStatus.CANCELLED, {})}
    plan = plan_endings([_ending("no_answer")], {"acc": _account()}, cancelled, set(), NOW)
    [p] = plan.endings
    assert p.next is not None
    assert p.next.status == JobStatus.CANCELLED
    assert plan.counters["b1"] == Counter(
        attempts_made=1, pending_jobs=-1, in_progress_jobs=-1, cancelled_jobs=1
    )


def test_a_job_that_moved_on_is_only_billed() -> None:
    # The attempt was rescued and the job re-dialed: its ending bills, the job stays.
    x = _ending("completed", current="att-2")
    plan = plan_endings([x], {"acc": _account()}, BATCH, set(), NOW)
    assert plan.endings[0].next is None
    assert plan.counters["b1"] == Counter(
        attempts_made=1, answered_calls=1, billed_seconds=120, cost_units=120
    )


def test_a_charge_is_capped_at_the_balance_read() -> None:
    plan = plan_endings(
        [_ending("completed", duration=600)], {"acc": _account(balance=0)}, BATCH, set(), NOW
    )
    # The hold (300) comes back first, so the call is charged up to it.
    assert plan.money[0].charged == 300
    assert plan.endings[0].billed_seconds == 600


def test_two_endings_of_one_job_give_it_one_next_step() -> None:
    first = _ending("no_answer")
    second = Ending(first.event, first.attempt, first.job)
    plan = plan_endings([first, second], {"acc": _account()}, BATCH, set(), NOW + timedelta())
    assert [p.next is not None for p in plan.endings] == [True, False]
