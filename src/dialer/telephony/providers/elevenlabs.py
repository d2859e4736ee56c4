"""ElevenLabs Agents adapter (https://elevenlabs.io/docs/conversational-ai; shapes as in
elevenlabs-python 2.59 ``conversational_ai/twilio/raw_client.py``,
``conversational_ai/sip_trunk/raw_client.py``, ``conversational_ai/conversations/raw_client.py``,
``types/get_conversation_response_model.py`` and ``webhooks_custom.py``).

* Create: ``POST /v1/convai/twilio/outbound-call`` (a Twilio number imported into
  ElevenLabs) or ``POST /v1/convai/sip-trunk/outbound-call`` (a SIP trunk number) with
  ``agent_id``, ``agent_phone_number_id`` (the provider's phone-number id, not E.164),
  ``to_number`` and ``conversation_initiation_client_data`` = ``dynamic_variables`` (the
  script variables plus ``dialer_attempt_id``) and ``user_id`` = our attempt id.
  The answer carries the ``conversation_id`` (our provider call id) and the telephony
  leg's id (``callSid`` / ``sip_call_id``), kept as a second id.
* Caller ID: ``GET /v1/convai/phone-numbers/{phone_number_id}`` gives the number behind
  ``agent_phone_number_id`` (``phone_number``, as ``conversational_ai/phone_numbers/
  raw_client.py`` ``get`` -> ``types/phone_numbers_get_response.py``); read (and cached)
  only when a caller-ID rule applies.
* State: ``GET /v1/convai/conversations/{conversation_id}`` (``initiated``,
  ``in-progress``, ``processing``, ``done``, ``failed``); a lost create is looked up with
  ``GET /v1/convai/conversations?agent_id=&user_id=<attempt id>&call_start_after_unix=``.
* Webhooks: ``post_call_transcription`` (transcript, analysis, metadata) and
  ``call_initiation_failure`` (busy / no-answer / unknown), signed with
  ``ElevenLabs-Signature: t=<unix s>,v0=<hex HMAC-SHA256(webhook secret, "<t>.<body>")>``
  - the workspace's webhook secret, not the API key. The SDK accepts 30 minutes of age.
* Hangup: the ElevenLabs API has no call that ends a conversation (elevenlabs-python
  2.59: ``twilio`` has ``outbound_call`` / ``register_call``, ``sip_trunk`` only
  ``outbound_call``, ``conversations`` get / list / delete; deleting a conversation
  deletes its record, it does not end the call), and no per-call maximum duration
  (``conversation_config_override.conversation`` holds only ``text_only``; the limit
  is the agent's ``conversation_config.conversation.max_duration_seconds``). So:
  with the Twilio credentials of an imported Twilio number, ``hangup`` ends the
  conversation's Twilio call (``metadata.phone_call.call_sid``) through Twilio's Calls
  API; without them no call is placed whose agent may talk longer than the job's limit
  (``GET /v1/convai/agents/{agent_id}``, checked before dialing).

Outcomes: ``call_initiation_failure`` busy -> busy, no-answer -> no_answer, otherwise
failed; ``failed`` conversations -> failed; ``done`` -> voicemail when the termination
reason says voicemail, else completed (billed ``call_duration_secs``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
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
    ProviderError,
    WebhookVerificationError,
    e164_of,
    require_caller_id,
)
from dialer.telephony.providers import _http

NAME = "elevenlabs"
NUMBER_CACHE_SECONDS = 3600.0
BASE_URL = "https://api.elevenlabs.io"
TWILIO_BASE_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "elevenlabs-signature"
ATTEMPT_VARIABLE = "dialer_attempt_id"
TELEPHONY = {"twilio": "/v1/convai/twilio/outbound-call",
             "sip_trunk": "/v1/convai/sip-trunk/outbound-call"}  # fmt: skip
RUNNING = frozenset({"initiated", "in-progress", "processing"})
FAILURE_OUTCOMES: dict[str, Outcome] = {"busy": Outcome.BUSY, "no-answer": Outcome.NO_ANSWER}


def sign(body: bytes, secret: str, timestamp_s: int) -> str:
    """The ``ElevenLabs-Signature`` value for ``body`` sent at ``timestamp_s``."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v0={mac.hexdigest()}"


def verify_signature(
    body: bytes, header: str | None, secret: str, *, now: datetime, tolerance: timedelta
) -> None:
    """Raise WebhookVerificationError unless ``header`` signs ``body`` recently."""
    if not header:
        raise WebhookVerificationError("missing ElevenLabs-Signature header")
    parts = dict(p.split("=", 1) for p in header.strip().split(",") if "=" in p)
    timestamp, given = parts.get("t", ""), parts.get("v0", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not given:
        raise WebhookVerificationError("malformed ElevenLabs-Signature header")
    expected = sign(body, secret, int(timestamp)).split(",v0=", 1)[1]
    if not hmac.compare_digest(expected, given.lower()):
        raise WebhookVerificationError("signature does not match")
    sent_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    if abs(now - sent_at) > tolerance:
        raise WebhookVerificationError("signature timestamp outside the accepted window")


def _secs(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _transcript(turns: Any) -> str | None:
    if not isinstance(turns, list):
        return None
    lines = [
        f"{'Agent' if t.get('role') == 'agent' else 'User'}: {t['message']}"
        for t in turns
        if isinstance(t, dict) and isinstance(t.get("message"), str) and t["message"]
    ]
    return "\n".join(lines) or None


def _collected(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """``data_collection_results`` ({id: {value, rationale...}}) as {id: value}."""
    results = analysis.get("data_collection_results") or {}
    if not isinstance(results, dict):
        return {}
    return {
        str(k): v.get("value")
        for k, v in results.items()
        if isinstance(v, dict) and v.get("value") is not None
    }


def _attempt_of(data: Mapping[str, Any]) -> str | None:
    client_data = data.get("conversation_initiation_client_data") or {}
    variables = client_data.get("dynamic_variables") if isinstance(client_data, dict) else None
    attempt = variables.get(ATTEMPT_VARIABLE) if isinstance(variables, dict) else None
    attempt = attempt or data.get("user_id")
    return attempt if isinstance(attempt, str) else None


def _other_ids(metadata: Mapping[str, Any]) -> dict[str, str]:
    phone = metadata.get("phone_call") or {}
    if not isinstance(phone, dict):
        return {}
    return {k: str(phone[k]) for k in ("call_sid", "sip_call_id") if phone.get(k)}


def event_from_conversation(data: Mapping[str, Any], *, base_url: str = BASE_URL) -> CallEvent:
    """Normalise a conversation (post-call webhook ``data`` or get-conversation body)."""
    conversation_id = str(data.get("conversation_id") or "")
    status = str(data.get("status") or "")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    started_at = _secs(metadata.get("start_time_unix_secs"))
    common: dict[str, Any] = {
        "provider": NAME,
        "provider_call_id": conversation_id,
        "attempt_id": _attempt_of(data),
        "started_at": started_at,
        "other_ids": _other_ids(metadata),
        "raw": dict(data),
    }
    if status in RUNNING:
        return CallEvent(
            event_key=f"{NAME}:{conversation_id}:{status}", final=False, status=status,
            answered_at=started_at if status != "initiated" else None, **common,
        )  # fmt: skip
    duration = metadata.get("call_duration_secs")
    duration_s = int(duration) if isinstance(duration, int | float) else 0
    reason = str(metadata.get("termination_reason") or "")
    if status == "failed":
        outcome = Outcome.FAILED
    elif "voicemail" in reason.lower():
        outcome = Outcome.VOICEMAIL
    else:
        outcome = Outcome.COMPLETED
    analysis = data.get("analysis") or {}
    if not isinstance(analysis, dict):
        analysis = {}
    collected = _collected(analysis)
    # As reported; the business result is read by dialer.job.outcomes from the raw data.
    extracted: dict[str, Any] = dict(collected)
    if "call_successful" in analysis:
        extracted["call_successful"] = analysis["call_successful"]
    cost = metadata.get("cost")
    answered = outcome == Outcome.COMPLETED
    ended_at = started_at + timedelta(seconds=duration_s) if started_at else None
    return CallEvent(
        # One key for the final state, however it is learned (webhook or get/find).
        event_key=f"{NAME}:{conversation_id}:final",
        final=True,
        status=status,
        outcome=str(outcome),
        duration_s=duration_s if outcome != Outcome.FAILED else 0,
        answered_at=started_at if answered else None,
        ended_at=ended_at,
        transcript=_transcript(data.get("transcript")),
        summary=analysis.get("transcript_summary") if isinstance(analysis, dict) else None,
        extracted=extracted if answered else {},
        error=(reason or "conversation failed") if outcome == Outcome.FAILED else None,
        recording_url=(
            f"{base_url}/v1/convai/conversations/{conversation_id}/audio"
            if data.get("has_audio")
            else None
        ),
        provider_cost=(
            {"amount": cost, "unit": "elevenlabs_credits"}
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else {}
        ),
        collected_variables=collected,
        **common,
    )


def event_from_failure(data: Mapping[str, Any]) -> CallEvent:
    """``call_initiation_failure``: the phone leg never connected."""
    conversation_id = str(data.get("conversation_id") or "")
    reason = str(data.get("failure_reason") or "unknown")
    outcome = FAILURE_OUTCOMES.get(reason, Outcome.FAILED)
    metadata = data.get("metadata") or {}
    body = metadata.get("body") if isinstance(metadata, dict) else None
    sid = body.get("CallSid") if isinstance(body, dict) else None
    return CallEvent(
        provider=NAME,
        provider_call_id=conversation_id,
        event_key=f"{NAME}:{conversation_id}:final",
        attempt_id=_attempt_of(data),
        final=True,
        status="initiation_failed",
        outcome=str(outcome),
        error=f"call initiation failed: {reason}" if outcome == Outcome.FAILED else None,
        other_ids={"call_sid": str(sid)} if sid else {},
        raw=dict(data),
    )


def _classify(response: httpx.Response) -> ProviderError:
    error = _http.classify_default(response)
    text = _http.error_text(response).lower()
    if response.status_code in (400, 422) and ("to_number" in text or "phone number" in text):
        return InvalidNumberError(str(error), status_code=response.status_code)
    return error


class ElevenLabsProvider:
    """Places calls through ElevenLabs Agents and reads its signed post-call webhooks."""

    name = NAME

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None,
        client: httpx.AsyncClient | None = None,
        base_url: str = BASE_URL,
        agent_id: str | None = None,
        branch_id: str | None = None,
        phone_number_id: str | None = None,
        telephony: str = "twilio",
        tolerance: timedelta = timedelta(minutes=30),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        sleep: _http.Sleep = asyncio.sleep,
        twilio_account_sid: str | None = None,
        twilio_auth_token: str | None = None,
        twilio_base_url: str = TWILIO_BASE_URL,
    ) -> None:
        if telephony not in TELEPHONY:
            raise PermanentProviderError(f"elevenlabs: telephony must be one of {list(TELEPHONY)}")
        self._webhook_secret = webhook_secret
        self._http = _http.Vendor(
            NAME, base_url=base_url, client=client, headers={"xi-api-key": api_key},
            secrets=(api_key, webhook_secret), max_retries=max_retries, backoff_s=backoff_s,
            sleep=sleep,
        )  # fmt: skip
        self.agent_id = agent_id
        self.branch_id = branch_id
        self.phone_number_id = phone_number_id
        self.telephony = telephony
        self.tolerance = tolerance
        # The imported number's Twilio account: the only way to end the call.
        self._twilio = (
            _http.Vendor(
                "twilio",
                base_url=f"{twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{twilio_account_sid}/Calls",
                client=self._http.client, auth=httpx.BasicAuth(twilio_account_sid, twilio_auth_token),
                secrets=(twilio_auth_token,), max_retries=max_retries, backoff_s=backoff_s,
                sleep=sleep,
            )
            if telephony == "twilio" and twilio_account_sid and twilio_auth_token
            else None
        )  # fmt: skip
        self.supports_hangup = self._twilio is not None
        self._agent_limits: dict[str, int | None] = {}  # agent id -> max_duration_seconds
        # A phone-number id names one number for its life: its E.164 form, read once an hour.
        self._numbers: TTLCache[str, str] = TTLCache(64, NUMBER_CACHE_SECONDS)

    def __repr__(self) -> str:  # never show the key
        return f"ElevenLabsProvider(agent_id={self.agent_id!r}, telephony={self.telephony!r})"

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Start an outbound conversation through the imported Twilio number or SIP trunk."""
        agent_id = request.agent_id or self.agent_id
        phone_number_id = request.from_number_id or self.phone_number_id
        if not agent_id or not phone_number_id:
            raise PermanentProviderError(
                "elevenlabs: configure agent_id and phone_number_id (the number's id in "
                "ElevenLabs, not its E.164 form)"
            )
        if request.caller_id_prefix:
            require_caller_id(NAME, request, await self.phone_number(phone_number_id))
        branch = request.agent_branch or self.branch_id
        if self._twilio is None:
            await self._check_duration_bound(agent_id, request.max_duration_s, branch)
        body: dict[str, Any] = {
            "agent_id": agent_id,
            "agent_phone_number_id": phone_number_id,
            "to_number": request.to_number,
            "conversation_initiation_client_data": {
                "user_id": request.attempt_id,
                "dynamic_variables": {
                    **{k: str(v) for k, v in request.variables.items()},
                    ATTEMPT_VARIABLE: request.attempt_id,
                },
            },
        }
        if branch:
            # The agent branch the conversation runs (elevenlabs-python 2.59
            # ConversationInitiationClientDataRequestInput.branch_id).
            body["conversation_initiation_client_data"]["branch_id"] = branch
        if request.ring_timeout_s:
            body["telephony_call_config"] = {"ringing_timeout_secs": request.ring_timeout_s}
        response = await self._http.send(
            "POST", TELEPHONY[self.telephony], json=body, classify=_classify, idempotent=False
        )
        data = response.json()
        conversation_id = data.get("conversation_id")
        if not data.get("success") or not conversation_id:
            # ElevenLabs answered but did not start the call (its message says why).
            raise PermanentProviderError(
                f"elevenlabs: {data.get('message') or 'outbound call not started'}"
            )
        other = {
            k: str(data[src])
            for k, src in (("call_sid", "callSid"), ("sip_call_id", "sip_call_id"))
            if data.get(src)
        }
        return PlacedCall(
            provider_call_id=str(conversation_id), status="initiated", other_ids=other
        )

    async def phone_number(self, phone_number_id: str) -> str:
        """The E.164 number behind ``phone_number_id`` (``GET /v1/convai/phone-numbers/
        {id}``, cached): what the call presents as its caller ID. PermanentProviderError
        (404/422) when ElevenLabs has no such number."""
        hit = self._numbers.get(phone_number_id)
        if hit is not None:
            return hit
        response = await self._http.send(
            "GET", f"/v1/convai/phone-numbers/{quote(phone_number_id, safe='')}"
        )
        data = response.json()
        value = data.get("phone_number") if isinstance(data, dict) else None
        number = e164_of(NAME, phone_number_id, value)
        self._numbers[phone_number_id] = number
        return number

    async def _check_duration_bound(
        self, agent_id: str, limit_s: int, branch: str | None = None
    ) -> None:
        """Refuse, before dialing, a call nothing could end in time: without a way to hang
        up, the agent's own maximum conversation duration (on the call's branch) must be
        within the job's."""
        key = f"{agent_id}@{branch}" if branch else agent_id
        if key not in self._agent_limits:
            params = {"branch_id": branch} if branch else None
            response = await self._http.send("GET", f"/v1/convai/agents/{agent_id}", params=params)
            data = response.json()
            config = data.get("conversation_config") if isinstance(data, dict) else None
            conversation = config.get("conversation") if isinstance(config, dict) else None
            value = (
                conversation.get("max_duration_seconds") if isinstance(conversation, dict) else None
            )
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            self._agent_limits[key] = value if ok else None
        agent_limit = self._agent_limits[key]
        if agent_limit is None or agent_limit > limit_s:
            said = f"{agent_limit} s" if agent_limit is not None else "no limit we can read"
            raise PermanentProviderError(
                f"elevenlabs: agent {agent_id} lets a conversation run {said} and this call "
                f"may last {limit_s} s; ElevenLabs has no API to end a call, so set the "
                f"agent's maximum conversation duration to at most {limit_s} s, or store the "
                "imported number's twilio_account_sid and twilio_auth_token so dialer can "
                "hang up through Twilio"
            )

    async def hangup(self, provider_call_id: str) -> None:
        """End the conversation's Twilio call (``Status=completed`` on Twilio's Calls API;
        its CallSid from the conversation's ``metadata.phone_call``). Without the Twilio
        credentials there is no way to end it: a no-op (``supports_hangup`` is False and
        the agent's maximum duration, checked at dialing, bounds the call)."""
        if self._twilio is None:
            return None
        try:
            response = await self._http.send("GET", f"/v1/convai/conversations/{provider_call_id}")
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        data = response.json()
        if not isinstance(data, dict) or data.get("status") not in RUNNING:
            return None  # already over
        metadata = data.get("metadata")
        sid = _other_ids(metadata if isinstance(metadata, dict) else {}).get("call_sid")
        if not sid:
            raise PermanentProviderError("elevenlabs: the conversation has no Twilio CallSid yet")
        try:
            await self._twilio.send("POST", f"/{sid}.json", data={"Status": "completed"})
        except PermanentProviderError as exc:
            if exc.status_code not in (400, 404):
                raise

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """``GET /v1/convai/conversations/{id}``; None when ElevenLabs does not know it."""
        try:
            response = await self._http.send("GET", f"/v1/convai/conversations/{provider_call_id}")
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        return event_from_conversation(response.json(), base_url=self._http.base_url)

    async def find_call(
        self, attempt_id: str, *, to_number: str, since: datetime
    ) -> CallEvent | None:
        """Conversations of the agent started since ``since`` whose ``user_id`` is the
        attempt; none proves none was started."""
        params: dict[str, Any] = {
            "user_id": attempt_id,
            "call_start_after_unix": int(since.timestamp()) - 60,
            "page_size": 10,
        }
        if self.agent_id:
            params["agent_id"] = self.agent_id
        response = await self._http.send("GET", "/v1/convai/conversations", params=params)
        for item in response.json().get("conversations") or []:
            if isinstance(item, dict) and item.get("conversation_id"):
                event = await self.get_call(str(item["conversation_id"]))
                if event is not None and event.attempt_id in (None, attempt_id):
                    return event
        return None

    @staticmethod
    def claimed_ids(body: bytes, url: str) -> tuple[str | None, str | None]:
        """(attempt id, conversation id) a webhook names - unverified."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None, None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return None, None
        conversation = data.get("conversation_id")
        return _attempt_of(data), conversation if isinstance(conversation, str) else None

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify ``ElevenLabs-Signature`` with the webhook secret and normalise the event."""
        if not self._webhook_secret:
            raise WebhookVerificationError("no ElevenLabs webhook secret configured")
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_signature(
            body, lowered.get(SIGNATURE_HEADER), self._webhook_secret, now=now,
            tolerance=self.tolerance,
        )  # fmt: skip
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise WebhookVerificationError("body is not JSON") from exc
        kind = payload.get("type") if isinstance(payload, dict) else None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or not data.get("conversation_id"):
            return []
        if kind == "post_call_transcription":
            return [event_from_conversation(data, base_url=self._http.base_url)]
        if kind == "call_initiation_failure":
            return [event_from_failure(data)]
        return []  # post_call_audio and others carry nothing we settle on
