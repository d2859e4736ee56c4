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
    """The job's result is its answered attempt's: business result, summary, extracted.
    The count of callbacks already scheduled is the job's, kept across its calls (it is
    what ``collections.max_callbacks`` limits)."""
    job.business_result = attempt.business_result
    kept = {k: v for k, v in (job.result or {}).items() if k == "callbacks"}
    job.result = {
        "attempt_id": attempt.id,
        "business_result": attempt.business_result,
        "summary": attempt.summary,
        "extracted": dict(attempt.extracted or {}),
        **kept,
    }


def record_provider_report(attempt: CallAttempt, event: CallEvent) -> bool:
    """Keep what the provider reported about the call (recording, its cost, variables the
    agent collected, further call ids) on the attempt; True when something changed."""
    changed = False
    if event.recording_url and event.recording_url != attempt.recording_url:
        attempt.recording_url = event.recording_url
        changed = True
    if event.provider_cost and dict(event.provider_cost) != (attempt.provider_cost or {}):
        attempt.provider_cost = dict(event.provider_cost)
        changed = True
    if event.collected_variables:
        merged = {**(attempt.collected_variables or {}), **dict(event.collected_variables)}
        if merged != (attempt.collected_variables or {}):
            attempt.collected_variables = merged
            changed = True
    if event.other_ids:
        ids = {**(attempt.provider_ids or {}), **dict(event.other_ids)}
        if ids != (attempt.provider_ids or {}):
            attempt.provider_ids = ids
            changed = True
    return changed
