"""The provider seam: a small protocol every telephony adapter implements.

Requests and results are frozen dataclasses with no vendor types and no hidden clock.
Errors split into Retryable (try again later, same phone) and Permanent (this number
or request will never work); the retry policy branches on that split only.
``CallEvent`` (what every adapter's webhooks become) is the call domain's own type,
re-exported here for the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from dialer.call.event import CallEvent
from dialer.job.states import Outcome


class ProviderError(Exception):
    """The provider could not place or report the call."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableProviderError(ProviderError):
    """Temporary: rate limit, timeout, 5xx. Try again later."""


class PermanentProviderError(ProviderError):
    """Will not work if repeated: invalid number, bad credentials, rejected request."""


class InvalidNumberError(PermanentProviderError):
    """The destination number is not valid or not reachable."""


class CallerIdRefusedError(PermanentProviderError):
    """The number the call would present breaks the caller-ID rule it must follow."""


def require_caller_id(provider: str, request: CallRequest, from_number: str) -> None:
    """Refuse (before anything is sent) a call whose caller ID, as the adapter resolved
    it, is not of the numbering ``request.caller_id_prefix`` demands (Chile, SUBTEL Res.
    Exenta 286/2025: 600 for collection, 809 for unsolicited sales)."""
    prefix = request.caller_id_prefix
    digits = "".join(c for c in from_number if c.isdigit() or c == "+")
    if prefix and not digits.startswith(prefix):
        raise CallerIdRefusedError(
            f"{provider}: caller ID {from_number} is not a {prefix[:3]} {prefix[3:]} number, "
            "as SUBTEL Res. Exenta 286/2025 requires for this batch; the call was not placed"
        )


def e164_of(provider: str, phone_number_id: str, value: object) -> str:
    """The E.164 number a provider's phone-number record gives (``+`` added to a bare
    digit string); PermanentProviderError when it gives none (a SIP URI only)."""
    text = str(value).strip() if isinstance(value, str) else ""
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise PermanentProviderError(
            f"{provider}: phone number {phone_number_id} has no E.164 number the caller-ID "
            "rule can be checked on"
        )
    return f"+{digits}"


class CallOutcomeUnknown(RetryableProviderError):
    """The create request may have reached the provider (timeout after sending, connection
    reset, 408, 5xx): a call may exist. The attempt must not be re-dialed until the
    provider is asked (``find_call``) or a webhook tells."""


class CallNotAttributable(ProviderError):
    """Several provider calls could be the attempt's and nothing the provider reports
    proves which (Twilio: no call metadata, no call events naming the attempt). The
    attempt stays unknown - never re-dialed, never guessed - and is shown to the
    operator; the provider is asked again later (proof may still come)."""


class ProviderBusy(RetryableProviderError):
    """The provider refused the call for capacity (concurrency limit): no call exists;
    back off without spending an attempt."""


class WebhookVerificationError(Exception):
    """A webhook's signature is missing, wrong or too old."""


@dataclass(frozen=True)
class CallRequest:
    attempt_id: str  # our idempotency key; echoed back in webhooks as metadata
    to_number: str  # E.164
    from_number: str | None
    agent_id: str | None
    variables: Mapping[str, str] = field(default_factory=dict)  # the agent's dynamic variables
    metadata: Mapping[str, str] = field(default_factory=dict)
    max_duration_s: int = 600
    webhook_url: str | None = None
    # Seconds the phone may ring before the attempt is given up as unanswered; None: the
    # provider's (or its configuration's) default.
    ring_timeout_s: int | None = None
    # The provider's own id of the caller number (ElevenLabs ``agent_phone_number_id``,
    # Vapi ``phoneNumberId``), used instead of / besides the E.164 ``from_number``.
    from_number_id: str | None = None
    # Pinned agent version: editing the agent does not change a running campaign.
    agent_version: str | None = None
    # The agent branch the call runs (ElevenLabs ``conversation_initiation_client_data.
    # branch_id``: its create takes a branch, not a version); None: the agent's main.
    agent_branch: str | None = None
    # What the agent does on a machine: "hangup" or "message" (with voicemail_message).
    voicemail_action: str | None = None
    voicemail_message: str | None = None
    # The E.164 prefix the presented caller ID must have ("+56600": Chile's rule for
    # collection); None: no numbering rule. See ``require_caller_id``.
    caller_id_prefix: str | None = None


@dataclass(frozen=True)
class PlacedCall:
    provider_call_id: str
    status: str = "queued"
    # Further ids of the same call (ElevenLabs: the Twilio CallSid or SIP call id;
    # Vapi: the control URL), by name.
    other_ids: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    name: str

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Ask the provider to dial. Raises Retryable/PermanentProviderError."""
        ...

    async def hangup(self, provider_call_id: str) -> None:
        """End a call in progress (best effort)."""
        ...

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The call's current state, for reconciliation when webhooks were lost."""
        ...

    async def find_call(
        self, attempt_id: str, *, to_number: str, since: datetime
    ) -> CallEvent | None:
        """The call placed for ``attempt_id`` (ours, sent as metadata), found by asking the
        provider. None only when the provider's answer proves no such call exists;
        raises ProviderError when it cannot tell (the caller asks again later)."""
        ...

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify the signature and parse a webhook. Raises WebhookVerificationError."""
        ...


# Longer than any call a provider lets run (Retell and Twilio cap calls at hours).
MAX_CALL_SECONDS = 86_400
_OUTCOMES = frozenset(o.value for o in Outcome)


def check_event(event: CallEvent) -> None:
    """Raise ValueError when a parsed event holds values no call can have."""
    if event.attempt_id is not None and (
        not isinstance(event.attempt_id, str) or len(event.attempt_id) > 64
    ):
        raise ValueError("attempt_id must be a string of at most 64 characters")
    if not isinstance(event.provider_call_id, str) or not 0 < len(event.provider_call_id) <= 255:
        raise ValueError("the provider call id must be a string of 1-255 characters")
    if event.outcome is not None and event.outcome not in _OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(_OUTCOMES)}")
    if not isinstance(event.duration_s, int) or not 0 <= event.duration_s <= MAX_CALL_SECONDS:
        raise ValueError(f"the call duration must be 0-{MAX_CALL_SECONDS} seconds")
    for name in ("started_at", "answered_at", "ended_at"):
        value = getattr(event, name)
        if value is not None and not isinstance(value, datetime):
            raise ValueError(f"{name} is not a time")


__all__ = [
    "MAX_CALL_SECONDS",
    "CallEvent",
    "CallNotAttributable",
    "CallOutcomeUnknown",
    "CallRequest",
    "InvalidNumberError",
    "PermanentProviderError",
    "PlacedCall",
    "Provider",
    "ProviderBusy",
    "ProviderError",
    "RetryableProviderError",
    "WebhookVerificationError",
    "check_event",
]
