"""Job and attempt states, and the allowed transitions. Pure: no database here.

Job lifecycle::

    pending ──claim──▶ dialing ──provider accepted──▶ in_progress ──final event──▶ completed
       ▲                 │  │                              │                        failed
       │                 │  └─lease expired, no call───────┼──▶ scheduled (attempt not spent)
       │                 └─provider refused────────────────┴──▶ scheduled (retry) | failed
    scheduled ◀──retry / phone fallback / snooze───────────┘
    pending|scheduled ──cancel──▶ cancelled
    failed ──manual retry (operator)──▶ pending

Invariants:
  * a job is in flight (counts against caps) exactly while ``dialing`` or ``in_progress``;
  * only ``pending``/``scheduled`` jobs are claimable, and only when ``next_attempt_at`` is due;
  * ``completed``, ``failed``, ``cancelled`` are final: nothing leaves them on its own;
    only an operator's manual retry moves a ``failed`` job back to ``pending``, and only
    a provider's later correction of the attempt that finished a job (``CORRECTIONS``:
    an answered call its post-call analysis says reached a voicemail, or whose analysis
    asks for a callback or a promise's follow-up) re-decides it.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    DIALING = "dialing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


WAITING = frozenset({JobStatus.PENDING, JobStatus.SCHEDULED})
IN_FLIGHT = frozenset({JobStatus.DIALING, JobStatus.IN_PROGRESS})
FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset(
        {JobStatus.DIALING, JobStatus.CANCELLED, JobStatus.SCHEDULED, JobStatus.FAILED}
    ),
    JobStatus.SCHEDULED: frozenset(
        {JobStatus.DIALING, JobStatus.CANCELLED, JobStatus.SCHEDULED, JobStatus.FAILED}
    ),
    JobStatus.DIALING: frozenset(
        {JobStatus.IN_PROGRESS, JobStatus.SCHEDULED, JobStatus.COMPLETED, JobStatus.FAILED}
    ),
    JobStatus.IN_PROGRESS: frozenset({JobStatus.SCHEDULED, JobStatus.COMPLETED, JobStatus.FAILED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.PENDING}),  # manual retry only
    JobStatus.CANCELLED: frozenset(),
}


# The moves a provider's correction of a settled attempt may make, besides the table: a
# job its call completed (or scheduled for the call's callback / promise follow-up)
# becomes what a voicemail makes it - a retry, or failed when none is left - and a job
# its call completed waits for the callback or promise follow-up that only the call's
# later analysis reported. Planned with
# ``plan_transition(..., correction=True)``; no other path may make them.
CORRECTIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.COMPLETED: frozenset({JobStatus.SCHEDULED, JobStatus.FAILED}),
    JobStatus.SCHEDULED: frozenset({JobStatus.SCHEDULED, JobStatus.FAILED}),
}


def can_transition(src: JobStatus, dst: JobStatus) -> bool:
    return dst in JOB_TRANSITIONS[src]


class AttemptStatus(StrEnum):
    DIALING = "dialing"  # claimed; request to the provider may or may not have gone out
    IN_PROGRESS = "in_progress"  # the provider accepted the call
    ENDED = "ended"  # final outcome recorded and billed
    ABANDONED = "abandoned"  # no call was placed (worker died first / provider refused)
    # The create may have reached the provider (timeout, reset, 408, 5xx): a call may
    # exist. The job stays in flight, never re-dialed, until a webhook or the provider's
    # answer (find_call) resolves it; only a proof that no call exists abandons it.
    UNKNOWN = "unknown"


ATTEMPT_FINAL = frozenset({AttemptStatus.ENDED, AttemptStatus.ABANDONED})

ATTEMPT_TRANSITIONS: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.DIALING: frozenset(
        {
            AttemptStatus.IN_PROGRESS,
            AttemptStatus.ENDED,
            AttemptStatus.ABANDONED,
            AttemptStatus.UNKNOWN,
        }
    ),
    AttemptStatus.UNKNOWN: frozenset(
        {AttemptStatus.IN_PROGRESS, AttemptStatus.ENDED, AttemptStatus.ABANDONED}
    ),
    AttemptStatus.IN_PROGRESS: frozenset({AttemptStatus.ENDED}),
    AttemptStatus.ENDED: frozenset(),
    AttemptStatus.ABANDONED: frozenset(),
}


class Outcome(StrEnum):
    """What happened on the line."""

    COMPLETED = "completed"  # answered by a person, conversation held
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"  # provider error / network
    INVALID_NUMBER = "invalid_number"
    DO_NOT_CALL = "do_not_call"  # number on the do-not-call list at dial time
    LEGAL_STOP = "legal_stop"  # debtor under a legal stop (judicial, insolvency...)


ANSWERED = frozenset({Outcome.COMPLETED})
UNANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL})


class BusinessResult(StrEnum):
    """What the voice agent achieved on an answered call."""

    PROMISE_TO_PAY = "promise_to_pay"
    PAID = "already_paid"
    REFUSED = "refused"
    WRONG_PERSON = "wrong_person"
    CALL_BACK_LATER = "call_back_later"
    DISPUTE = "dispute"  # the debtor disputes the debt
    DO_NOT_CALL = "do_not_call"  # the debtor asked not to be called again
    INTERESTED = "interested"  # acquisition
    NOT_INTERESTED = "not_interested"  # acquisition
    NO_RESULT = "no_result"
