"""Twilio Programmable Voice adapter (https://www.twilio.com/docs/voice/api/call-resource).

* Create: ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (form-encoded, HTTP Basic
  with the account SID and auth token) with ``To``, ``From``, ``Url`` *or* ``Twiml``,
  ``StatusCallback`` + ``StatusCallbackEvent`` (initiated ringing answered completed),
  ``MachineDetection=Enable`` and ``TimeLimit``.
* The voice agent is reached through TwiML: either a ``twiml_url`` the operator hosts, or a
  ``<Connect><Stream>`` to the agent's media-stream endpoint (``stream_url``) whose
  ``<Parameter>`` elements carry the rendered script variables.
* Status callbacks are signed with ``X-Twilio-Signature``: base64(HMAC-SHA1(auth token,
  full URL + each POST parameter name and value, sorted by name)). Our attempt id rides in
  the callback URL's query string, so it is covered by the signature.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import httpx

from dialer.job.states import Outcome
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    PlacedCall,
    ProviderError,
    WebhookVerificationError,
)
from dialer.telephony.providers import _http

NAME = "twilio"
BASE_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "x-twilio-signature"
CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
STATUS_OUTCOMES: dict[str, Outcome] = {
    "completed": Outcome.COMPLETED,
    "busy": Outcome.BUSY,
    "no-answer": Outcome.NO_ANSWER,
    "failed": Outcome.FAILED,
    # Canceled before anyone answered (we hung up a ringing call): nobody was reached.
    "canceled": Outcome.NO_ANSWER,
}
# Twilio error codes meaning the destination number itself is bad.
INVALID_NUMBER_CODES = frozenset({13223, 13224, 21211, 21214, 21217, 21401, 21407})
# SIP responses on a failed call that mean "no such number".
INVALID_NUMBER_SIP = frozenset({"404", "410", "484", "604"})


def compute_signature(url: str, params: Mapping[str, str | list[str]], auth_token: str) -> str:
    """Twilio's request signature for a POST to ``url`` with form ``params``."""
    data = url
    for key in sorted(params):
        values = params[key]
        for value in sorted(set(values)) if isinstance(values, list) else [values]:
            data += key + value
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _attr(value: str) -> str:
    """A double-quoted XML attribute value."""
    return '"' + escape(value, {'"': "&quot;"}) + '"'


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus with/without the default port: Twilio may sign either."""
    parts = urlsplit(url)
    variants = [url]
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    if parts.port is None and default_port and parts.hostname:
        netloc = f"{parts.netloc}:{default_port}"
        variants.append(urlunsplit(parts._replace(netloc=netloc)))
    elif parts.port == default_port and parts.hostname:
        netloc = parts.netloc.rsplit(":", 1)[0]
        variants.append(urlunsplit(parts._replace(netloc=netloc)))
    return variants


def verify_signature(
    url: str, params: Mapping[str, str | list[str]], header: str | None, auth_token: str
) -> None:
    """Raise WebhookVerificationError unless ``header`` is Twilio's signature of the request."""
    if not header:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    for candidate in _url_variants(url):
        expected = compute_signature(candidate, params, auth_token)
        if hmac.compare_digest(expected.encode(), header.strip().encode()):
            return
    raise WebhookVerificationError("signature does not match")


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def outcome_for(status: str, answered_by: str | None, sip_code: str | None) -> Outcome:
    """Our outcome for a final Twilio ``CallStatus`` (+ AMD ``AnsweredBy``)."""
    outcome = STATUS_OUTCOMES.get(status, Outcome.FAILED)
    if (
        outcome == Outcome.COMPLETED
        and answered_by
        and (answered_by.startswith("machine") or answered_by == "fax")
    ):
        return Outcome.VOICEMAIL
    if outcome == Outcome.FAILED and sip_code in INVALID_NUMBER_SIP:
        return Outcome.INVALID_NUMBER
    return outcome


def event_from_params(
    params: Mapping[str, str], *, attempt_id: str | None, event_key: str | None = None
) -> CallEvent:
    """Normalise a status callback (or a Call resource mapped to callback names)."""
    sid = params.get("CallSid", "")
    status = params.get("CallStatus", "")
    key = event_key or f"{NAME}:{sid}:{status}"
    at = _rfc2822(params.get("Timestamp"))
    if status not in FINAL_STATUSES:
        return CallEvent(
            provider=NAME,
            provider_call_id=sid,
            event_key=key,
            attempt_id=attempt_id,
            final=False,
            status=status,
            started_at=at if status == "initiated" else None,
            answered_at=at if status == "in-progress" else None,
            raw=dict(params),
        )
    outcome = outcome_for(status, params.get("AnsweredBy"), params.get("SipResponseCode"))
    duration = _int(params.get("CallDuration")) if status == "completed" else 0
    error = None
    if outcome in (Outcome.FAILED, Outcome.INVALID_NUMBER):
        error = f"twilio {status}" + (
            f" (SIP {params['SipResponseCode']})" if params.get("SipResponseCode") else ""
        )
    extracted = {"answered_by": params["AnsweredBy"]} if params.get("AnsweredBy") else {}
    return CallEvent(
        provider=NAME,
        provider_call_id=sid,
        event_key=key,
        attempt_id=attempt_id,
        final=True,
        status=status,
        outcome=str(outcome),
        duration_s=duration,
        ended_at=at,
        extracted=extracted,
        error=error,
        raw=dict(params),
    )


def _classify(response: httpx.Response) -> ProviderError:
    error = _http.classify_default(response)
    try:
        code = int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        code = 0
    if code in INVALID_NUMBER_CODES:
        return InvalidNumberError(str(error), status_code=response.status_code)
    return error


class TwilioProvider:
    """Places calls through Twilio and reads its signed status callbacks."""

    name = NAME

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        client: httpx.AsyncClient | None = None,
        base_url: str = BASE_URL,
        from_number: str | None = None,
        twiml_url: str | None = None,
        stream_url: str | None = None,
        webhook_base_url: str | None = None,
        machine_detection: str = "Enable",
        ring_timeout_s: int = 30,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        sleep: _http.Sleep = asyncio.sleep,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._client = client or _http.default_client()
        self._base_url = base_url.rstrip("/")
        self.from_number = from_number
        self.twiml_url = twiml_url
        self.stream_url = stream_url
        self.webhook_base_url = webhook_base_url.rstrip("/") if webhook_base_url else None
        self.machine_detection = machine_detection
        self.ring_timeout_s = ring_timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the token
        return f"TwilioProvider(account_sid={self.account_sid!r}, from_number={self.from_number!r})"

    @property
    def _calls_url(self) -> str:
        return f"{self._base_url}/2010-04-01/Accounts/{self.account_sid}/Calls"

    @property
    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account_sid, self._auth_token)

    def status_callback_url(self, request: CallRequest) -> str | None:
        base = request.webhook_url or (
            f"{self.webhook_base_url}/api/v1/webhooks/{NAME}" if self.webhook_base_url else None
        )
        if base is None:
            return None
        parts = urlsplit(base)
        query = dict(parse_qsl(parts.query))
        query["attempt_id"] = request.attempt_id
        if "account_id" in request.metadata:
            query["account_id"] = request.metadata["account_id"]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def twiml(self, request: CallRequest) -> str:
        """``<Connect><Stream>`` to the agent, passing the script variables as parameters."""
        assert self.stream_url is not None
        params = "".join(
            f"<Parameter name={_attr(str(k))} value={_attr(str(v))}/>"
            for k, v in {**request.variables, "attempt_id": request.attempt_id}.items()
        )
        return (
            "<Response><Connect>"
            f"<Stream url={_attr(self.stream_url)}>{params}</Stream>"
            "</Connect></Response>"
        )

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Create the call; status callbacks come to our webhook with the attempt id."""
        from_number = request.from_number or self.from_number
        if not from_number:
            raise PermanentProviderError("twilio: no from_number configured")
        form: list[tuple[str, str]] = [("To", request.to_number), ("From", from_number)]
        if self.stream_url:
            form.append(("Twiml", self.twiml(request)))
        elif self.twiml_url:
            parts = urlsplit(self.twiml_url)
            query = dict(parse_qsl(parts.query))
            query["attempt_id"] = request.attempt_id
            form.append(("Url", urlunsplit(parts._replace(query=urlencode(query)))))
        else:
            raise PermanentProviderError("twilio: configure twiml_url or stream_url")
        callback = self.status_callback_url(request)
        if callback:
            form.append(("StatusCallback", callback))
            form.append(("StatusCallbackMethod", "POST"))
            form.extend(("StatusCallbackEvent", e) for e in CALLBACK_EVENTS)
        if self.machine_detection:
            form.append(("MachineDetection", self.machine_detection))
        form.append(("Timeout", str(request.ring_timeout_s or self.ring_timeout_s)))
        form.append(("TimeLimit", str(request.max_duration_s)))
        response = await _http.send(
            self._client,
            "POST",
            f"{self._calls_url}.json",
            # Encoded by hand: StatusCallbackEvent repeats, which a dict cannot express.
            content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=self._auth,
            max_retries=self._max_retries,
            backoff_s=self._backoff_s,
            sleep=self._sleep,
            classify=_classify,
            # No idempotency key on Twilio's create: never resend after a timeout.
            retry_post=False,
        )
        data = response.json()
        return PlacedCall(provider_call_id=str(data["sid"]), status=str(data.get("status")))

    async def hangup(self, provider_call_id: str) -> None:
        """End the call (``Status=completed``); a call already over is not an error."""
        try:
            await _http.send(
                self._client,
                "POST",
                f"{self._calls_url}/{provider_call_id}.json",
                data={"Status": "completed"},
                auth=self._auth,
                max_retries=self._max_retries,
                backoff_s=self._backoff_s,
                sleep=self._sleep,
            )
        except PermanentProviderError:
            return None

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The Call resource mapped to a CallEvent; None when Twilio does not know it."""
        try:
            response = await _http.send(
                self._client,
                "GET",
                f"{self._calls_url}/{provider_call_id}.json",
                auth=self._auth,
                max_retries=self._max_retries,
                backoff_s=self._backoff_s,
                sleep=self._sleep,
            )
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        call = response.json()
        params = {
            "CallSid": str(call.get("sid", provider_call_id)),
            "CallStatus": str(call.get("status", "")),
            "CallDuration": str(call.get("duration") or 0),
            "Timestamp": str(call.get("end_time") or call.get("start_time") or ""),
        }
        if call.get("answered_by"):
            params["AnsweredBy"] = str(call["answered_by"])
        return event_from_params(params, attempt_id=None)

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify ``X-Twilio-Signature`` over URL + form params and normalise the callback."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            multi = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise WebhookVerificationError("body is not form-encoded text") from exc
        verify_signature(url, multi, lowered.get(SIGNATURE_HEADER), self._auth_token)
        params = {k: v[-1] for k, v in multi.items()}
        if params.get("AccountSid") and params["AccountSid"] != self.account_sid:
            raise WebhookVerificationError("callback is for another Twilio account")
        if not params.get("CallSid") or not params.get("CallStatus"):
            return []
        attempt = parse_qs(urlsplit(url).query).get("attempt_id")
        return [event_from_params(params, attempt_id=attempt[0] if attempt else None)]
