"""Post-call analysis that arrives after the call's final event.

Retell reports ``call_ended`` as soon as the line drops and ``call_analyzed`` (summary,
business result, extracted promise-to-pay fields) seconds later. The first final event
ends and bills the attempt; this folds the later analysis into the ended attempt and its
job without touching billing, counters or retries, so its order relative to
``call_ended`` does not matter.
"""

from __future__ import annotations

from dialer.call.event import CallEvent
from dialer.job.states import AttemptStatus, Outcome
from dialer.models import CallAttempt, Job


def apply_late_analysis(attempt: CallAttempt, job: Job, event: CallEvent) -> int:
    """Merge a final event's analysis into an already ended attempt; 1 when it changed it."""
    if (
        not event.final
        or attempt.status != AttemptStatus.ENDED
        or attempt.outcome != Outcome.COMPLETED
        or event.outcome != Outcome.COMPLETED
        or not (event.business_result or event.summary or event.extracted)
    ):
        return 0
    attempt.business_result = event.business_result or attempt.business_result
    attempt.summary = event.summary or attempt.summary
    attempt.transcript = attempt.transcript or event.transcript
    attempt.extracted = {**(attempt.extracted or {}), **dict(event.extracted)}
    result = job.result or {}
    if result.get("attempt_id") in (None, attempt.id):
        record_result(job, attempt)
    return 1


def record_result(job: Job, attempt: CallAttempt) -> None:
    """The job's result is its answered attempt's: business result, summary, extracted."""
    job.business_result = attempt.business_result
    job.result = {
        "attempt_id": attempt.id,
        "business_result": attempt.business_result,
        "summary": attempt.summary,
        "extracted": dict(attempt.extracted or {}),
    }
