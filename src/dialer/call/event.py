"""What a provider reports about a call, in the call domain's terms (every adapter's
webhooks and status lookups become these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CallEvent:
    """A provider status callback, normalised.

    ``final`` events carry the outcome; non-final ones (ringing, answered, started)
    only move the attempt forward. ``event_key`` identifies the event for dedupe.
    """

    provider: str
    provider_call_id: str
    event_key: str
    attempt_id: str | None
    final: bool
    status: str  # provider's own status word
    outcome: str | None = None  # dialer.job.states.Outcome value when final
    business_result: str | None = None
    duration_s: int = 0
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    transcript: str | None = None
    summary: str | None = None
    extracted: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    recording_url: str | None = None
    # What the provider charged, as it reports it: {"amount": 12.5, "unit": "usd_cents"}.
    provider_cost: Mapping[str, Any] = field(default_factory=dict)
    # Variables the agent collected or changed during the call (Retell
    # ``collected_dynamic_variables``, Vapi ``artifact.variableValues``).
    collected_variables: Mapping[str, Any] = field(default_factory=dict)
    # False when the provider refused before dialing (concurrency limit): no attempt spent.
    spend_attempt: bool = True
    other_ids: Mapping[str, str] = field(default_factory=dict)
