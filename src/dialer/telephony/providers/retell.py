"""Retell AI adapter (https://docs.retellai.com; request and response shapes as in
retell-python-sdk 5.60 ``types/call_create_phone_call_params.py``, ``phone_call_response.py``,
``call_list_params.py``, ``resources/call.py``).

* ``POST /v2/create-phone-call`` with ``from_number``, ``to_number``, ``override_agent_id``
  and ``override_agent_version`` (pinned per batch), ``metadata`` (our attempt id travels
  here and comes back in every webhook), ``retell_llm_dynamic_variables`` (strings only)
  and ``agent_override.agent`` = ``max_call_duration_ms`` (the job's limit), ``ring_duration_ms``,
  ``voicemail_option`` and ``webhook_url``.
* ``GET /v2/get-call/{call_id}`` for reconciliation when webhooks were lost;
  ``POST /v3/list-calls`` filtered by ``metadata.attempt_id`` and ``to_number`` to find a
  call whose create answer never arrived.
* ``POST /v2/stop-call/{call_id}`` (204) ends a call in progress.
* ``GET /get-agent-versions/{agent_id}``: the agent's versions, to pin a batch to the
  newest published one when its start fires (``current_agent_version``; the router stores
  it on the batch and sends it as ``override_agent_version`` on every call of the batch).
* Webhooks ``call_started`` / ``call_ended`` / ``call_analyzed`` with
  ``x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(key, raw body + timestamp)>``, the key
  being the API key with the webhook badge (``webhook_secret``; the calling key when unset).
  Requests older (or newer) than ``tolerance`` are refused as replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dialer.job.states import Outcome
from dialer.telephony.analysis import (
    analysis_sources,
)
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    PlacedCall,
    ProviderBusy,
    ProviderError,
    WebhookVerificationError,
    require_caller_id,
)
from dialer.telephony.providers import _http

NAME = "retell"
BASE_URL = "https://api.retellai.com"
SIGNATURE_HEADER = "x-retell-signature"
_SIGNATURE_RE = re.compile(r"^v=(\d+),d=([0-9a-fA-F]+)$")

# disconnection_reason -> our outcome: the full enum of retell-python-sdk 5.60
# ``PhoneCallResponse.disconnection_reason``. Anything unknown on a call that never
# connected is a failure; on a connected call it is a completed conversation.
DISCONNECTION_OUTCOMES: dict[str, Outcome] = {
    "user_hangup": Outcome.COMPLETED,
    "agent_hangup": Outcome.COMPLETED,
    "call_transfer": Outcome.COMPLETED,
    "inactivity": Outcome.COMPLETED,
    "max_duration_reached": Outcome.COMPLETED,
    # Transfers: the debtor was on the line and handed over (bridged) or the transfer
    # was abandoned after talking to the agent; either way a conversation was held.
    "transfer_bridged": Outcome.COMPLETED,
    "transfer_cancelled": Outcome.COMPLETED,
    # We (stop-call) or a supervisor (take over) ended it: the line was connected.
    "manual_stopped": Outcome.COMPLETED,
    "call_take_over": Outcome.COMPLETED,
    "voicemail_reached": Outcome.VOICEMAIL,
    # An IVR is a machine: nobody was reached, retry like a voicemail.
    "ivr_reached": Outcome.VOICEMAIL,
    "dial_no_answer": Outcome.NO_ANSWER,
    "dial_busy": Outcome.BUSY,
    # The callee rejected the ring; carriers report this as busy too.
    "user_declined": Outcome.BUSY,
    "invalid_destination": Outcome.INVALID_NUMBER,
    "dial_failed": Outcome.FAILED,
    "telephony_provider_permission_denied": Outcome.FAILED,
    "telephony_provider_unavailable": Outcome.FAILED,
    "sip_routing_error": Outcome.FAILED,
    "marked_as_spam": Outcome.FAILED,
    # Retell's concurrency was full: nothing was dialed. Documented as "retry with
    # backoff": the attempt is not spent (see NOT_DIALED).
    "concurrency_limit_reached": Outcome.FAILED,
    "no_concurrency_fallback": Outcome.FAILED,
    # A registered call nobody connected to within the time limit: no one was reached.
    "registered_call_timeout": Outcome.FAILED,
    "no_valid_payment": Outcome.FAILED,
    "scam_detected": Outcome.FAILED,
}
# Reasons meaning the call never went out because of the provider's capacity.
NOT_DIALED = frozenset({"concurrency_limit_reached", "no_concurrency_fallback"})


def sign(body: bytes, api_key: str, timestamp_ms: int) -> str:
    """The ``x-retell-signature`` value Retell sends for ``body`` at ``timestamp_ms``."""
    digest = hmac.new(
        api_key.encode(), body + str(timestamp_ms).encode(), hashlib.sha256
    ).hexdigest()
    return f"v={timestamp_ms},d={digest}"


def verify_signature(
    body: bytes, header: str | None, api_key: str, *, now: datetime, tolerance: timedelta
) -> None:
    """Raise WebhookVerificationError unless ``header`` signs ``body`` recently."""
    if not header:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    match = _SIGNATURE_RE.match(header.strip())
    if match is None:
        raise WebhookVerificationError(f"malformed {SIGNATURE_HEADER} header")
    timestamp_ms = int(match.group(1))
    expected = sign(body, api_key, timestamp_ms).split(",d=", 1)[1]
    if not hmac.compare_digest(expected, match.group(2).lower()):
        raise WebhookVerificationError("signature does not match")
    sent_at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    if abs(now - sent_at) > tolerance:
        # A valid signature on an old request: someone replaying a captured webhook.
        raise WebhookVerificationError("signature timestamp outside the accepted window")


def _ms(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


def outcome_for(call: Mapping[str, Any]) -> Outcome:
    """Our outcome for a finished Retell call object."""
    analysis = call.get("call_analysis") or {}
    if analysis.get("in_voicemail") is True:
        return Outcome.VOICEMAIL
    reason = str(call.get("disconnection_reason") or "")
    if reason in DISCONNECTION_OUTCOMES:
        return DISCONNECTION_OUTCOMES[reason]
    if reason.startswith("error") or call.get("call_status") in ("error", "not_connected"):
        return Outcome.FAILED
    return Outcome.COMPLETED


def analysis_fields(call: Mapping[str, Any]) -> dict[str, Any]:
    """What the agent reported about the call, as it reported it: ``custom_analysis_data``,
    the ``collected_dynamic_variables`` (nested under that name) and the analysis flags.
    Not interpreted here: the business result, a promise's amount and date are read by
    ``dialer.job.outcomes`` (the one interpretation), from the raw call."""
    analysis = call.get("call_analysis") or {}
    custom, collected = analysis_sources(call)
    extracted: dict[str, Any] = dict(custom)
    if collected:
        extracted["collected_dynamic_variables"] = collected
    if isinstance(analysis, Mapping):
        for key in ("call_successful", "user_sentiment", "in_voicemail"):
            if key in analysis:
                extracted[key] = analysis[key]
    return extracted


def event_from_call(event: str, call: Mapping[str, Any]) -> CallEvent:
    """Normalise one Retell call object (webhook ``call`` or get-call body)."""
    call_id = str(call.get("call_id") or "")
    metadata = call.get("metadata") or {}
    attempt_id = metadata.get("attempt_id") if isinstance(metadata, dict) else None
    started_at = _ms(call.get("start_timestamp"))
    ended_at = _ms(call.get("end_timestamp"))
    status = str(call.get("call_status") or event)
    final = event in ("call_ended", "call_analyzed") or status in (
        "ended",
        "not_connected",
        "error",
    )
    if not final:
        return CallEvent(
            provider=NAME,
            provider_call_id=call_id,
            event_key=f"{NAME}:{call_id}:{event}",
            attempt_id=attempt_id,
            final=False,
            status=status,
            started_at=started_at,
            answered_at=started_at,
            raw=dict(call),
        )
    outcome = outcome_for(call)
    duration_ms = call.get("duration_ms")
    if isinstance(duration_ms, int | float):
        duration_s = math.ceil(duration_ms / 1000)
    elif started_at and ended_at:
        duration_s = math.ceil((ended_at - started_at).total_seconds())
    else:
        duration_s = 0
    if outcome not in (Outcome.COMPLETED, Outcome.VOICEMAIL):
        # Nothing connected: whatever Retell measured was ringing, not talk time.
        duration_s = 0
    extracted = analysis_fields(call)
    analysis = call.get("call_analysis") or {}
    reason = call.get("disconnection_reason")
    cost = call.get("call_cost") or {}
    collected = call.get("collected_dynamic_variables") or {}
    return CallEvent(
        provider=NAME,
        provider_call_id=call_id,
        event_key=f"{NAME}:{call_id}:{event}",
        attempt_id=attempt_id,
        final=True,
        status=status,
        outcome=str(outcome),
        duration_s=duration_s,
        started_at=started_at,
        answered_at=started_at if outcome == Outcome.COMPLETED else None,
        ended_at=ended_at,
        transcript=call.get("transcript"),
        summary=analysis.get("call_summary"),
        extracted=extracted if outcome == Outcome.COMPLETED else {},
        error=str(reason) if outcome in (Outcome.FAILED, Outcome.INVALID_NUMBER) else None,
        raw=dict(call),
        recording_url=call.get("recording_url")
        if isinstance(call.get("recording_url"), str)
        else None,
        provider_cost=(
            {"amount": cost["combined_cost"], "unit": "usd_cents"}
            if isinstance(cost, dict) and isinstance(cost.get("combined_cost"), int | float)
            else {}
        ),
        collected_variables=dict(collected) if isinstance(collected, dict) else {},
        spend_attempt=reason not in NOT_DIALED,
    )


def _classify(response: httpx.Response) -> ProviderError:
    error = _http.classify_default(response)
    text = _http.error_text(response).lower()
    if response.status_code == 429 and "concurrency" in text:
        # Retell's documented answer when the workspace's concurrent calls are all busy.
        return ProviderBusy(str(error), status_code=429)
    if response.status_code in (400, 422) and ("to_number" in text or "phone number" in text):
        return InvalidNumberError(str(error), status_code=response.status_code)
    return error


def agent_override(request: CallRequest) -> dict[str, Any]:
    """``agent_override.agent`` for one call: the job's duration limit (Retell's default of
    one hour would outlive our own call timeout), ring time, voicemail policy, webhook."""
    agent: dict[str, Any] = {
        # Retell accepts 60,000..7,200,000 ms.
        "max_call_duration_ms": min(max(request.max_duration_s, 60), 7200) * 1000,
    }
    if request.ring_timeout_s:
        agent["ring_duration_ms"] = min(max(request.ring_timeout_s, 5), 300) * 1000
    if request.voicemail_action == "hangup":
        agent["voicemail_option"] = {"action": {"type": "hangup"}}
    elif request.voicemail_action == "message" and request.voicemail_message:
        agent["voicemail_option"] = {
            "action": {"type": "static_text", "text": request.voicemail_message}
        }
    if request.webhook_url:
        agent["webhook_url"] = request.webhook_url
    return {"agent": agent}


class RetellProvider:
    """Places calls through Retell AI and reads its signed webhooks."""

    name = NAME
    supports_hangup = True

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None = None,
        client: httpx.AsyncClient | None = None,
        base_url: str = BASE_URL,
        agent_id: str | None = None,
        agent_version: str | None = None,
        from_number: str | None = None,
        tolerance: timedelta = timedelta(minutes=5),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        sleep: _http.Sleep = asyncio.sleep,
    ) -> None:
        self._webhook_secret = webhook_secret or api_key
        self._http = _http.Vendor(
            NAME, base_url=base_url, client=client,
            headers={"Authorization": f"Bearer {api_key}"}, secrets=(api_key, webhook_secret),
            max_retries=max_retries, backoff_s=backoff_s, sleep=sleep,
        )  # fmt: skip
        self.agent_id = agent_id
        self.agent_version = agent_version
        self.from_number = from_number
        self.tolerance = tolerance

    def __repr__(self) -> str:  # never show the key
        return f"RetellProvider(agent_id={self.agent_id!r}, from_number={self.from_number!r})"

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Create an outbound phone call with the agent's dynamic variables."""
        from_number = request.from_number or self.from_number
        if not from_number:
            raise PermanentProviderError("retell: no from_number configured")
        require_caller_id("retell", request, from_number)
        body: dict[str, Any] = {
            "from_number": from_number,
            "to_number": request.to_number,
            "metadata": {**request.metadata, "attempt_id": request.attempt_id},
            "retell_llm_dynamic_variables": {k: str(v) for k, v in request.variables.items()},
            "agent_override": agent_override(request),
        }
        agent_id = request.agent_id or self.agent_id
        if agent_id:
            body["override_agent_id"] = agent_id
        version = request.agent_version or self.agent_version
        if version:
            body["override_agent_version"] = int(version) if version.isdigit() else version
        # Retell takes no idempotency key: a create that may have been received is never
        # resent (CallOutcomeUnknown); the attempt is resolved through find_call.
        response = await self._http.send(
            "POST", "/v2/create-phone-call", json=body, classify=_classify, idempotent=False
        )
        data = response.json()
        return PlacedCall(
            provider_call_id=str(data["call_id"]), status=str(data.get("call_status", "queued"))
        )

    async def current_agent_version(self, agent_id: str) -> str:
        """The version a campaign starting now should keep: the newest **published**
        version of the agent (``GET /get-agent-versions/{agent_id}``, retell-python-sdk
        5.60 ``agent.get_versions`` -> ``List[AgentResponse]`` with ``version`` and
        ``is_published``), else - nothing published yet - its newest version."""
        response = await self._http.send("GET", f"/get-agent-versions/{agent_id}")
        data = response.json()
        versions = [
            (bool(v.get("is_published")), int(v["version"]))
            for v in (data if isinstance(data, list) else [])
            if isinstance(v, dict)
            and isinstance(v.get("version"), int | float)
            and not isinstance(v.get("version"), bool)
        ]
        if not versions:
            raise PermanentProviderError(f"retell: agent {agent_id} has no versions")
        published = [n for is_published, n in versions if is_published]
        return str(max(published or [n for _, n in versions]))

    async def hangup(self, provider_call_id: str) -> None:
        """``POST /v2/stop-call/{call_id}``; a call that already ended (404) is not an error."""
        try:
            await self._http.send("POST", f"/v2/stop-call/{provider_call_id}")
        except PermanentProviderError as exc:
            if exc.status_code not in (400, 404):
                raise

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The call's state from ``GET /v2/get-call``; None when Retell does not know it."""
        try:
            response = await self._http.send("GET", f"/v2/get-call/{provider_call_id}")
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        return _event_for_state(response.json())

    async def find_call(
        self, attempt_id: str, *, to_number: str, since: datetime
    ) -> CallEvent | None:
        """``POST /v3/list-calls`` for calls to ``to_number`` since ``since`` whose metadata
        carries ``attempt_id``. An empty answer proves no such call exists."""
        since_ms = int(since.timestamp() * 1000) - 60_000  # the provider's clock may lag
        body = {
            "filter_criteria": {
                "metadata": [
                    {"key": "attempt_id", "op": "eq", "type": "string", "value": attempt_id}
                ],
                "to_number": {"op": "eq", "type": "string", "value": to_number},
                "start_timestamp": {"op": "ge", "type": "number", "value": since_ms},
            },
            "limit": 10,
            "sort_order": "descending",
        }
        response = await self._http.send("POST", "/v3/list-calls", json=body)
        data = response.json()
        items = data.get("items") if isinstance(data, dict) else data
        for call in items or []:
            meta = call.get("metadata") if isinstance(call, dict) else None
            # Filtered by Retell already; checked again, a filter ignored would match all.
            if isinstance(meta, dict) and meta.get("attempt_id") == attempt_id:
                return _event_for_state(call)
        return None

    @staticmethod
    def claimed_ids(body: bytes, url: str) -> tuple[str | None, str | None]:
        """(attempt id, call id) a webhook names - unverified, to find whose key checks it."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None, None
        call = payload.get("call") if isinstance(payload, dict) else None
        if not isinstance(call, dict):
            return None, None
        meta = call.get("metadata")
        attempt = meta.get("attempt_id") if isinstance(meta, dict) else None
        call_id = call.get("call_id")
        return (
            attempt if isinstance(attempt, str) else None,
            call_id if isinstance(call_id, str) else None,
        )

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify ``x-retell-signature`` and normalise the event."""
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_signature(
            body,
            lowered.get(SIGNATURE_HEADER),
            self._webhook_secret,
            now=now,
            tolerance=self.tolerance,
        )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise WebhookVerificationError("body is not JSON") from exc
        event = payload.get("event") if isinstance(payload, dict) else None
        call = payload.get("call") if isinstance(payload, dict) else None
        if event not in ("call_started", "call_ended", "call_analyzed") or not isinstance(
            call, dict
        ):
            # Other Retell events (transcript updates, transfers) do not move our attempt.
            return []
        return [event_from_call(str(event), call)]


def _event_for_state(call: Mapping[str, Any]) -> CallEvent:
    status = call.get("call_status")
    if status in ("registered", "ongoing"):
        return event_from_call("call_started", call)
    event = "call_analyzed" if call.get("call_analysis") else "call_ended"
    return event_from_call(event, call)
