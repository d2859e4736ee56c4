"""Vapi adapter (https://docs.vapi.ai; shapes as in VapiAI server-sdk-python 1.11
``calls/client.py``, ``types/call.py``, ``types/assistant_overrides.py``,
``types/server_message_end_of_call_report.py``, ``types/server_message_status_update.py``,
``types/call_ended_reason.py``; HMAC credential as Vapi's ``HMACAuthenticationPlan``).

* Create: ``POST /call`` with ``phoneNumberId`` (the number's id in Vapi: an imported
  Twilio/Vonage/Telnyx number or a SIP trunk), ``customer.number``, ``assistantId`` and
  ``assistantOverrides`` = ``variableValues`` (the script variables), ``metadata`` (our
  attempt id, echoed in every server message), ``maxDurationSeconds``,
  ``monitorPlan.controlEnabled`` (so the call can be ended) and ``server.url``.
* Assistant version: ``assistantVersion`` on ``POST /call`` ("the assistant version to
  use for this call. Supported only with direct ``assistantId``. Omit to follow the
  latest version", ``CreateCallDTO`` in Vapi's OpenAPI, github.com/VapiAI/docs
  ``fern/apis/api/openapi.json`` of 2026-08-20); a batch is pinned to the assistant's
  ``latestVersion`` label (``GET /assistant/{id}``, e.g. ``v3``; null while the org is not
  on versioning or nothing is published, then calls follow the assistant as it is).
* Caller ID: ``GET /phone-number/{id}`` gives the number behind ``phoneNumberId``
  (``number``, as the SDK's ``phone_numbers/raw_client.py`` ``get`` and
  ``types/twilio_phone_number.py``); read (and cached) only when a caller-ID rule applies.
* State: ``GET /call/{id}``; a lost create is looked up with ``GET /call?phoneNumberId=
  &createdAtGt=`` and matched on the echoed metadata.
* Hangup: ``POST <call.monitor.controlUrl>`` ``{"type": "end-call"}``.
* Server messages ``status-update`` and ``end-of-call-report``, authenticated by the
  webhook credential: HMAC (``x-signature`` = hex HMAC-SHA256(secret, "<x-timestamp>.<body>"),
  the plan's defaults) or a bearer token (``Authorization: Bearer <secret>``).

``endedReason`` families -> outcome: customer/assistant ended, max duration, silence,
forwarded, provider "completed-call" -> completed; ``voicemail`` -> voicemail;
``customer-did-not-answer`` -> no_answer; ``customer-busy`` -> busy;
``twilio-reported-customer-misdialed`` -> invalid_number; ``pipeline-error-*``,
``call.start.error-*``, ``call.in-progress.error-*``, ``*-failed-to-connect-call`` and
the rest -> failed. The concurrency-limit start error spends no attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from cachetools import TTLCache

from dialer.job.states import Outcome
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    PlacedCall,
    ProviderBusy,
    ProviderError,
    WebhookVerificationError,
    e164_of,
    require_caller_id,
)
from dialer.telephony.providers import _http

NAME = "vapi"
BASE_URL = "https://api.vapi.ai"
SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"
AUTH_MODES = ("hmac", "bearer")
# A phone-number id names one number for its life: its E.164 form is read once an hour.
NUMBER_CACHE_SECONDS = 3600.0

COMPLETED_REASONS = frozenset(
    {
        "customer-ended-call",
        "assistant-ended-call",
        "assistant-said-end-call-phrase",
        "assistant-ended-call-with-hangup-task",
        "assistant-ended-call-after-message-spoken",
        "assistant-forwarded-call",
        "exceeded-max-duration",
        "silence-timed-out",
        "manually-canceled",
        "customer-ended-call-before-warm-transfer",
        "customer-ended-call-after-warm-transfer-attempt",
        "customer-ended-call-during-transfer",
        "call.forwarding.operator-busy",
        "call.in-progress.twilio-completed-call",
        "call.in-progress.sip-completed-call",
        "vonage-completed",
    }
)
REASON_OUTCOMES: dict[str, Outcome] = {
    "voicemail": Outcome.VOICEMAIL,
    "customer-did-not-answer": Outcome.NO_ANSWER,
    "customer-busy": Outcome.BUSY,
    "twilio-reported-customer-misdialed": Outcome.INVALID_NUMBER,
}
NOT_DIALED = frozenset({"call.start.error-subscription-concurrency-limit-reached"})


def outcome_for(reason: str) -> Outcome:
    """Our outcome for a Vapi ``endedReason``."""
    if reason in COMPLETED_REASONS:
        return Outcome.COMPLETED
    return REASON_OUTCOMES.get(reason, Outcome.FAILED)


def sign(body: bytes, secret: str, timestamp: str) -> str:
    """The ``x-signature`` of a server message sent with ``x-timestamp: timestamp``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _timestamp(value: str | float | None) -> datetime | None:
    """Vapi timestamps are Unix milliseconds; seconds accepted too."""
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0 or number > 1e14:
        return None
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _attempt_of(call: Mapping[str, Any]) -> str | None:
    overrides = call.get("assistantOverrides") or {}
    meta = overrides.get("metadata") if isinstance(overrides, dict) else None
    meta = meta or call.get("metadata")
    attempt = meta.get("attempt_id") if isinstance(meta, dict) else None
    return attempt if isinstance(attempt, str) else None


def event_from_call(call: Mapping[str, Any], message: Mapping[str, Any] | None = None) -> CallEvent:
    """Normalise a Vapi Call (``GET /call/{id}``) or a server message about one."""
    msg = message or {}
    call_id = str(call.get("id") or "")
    kind = str(msg.get("type") or "call")
    status = str(msg.get("status") or call.get("status") or "")
    reason = str(msg.get("endedReason") or call.get("endedReason") or "")
    started_at = _iso(msg.get("startedAt") or call.get("startedAt"))
    ended_at = _iso(msg.get("endedAt") or call.get("endedAt"))
    monitor = call.get("monitor") or {}
    control = monitor.get("controlUrl") if isinstance(monitor, dict) else None
    common: dict[str, Any] = {
        "provider": NAME,
        "provider_call_id": call_id,
        "attempt_id": _attempt_of(call),
        "other_ids": {"control_url": control} if isinstance(control, str) else {},
        "raw": dict(msg or call),
    }
    final = kind == "end-of-call-report" or (status == "ended" and kind != "status-update")
    if not final:
        return CallEvent(
            event_key=f"{NAME}:{call_id}:{kind}:{status}", final=False, status=status,
            started_at=started_at,
            answered_at=started_at if status == "in-progress" else None, **common,
        )  # fmt: skip
    outcome = outcome_for(reason)
    duration = msg.get("durationSeconds") or call.get("durationSeconds")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        duration_s = math.ceil(duration)
    elif started_at and ended_at:
        duration_s = max(math.ceil((ended_at - started_at).total_seconds()), 0)
    else:
        duration_s = 0
    if outcome not in (Outcome.COMPLETED, Outcome.VOICEMAIL):
        duration_s = 0
    artifact = msg.get("artifact") or call.get("artifact") or {}
    analysis = msg.get("analysis") or call.get("analysis") or {}
    if not isinstance(artifact, dict):
        artifact = {}
    if not isinstance(analysis, dict):
        analysis = {}
    structured = analysis.get("structuredData") or {}
    # As reported; the business result is read by dialer.job.outcomes from the raw message.
    extracted: dict[str, Any] = dict(structured) if isinstance(structured, dict) else {}
    cost = msg.get("cost", call.get("cost"))
    variables = artifact.get("variableValues") or {}
    answered = outcome == Outcome.COMPLETED
    return CallEvent(
        # One key for the final state, however it is learned (report, get or find).
        event_key=f"{NAME}:{call_id}:final",
        final=True,
        status=status or "ended",
        outcome=str(outcome),
        duration_s=duration_s,
        started_at=started_at,
        answered_at=started_at if answered else None,
        ended_at=ended_at,
        transcript=artifact.get("transcript") or msg.get("transcript"),
        summary=analysis.get("summary") or msg.get("summary"),
        extracted=extracted if answered else {},
        error=reason if outcome in (Outcome.FAILED, Outcome.INVALID_NUMBER) else None,
        recording_url=artifact.get("recordingUrl") or msg.get("recordingUrl"),
        provider_cost=(
            {"amount": cost, "unit": "usd"}
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else {}
        ),
        collected_variables=dict(variables) if isinstance(variables, dict) else {},
        spend_attempt=reason not in NOT_DIALED,
        **common,
    )


def _classify(response: httpx.Response) -> ProviderError:
    error = _http.classify_default(response)
    text = _http.error_text(response).lower()
    if response.status_code == 429 or "concurrency" in text:
        return ProviderBusy(str(error), status_code=response.status_code)
    if response.status_code == 400 and ("customer.number" in text or "e.164" in text):
        return InvalidNumberError(str(error), status_code=response.status_code)
    return error


class VapiProvider:
    """Places calls through Vapi and reads its authenticated server messages."""

    name = NAME
    supports_hangup = True

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None,
        client: httpx.AsyncClient | None = None,
        base_url: str = BASE_URL,
        assistant_id: str | None = None,
        assistant_version: str | None = None,
        phone_number_id: str | None = None,
        webhook_auth: str = "hmac",
        tolerance: timedelta = timedelta(minutes=5),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        sleep: _http.Sleep = asyncio.sleep,
    ) -> None:
        if webhook_auth not in AUTH_MODES:
            raise PermanentProviderError(f"vapi: webhook_auth must be one of {list(AUTH_MODES)}")
        self._webhook_secret = webhook_secret
        self._http = _http.Vendor(
            NAME, base_url=base_url, client=client,
            headers={"Authorization": f"Bearer {api_key}"}, secrets=(api_key, webhook_secret),
            max_retries=max_retries, backoff_s=backoff_s, sleep=sleep,
        )  # fmt: skip
        self.assistant_id = assistant_id
        # The account's chosen version label (option ``assistant_version``): batches are
        # pinned to it instead of the assistant's latest.
        self.agent_version = assistant_version
        self.phone_number_id = phone_number_id
        self.webhook_auth = webhook_auth
        self.tolerance = tolerance
        self._numbers: TTLCache[str, str] = TTLCache(64, NUMBER_CACHE_SECONDS)

    def __repr__(self) -> str:  # never show the key
        return f"VapiProvider(assistant_id={self.assistant_id!r})"

    @property
    def agent_id(self) -> str | None:
        """The configured assistant (the router pins batches by agent id)."""
        return self.assistant_id

    async def current_agent_version(self, assistant_id: str) -> str:
        """The version label a campaign starting now should keep: the assistant's
        ``latestVersion`` (``GET /assistant/{id}``); "" when Vapi has none (the org is not
        on assistant versioning, or the assistant was never published under it)."""
        response = await self._http.send("GET", f"/assistant/{quote(assistant_id, safe='')}")
        data = response.json()
        latest = data.get("latestVersion") if isinstance(data, dict) else None
        return latest if isinstance(latest, str) and latest else ""

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """``POST /call`` to the customer with the assistant's variables and our metadata."""
        assistant_id = request.agent_id or self.assistant_id
        phone_number_id = request.from_number_id or self.phone_number_id
        if not assistant_id or not phone_number_id:
            raise PermanentProviderError(
                "vapi: configure assistant_id and phone_number_id (the number's id in Vapi)"
            )
        if request.caller_id_prefix:
            require_caller_id(NAME, request, await self.phone_number(phone_number_id))
        overrides: dict[str, Any] = {
            "variableValues": {k: str(v) for k, v in request.variables.items()},
            "metadata": {**request.metadata, "attempt_id": request.attempt_id},
            # Vapi accepts 10..43,200 seconds.
            "maxDurationSeconds": min(max(request.max_duration_s, 10), 43200),
            "monitorPlan": {"controlEnabled": True},
        }
        if request.voicemail_action == "message" and request.voicemail_message:
            overrides["voicemailMessage"] = request.voicemail_message
        if request.webhook_url:
            overrides["server"] = {"url": request.webhook_url}
        body: dict[str, Any] = {
            "assistantId": assistant_id,
            "phoneNumberId": phone_number_id,
            "customer": {"number": request.to_number},
            "assistantOverrides": overrides,
        }
        if request.agent_version:
            body["assistantVersion"] = request.agent_version  # the batch's pinned version
        response = await self._http.send(
            "POST", "/call", json=body, classify=_classify, idempotent=False
        )
        data = response.json()
        monitor = data.get("monitor") or {}
        control = monitor.get("controlUrl") if isinstance(monitor, dict) else None
        return PlacedCall(
            provider_call_id=str(data["id"]),
            status=str(data.get("status") or "queued"),
            other_ids={"control_url": control} if isinstance(control, str) else {},
        )

    async def phone_number(self, phone_number_id: str) -> str:
        """The E.164 number behind ``phone_number_id`` (``GET /phone-number/{id}``, cached):
        what the call presents as its caller ID. PermanentProviderError (404) when Vapi
        has no such number."""
        hit = self._numbers.get(phone_number_id)
        if hit is not None:
            return hit
        response = await self._http.send("GET", f"/phone-number/{quote(phone_number_id, safe='')}")
        data = response.json()
        number = e164_of(
            NAME, phone_number_id, data.get("number") if isinstance(data, dict) else None
        )
        self._numbers[phone_number_id] = number
        return number

    async def hangup(self, provider_call_id: str) -> None:
        """End the call through its control URL (read from the call); ended calls are fine."""
        call = await self._get(provider_call_id)
        if call is None or call.get("status") == "ended":
            return None
        monitor = call.get("monitor") or {}
        control = monitor.get("controlUrl") if isinstance(monitor, dict) else None
        if not isinstance(control, str):
            raise PermanentProviderError("vapi: the call has no control URL (monitorPlan)")
        try:
            # The control URL is the call's own capability: no API key goes to it.
            await self._http.send("POST", control, json={"type": "end-call"}, authenticated=False)
        except PermanentProviderError as exc:
            if exc.status_code not in (400, 404):
                raise

    async def _get(self, call_id: str) -> dict[str, Any] | None:
        try:
            response = await self._http.send("GET", f"/call/{call_id}")
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        data = response.json()
        return data if isinstance(data, dict) else None

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """``GET /call/{id}``; None when Vapi does not know the call."""
        call = await self._get(provider_call_id)
        return event_from_call(call) if call is not None else None

    async def find_call(
        self, attempt_id: str, *, to_number: str, since: datetime
    ) -> CallEvent | None:
        """Calls from our number created since ``since`` whose metadata is the attempt."""
        params: dict[str, Any] = {
            "createdAtGt": (since - timedelta(minutes=1)).isoformat(),
            "limit": 100,
        }
        if self.phone_number_id:
            params["phoneNumberId"] = self.phone_number_id
        response = await self._http.send("GET", "/call", params=params)
        calls = response.json()
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and _attempt_of(call) == attempt_id:
                return event_from_call(call)
        return None

    @staticmethod
    def claimed_ids(body: bytes, url: str) -> tuple[str | None, str | None]:
        """(attempt id, call id) a server message names - unverified."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None, None
        msg = payload.get("message") if isinstance(payload, dict) else None
        call = msg.get("call") if isinstance(msg, dict) else None
        if not isinstance(call, dict):
            return None, None
        call_id = call.get("id")
        return _attempt_of(call), call_id if isinstance(call_id, str) else None

    def _verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> datetime | None:
        if not self._webhook_secret:
            raise WebhookVerificationError("no Vapi webhook credential configured")
        if self.webhook_auth == "bearer":
            given = headers.get("authorization", "")
            token = given[7:] if given.lower().startswith("bearer ") else ""
            if not token or not hmac.compare_digest(token, self._webhook_secret):
                raise WebhookVerificationError("bearer credential does not match")
            return None  # the message's own timestamp is checked by the caller
        signature = headers.get(SIGNATURE_HEADER)
        stamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not stamp:
            raise WebhookVerificationError("missing x-signature / x-timestamp headers")
        expected = sign(body, self._webhook_secret, stamp.strip())
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise WebhookVerificationError("signature does not match")
        sent_at = _timestamp(stamp.strip())
        if sent_at is None:
            raise WebhookVerificationError("malformed x-timestamp header")
        return sent_at

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Authenticate the server message and normalise status updates and reports."""
        lowered = {k.lower(): v for k, v in headers.items()}
        sent_at = self._verify(body, lowered, now)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise WebhookVerificationError("body is not JSON") from exc
        msg = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(msg, dict):
            return []
        sent_at = sent_at or _timestamp(msg.get("timestamp"))
        if sent_at is None or abs(now - sent_at) > self.tolerance:
            # A bearer token proves who sent it, not when: the message's timestamp does.
            raise WebhookVerificationError("message timestamp missing or outside the window")
        call = msg.get("call")
        if msg.get("type") not in ("status-update", "end-of-call-report") or not isinstance(
            call, dict
        ):
            return []
        return [event_from_call(call, msg)]
