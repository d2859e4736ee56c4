"""Job and attempt states (defined with the models, which store them; see
``dialer.models.states`` for the diagram and the transition table)."""

from dialer.models.states import (
    ANSWERED,
    ATTEMPT_FINAL,
    ATTEMPT_TRANSITIONS,
    CORRECTIONS,
    FINAL,
    IN_FLIGHT,
    JOB_TRANSITIONS,
    UNANSWERED,
    WAITING,
    AttemptStatus,
    BusinessResult,
    JobStatus,
    Outcome,
    can_transition,
)

__all__ = [
    "ANSWERED",
    "ATTEMPT_FINAL",
    "ATTEMPT_TRANSITIONS",
    "CORRECTIONS",
    "FINAL",
    "IN_FLIGHT",
    "JOB_TRANSITIONS",
    "UNANSWERED",
    "WAITING",
    "AttemptStatus",
    "BusinessResult",
    "JobStatus",
    "Outcome",
    "can_transition",
]
