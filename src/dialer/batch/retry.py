"""Retry policy. Pure: given a job's attempt state and the outcome of the attempt that just
ended, decide whether and when to dial again, and which phone.

Rules (``call_settings.retry_settings``):

* an answered call ends the job: ``GiveUp(COMPLETED)``;
* ``max_attempts`` (the job's) bounds the dials; the last one ends the job as FAILED with
  the last outcome as the reason;
* a rule per outcome (busy / no_answer / voicemail / failed) may forbid retries or set its
  own delay;
* an invalid or do-not-call number is never dialed again: the contact's next phone is
  tried at once, and with no phone left the job fails (no rule applies);
* phone fallback: with ``next_phone_first`` an unanswered attempt moves to the contact's
  next phone at once; after the last phone the delay is spent and dialing restarts at
  phone 0. Without it, the delay is spent before every retry, rotating phones.

Snoozes (window closed, caps full, no balance) never reach this module: they do not
consume attempts, the claim simply leaves the job waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.batch.settings import CallSettings
from dialer.models.states import JobStatus, Outcome


@dataclass(frozen=True)
class JobState:
    """What the policy needs to know about a job after an attempt ended."""

    attempts: int  # dials made so far, including the one that just ended
    max_attempts: int
    phone_index: int  # the phone the ended attempt used
    phone_count: int


@dataclass(frozen=True)
class Retry:
    at: datetime
    phone_index: int


@dataclass(frozen=True)
class GiveUp:
    final_status: JobStatus  # COMPLETED or FAILED
    reason: str


Decision = Retry | GiveUp


def decide(job: JobState, outcome: str, settings: CallSettings, now: datetime) -> Decision:
    """The next step for a job whose attempt ended with ``outcome``."""
    if outcome == Outcome.COMPLETED:
        return GiveUp(JobStatus.COMPLETED, "answered")
    if job.attempts >= job.max_attempts:
        return GiveUp(JobStatus.FAILED, outcome)
    phones = max(job.phone_count, 1)
    if outcome in (Outcome.DO_NOT_CALL, Outcome.INVALID_NUMBER):
        # Dialing this number again can never work: only another phone of the contact may.
        if job.phone_index + 1 < phones:
            return Retry(now, job.phone_index + 1)
        return GiveUp(JobStatus.FAILED, outcome)
    retry = settings.retry_settings
    rule = retry.rule_for(outcome)
    if not rule.retry:
        return GiveUp(JobStatus.FAILED, outcome)
    if rule.next_phone_first and job.phone_index + 1 < phones:
        return Retry(now, job.phone_index + 1)
    hours = rule.delay_hours if rule.delay_hours is not None else retry.retry_delay_hours
    next_phone = 0 if rule.next_phone_first else (job.phone_index + 1) % phones
    return Retry(now + timedelta(hours=hours), next_phone)
