"""The per-job filter contract of the claim: what a filter is handed and what it answers.

The worker's claim runs the filters; the dial-time compliance rules
(``batch.compliance_checks``) are filters. Both import these types from here, so neither
imports the other, and compliance itself knows nothing of claims.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.batch.settings import CallSettings
from dialer.batch.windows import Schedule
from dialer.models import Job


@dataclass(frozen=True)
class BatchContext:
    """An open batch being claimed from, handed to per-job filters."""

    batch_id: str
    account_id: str
    settings: CallSettings
    schedule: Schedule
    country: str | None
    # Filled by the filters: per job, the most seconds its call may last (the time
    # left in the debtor's calling window).
    call_limits: dict[str, int] = field(default_factory=dict)
    # The provider the calls go to, the batch's own caller ID (None: the account's
    # configured default) and its processing type, for the caller-ID rule.
    provider: str | None = None
    from_number: str | None = None
    processing_type: str = "basic"
    # The batch's own caller number named by id (Vapi/ElevenLabs ``phone_number_id``).
    from_number_id: str | None = None


@dataclass(frozen=True)
class Snooze:
    """A filter's verdict: do not dial this job now; it waits until ``until`` (no attempt spent)."""

    until: datetime
    reason: str


# Per-job filters run on the locked due jobs of one batch, before they are dialed.
# Each returns {job_id: Snooze} for the jobs that must wait. The compliance rules
# (batch.compliance_checks.DIAL_TIME_FILTERS) are the claim's filters.
DialFilter = Callable[
    [AsyncSession, BatchContext, Sequence[Job], datetime], Awaitable[dict[str, Snooze]]
]
