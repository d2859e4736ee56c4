"""Property tests of the retry policy (``batch/retry.py``): whatever the settings, the
outcome and the phone a job is on, the decision keeps the promises operators rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from dialer.batch.retry import GiveUp, JobState, Retry, decide
from dialer.batch.settings import CallSettings, RetryRule, RetrySettings
from dialer.job.states import JobStatus, Outcome

RULE_OUTCOMES = ("no_answer", "busy", "voicemail", "failed")
UNANSWERED = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL, Outcome.FAILED)
ANY_OUTCOME = st.sampled_from(list(Outcome))

hours = st.floats(min_value=0, max_value=720, allow_nan=False, allow_infinity=False)
rules = st.builds(
    RetryRule,
    retry=st.booleans(),
    delay_hours=st.none() | hours,
    next_phone_first=st.booleans(),
)


@st.composite
def call_settings(draw: st.DrawFn) -> CallSettings:
    per_outcome = draw(st.dictionaries(st.sampled_from(RULE_OUTCOMES), rules))
    retry = RetrySettings(
        max_attempts=draw(st.integers(1, 50)),
        retry_delay_hours=draw(hours),
        per_outcome=per_outcome,
    )
    return CallSettings(retry_settings=retry)


@st.composite
def job_states(draw: st.DrawFn) -> JobState:
    max_attempts = draw(st.integers(1, 50))
    phone_count = draw(st.integers(1, 6))
    return JobState(
        attempts=draw(st.integers(1, max_attempts)),
        max_attempts=max_attempts,
        phone_index=draw(st.integers(0, phone_count - 1)),
        phone_count=phone_count,
    )


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(
    settings=call_settings(),
    max_attempts=st.integers(1, 50),
    phone_count=st.integers(1, 6),
    outcomes=st.lists(st.sampled_from(list(UNANSWERED)), min_size=60, max_size=60),
    now=instants,
)
def test_a_job_is_never_dialed_more_than_max_attempts(
    settings: CallSettings,
    max_attempts: int,
    phone_count: int,
    outcomes: list[Outcome],
    now: datetime,
) -> None:
    # Walk one job through a whole life of unanswered calls, as the webhooks would.
    job = JobState(attempts=1, max_attempts=max_attempts, phone_index=0, phone_count=phone_count)
    for outcome in outcomes:
        decision = decide(job, outcome, settings, now)
        if isinstance(decision, GiveUp):
            assert decision.final_status == JobStatus.FAILED
            break
        assert 0 <= decision.phone_index < phone_count
        job = JobState(job.attempts + 1, max_attempts, decision.phone_index, phone_count)
        now = decision.at
    else:
        raise AssertionError("more unanswered outcomes than attempts: the job never ended")
    assert job.attempts <= max_attempts


@given(job=job_states(), outcome=ANY_OUTCOME, settings=call_settings(), now=instants)
def test_the_last_attempt_always_ends_the_job(
    job: JobState, outcome: Outcome, settings: CallSettings, now: datetime
) -> None:
    last = JobState(job.max_attempts, job.max_attempts, job.phone_index, job.phone_count)
    decision = decide(last, outcome, settings, now)
    assert isinstance(decision, GiveUp)
    expected = JobStatus.COMPLETED if outcome == Outcome.COMPLETED else JobStatus.FAILED
    assert decision.final_status == expected


@given(job=job_states(), settings=call_settings(), now=instants)
def test_an_answered_call_always_completes_the_job(
    job: JobState, settings: CallSettings, now: datetime
) -> None:
    assert decide(job, Outcome.COMPLETED, settings, now) == GiveUp(JobStatus.COMPLETED, "answered")


@given(
    job=job_states(),
    outcome=st.sampled_from(list(UNANSWERED)),
    settings=call_settings(),
    now=instants,
)
def test_next_phone_first_dials_the_next_phone_at_once(
    job: JobState, outcome: Outcome, settings: CallSettings, now: datetime
) -> None:
    rule = settings.retry_settings.rule_for(outcome)
    has_next_phone = job.phone_index + 1 < job.phone_count
    assume(rule.retry and rule.next_phone_first and has_next_phone)
    assume(job.attempts < job.max_attempts)
    assert decide(job, outcome, settings, now) == Retry(at=now, phone_index=job.phone_index + 1)


@given(
    job=job_states(),
    outcome=st.sampled_from(list(UNANSWERED)),
    settings=call_settings(),
    now=instants,
)
def test_after_the_last_phone_the_delay_is_spent_and_dialing_wraps_to_phone_0(
    job: JobState, outcome: Outcome, settings: CallSettings, now: datetime
) -> None:
    on_last_phone = JobState(job.attempts, job.max_attempts, job.phone_count - 1, job.phone_count)
    rule = settings.retry_settings.rule_for(outcome)
    assume(rule.retry and on_last_phone.attempts < on_last_phone.max_attempts)
    decision = decide(on_last_phone, outcome, settings, now)
    delay = rule.delay_hours
    if delay is None:
        delay = settings.retry_settings.retry_delay_hours
    assert decision == Retry(at=now + timedelta(hours=delay), phone_index=0)


@given(
    job=job_states(),
    outcome=st.sampled_from(list(UNANSWERED)),
    settings=call_settings(),
    now=instants,
)
def test_a_rule_without_retry_gives_up(
    job: JobState, outcome: Outcome, settings: CallSettings, now: datetime
) -> None:
    no_retry = settings.retry_settings.model_copy(
        update={
            "per_outcome": {
                **settings.retry_settings.per_outcome,
                "failed" if outcome == Outcome.FAILED else outcome.value: RetryRule(retry=False),
            }
        }
    )
    settings = settings.model_copy(update={"retry_settings": no_retry})
    assert decide(job, outcome, settings, now) == GiveUp(JobStatus.FAILED, outcome)


@given(job=job_states(), outcome=ANY_OUTCOME, settings=call_settings(), now=instants)
def test_a_decision_is_a_retry_not_before_now_or_a_final_give_up_never_a_snooze(
    job: JobState, outcome: Outcome, settings: CallSettings, now: datetime
) -> None:
    # decide() runs only after a real attempt: waiting (window, caps, balance) is the
    # claim's business, so the policy can only dial again or end the job.
    decision = decide(job, outcome, settings, now)
    assert type(decision) in (Retry, GiveUp)
    if isinstance(decision, Retry):
        assert decision.at >= now
        assert 0 <= decision.phone_index < job.phone_count
        assert job.attempts < job.max_attempts
    else:
        assert decision.final_status in (JobStatus.COMPLETED, JobStatus.FAILED)
