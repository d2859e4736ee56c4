"""Post-call analysis that arrives after the call's final event.

Retell reports ``call_ended`` as soon as the line drops and ``call_analyzed`` (summary,
business result, extracted promise-to-pay fields) seconds later. The first final event
ends and bills the attempt; this folds the later analysis into the ended attempt and its
job without touching billing, counters or retries, so its order relative to
``call_ended`` does not matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialer.job.states import AttemptStatus, Outcome
from dialer.models import CallAttempt, Job
from dialer.telephony.base import CallEvent

# Where the replaced system's agents left a promise to pay: Retell's
# ``collected_dynamic_variables`` (variables the agent set during the call).
COLLECTED_PROMISE_DATE_KEYS = ("fecha_pago_cliente",)
COLLECTED_PROMISE_AMOUNT_KEYS = ("monto_pago_cliente",)


def analysis_sources(call: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(custom_analysis_data, collected_dynamic_variables) of a Retell call object, each
    a dict (empty when absent or malformed)."""
    analysis = call.get("call_analysis") or {}
    custom = analysis.get("custom_analysis_data") if isinstance(analysis, Mapping) else None
    collected = call.get("collected_dynamic_variables")
    return (
        dict(custom) if isinstance(custom, Mapping) else {},
        dict(collected) if isinstance(collected, Mapping) else {},
    )


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
        job.business_result = attempt.business_result
        job.result = {
            "attempt_id": attempt.id,
            "business_result": attempt.business_result,
            "summary": attempt.summary,
            "extracted": dict(attempt.extracted),
        }
    return 1
