"""Twilio Programmable Voice adapter (https://www.twilio.com/docs/voice/api/call-resource).

* Create: ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (form-encoded, HTTP Basic
  with the account SID and auth token) with ``To``, ``From``, ``Url`` *or* ``Twiml``,
  ``StatusCallback`` + ``StatusCallbackEvent`` (initiated ringing answered completed),
  ``TimeLimit`` and asynchronous answering-machine detection (``MachineDetection``,
  ``AsyncAmd=true``, ``AsyncAmdStatusCallback``): the agent talks at once instead of after
  seconds of dead air, and the AMD callback then ends a machine-answered call (or leaves
  the batch's voicemail message) - https://www.twilio.com/docs/voice/answering-machine-detection.
* Inline TwiML is limited to 4,000 characters (error 32018): a longer document falls
  back to the hosted ``twiml_url`` when one is configured, else the call is refused before
  dialing with an error that says so.
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
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import httpx

from dialer.job.states import Outcome
from dialer.kit import clock
from dialer.telephony.base import (
    CallEvent,
    CallNotAttributable,
    CallRequest,
    InvalidNumberError,
    PermanentProviderError,
    PlacedCall,
    ProviderError,
    RetryableProviderError,
    WebhookVerificationError,
    require_caller_id,
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
# Twilio Voice error codes on a create (https://www.twilio.com/docs/api/errors); SMS
# codes (21401, 21407...) never come from the Calls resource.
INVALID_NUMBER_CODES = frozenset(
    {
        13223,  # Dial: invalid phone number format
        13224,  # Dial: invalid phone number
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
    }
)
# The account cannot call this destination as configured: fix the set-up, not the number.
CONFIG_ERROR_CODES = frozenset(
    {
        13225,  # Dial: forbidden phone number (blocked destination)
        13227,  # Dial: no international authorization
        20003,  # authentication failed
        21210,  # 'From' phone number not verified
        21212,  # invalid 'From' / caller id
        21215,  # geo permissions do not allow this destination
        21216,  # account not allowed to call this number
        21219,  # 'To' number not verified (trial account)
    }
)
RETRY_CODES = frozenset({20429})  # too many requests
TWIML_LIMIT = 4000  # characters of inline TwiML (error 32018 beyond)
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence",
                   "machine_end_other", "fax")  # fmt: skip
# find_call: a create sent at ``since`` made its call (if any) between ``since`` minus the
# providers' clock skew and the end of its own request (120 s read timeout) plus slack.
CLOCK_SKEW = timedelta(seconds=60)
CREATE_WINDOW = timedelta(seconds=180)
# Two candidate calls the call events do not yet tell apart: past this long after the
# create, the attempt is handed to the operator (CallNotAttributable), never guessed.
# Call Events are readable 15 minutes after a call ends and calls are capped by TimeLimit,
# so an hour leaves room for the proof to appear.
ATTRIBUTION_DEADLINE = timedelta(hours=1)
# Which of some call SIDs are already other attempts' calls (the router asks our rows).
Claimed = Callable[[list[str]], Awaitable[set[str]]]
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


def amd_event(
    params: Mapping[str, str], *, attempt_id: str | None, query: Mapping[str, str]
) -> CallEvent:
    """An async AMD callback. A machine ends the attempt as voicemail (final: what follows
    on that line is our message or our hangup, not a conversation); a person is progress."""
    sid = params["CallSid"]
    answered_by = params.get("AnsweredBy", "unknown")
    if answered_by not in MACHINE_ANSWERS:
        return CallEvent(
            provider=NAME, provider_call_id=sid, event_key=f"{NAME}:{sid}:amd",
            attempt_id=attempt_id, final=False, status="amd",
            extracted={"answered_by": answered_by}, raw=dict(params),
        )  # fmt: skip
    detection_ms = _int(params.get("MachineDetectionDuration"))
    return CallEvent(
        provider=NAME,
        provider_call_id=sid,
        event_key=f"{NAME}:{sid}:amd",
        attempt_id=attempt_id,
        final=True,
        status="amd",
        outcome=str(Outcome.VOICEMAIL),
        duration_s=-(-detection_ms // 1000),
        extracted={
            "answered_by": answered_by,
            "voicemail_action": query.get("vm", "hangup"),
            **({"voicemail_text": query["vm_text"]} if query.get("vm_text") else {}),
        },
        raw=dict(params),
    )


def _event_from_resource(call: Mapping[str, Any], sid: str = "") -> CallEvent:
    """A Call resource (``GET Calls/{Sid}.json``) mapped to callback names."""
    params = {
        "CallSid": str(call.get("sid") or sid),
        "CallStatus": str(call.get("status", "")),
        "CallDuration": str(call.get("duration") or 0),
        "Timestamp": str(call.get("end_time") or call.get("start_time") or ""),
    }
    if call.get("answered_by"):
        params["AnsweredBy"] = str(call["answered_by"])
    event = event_from_params(params, attempt_id=None)
    price = call.get("price")
    try:
        amount = abs(float(price)) if price not in (None, "") else None
    except (TypeError, ValueError):
        amount = None
    if amount is not None:
        unit = str(call.get("price_unit") or "USD").lower()
        event = replace(event, provider_cost={"amount": amount, "unit": unit})
    return event


def _classify(response: httpx.Response) -> ProviderError:
    error = _http.classify_default(response)
    try:
        code = int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        code = 0
    if code in INVALID_NUMBER_CODES:
        return InvalidNumberError(str(error), status_code=response.status_code)
    if code in CONFIG_ERROR_CODES:
        return PermanentProviderError(
            f"{error} (Twilio {code}: check the account's numbers and permissions)",
            status_code=response.status_code,
        )
    if code in RETRY_CODES:
        return RetryableProviderError(str(error), status_code=response.status_code)
    return error


class TwilioProvider:
    """Places calls through Twilio and reads its signed status callbacks."""

    name = NAME
    supports_hangup = True
    # Twilio's signature carries no timestamp: replays are stopped by the event dedupe.
    tolerance = None

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
        # Every request is on the account's Calls resource.
        self._http = _http.Vendor(
            NAME, base_url=f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Calls",
            client=client, auth=httpx.BasicAuth(account_sid, auth_token), secrets=(auth_token,),
            max_retries=max_retries, backoff_s=backoff_s, sleep=sleep,
        )  # fmt: skip
        self.from_number = from_number
        self.twiml_url = twiml_url
        self.stream_url = stream_url
        self.webhook_base_url = webhook_base_url.rstrip("/") if webhook_base_url else None
        self.machine_detection = machine_detection
        self.ring_timeout_s = ring_timeout_s

    def __repr__(self) -> str:  # never show the token
        return f"TwilioProvider(account_sid={self.account_sid!r}, from_number={self.from_number!r})"

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

    def amd_callback_url(self, request: CallRequest) -> str | None:
        """The status callback URL marked as the AMD callback, carrying the batch's voicemail
        policy (covered by Twilio's signature, like the attempt id)."""
        base = self.status_callback_url(request)
        if base is None:
            return None
        parts = urlsplit(base)
        query = dict(parse_qsl(parts.query))
        query["event"] = "amd"
        query["vm"] = request.voicemail_action or "hangup"
        if request.voicemail_action == "message" and request.voicemail_message:
            query["vm_text"] = request.voicemail_message[:500]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _hosted_url(self, request: CallRequest) -> str:
        assert self.twiml_url is not None
        parts = urlsplit(self.twiml_url)
        query = dict(parse_qsl(parts.query))
        query["attempt_id"] = request.attempt_id
        return urlunsplit(parts._replace(query=urlencode(query)))

    def call_form(self, request: CallRequest) -> list[tuple[str, str]]:
        """The create-call form; raises PermanentProviderError before any dialing when the
        call cannot be expressed (no from number, no TwiML source, TwiML over the limit)."""
        from_number = request.from_number or self.from_number
        if not from_number:
            raise PermanentProviderError("twilio: no from_number configured")
        require_caller_id("twilio", request, from_number)
        form: list[tuple[str, str]] = [("To", request.to_number), ("From", from_number)]
        if self.stream_url:
            twiml = self.twiml(request)
            if len(twiml) <= TWIML_LIMIT:
                form.append(("Twiml", twiml))
            elif self.twiml_url:
                # The variables do not fit inline: the hosted document fetches them.
                form.append(("Url", self._hosted_url(request)))
            else:
                raise PermanentProviderError(
                    f"twilio: the call's TwiML is {len(twiml)} characters and Twilio accepts "
                    f"{TWIML_LIMIT} inline (error 32018); shorten the script variables or "
                    "set the twiml_url option to a hosted TwiML document"
                )
        elif self.twiml_url:
            form.append(("Url", self._hosted_url(request)))
        else:
            raise PermanentProviderError("twilio: configure twiml_url or stream_url")
        callback = self.status_callback_url(request)
        if callback:
            form.append(("StatusCallback", callback))
            form.append(("StatusCallbackMethod", "POST"))
            form.extend(("StatusCallbackEvent", e) for e in CALLBACK_EVENTS)
        if self.machine_detection:
            # A message left after the beep needs the end of the greeting.
            mode = "DetectMessageEnd" if request.voicemail_action == "message" else "Enable"
            form.append(("MachineDetection", mode))
            amd_callback = self.amd_callback_url(request)
            if amd_callback:
                form.append(("AsyncAmd", "true"))
                form.append(("AsyncAmdStatusCallback", amd_callback))
                form.append(("AsyncAmdStatusCallbackMethod", "POST"))
        ring = request.ring_timeout_s or self.ring_timeout_s
        form.append(("Timeout", str(ring)))
        form.append(("TimeLimit", str(request.max_duration_s)))
        return form

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Create the call; status callbacks come to our webhook with the attempt id."""
        form = self.call_form(request)
        response = await self._http.send(
            "POST",
            ".json",
            # Encoded by hand: StatusCallbackEvent repeats, which a dict cannot express.
            content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            classify=_classify,
            # No idempotency key on Twilio's create: never resent once it may have arrived.
            idempotent=False,
        )
        data = response.json()
        return PlacedCall(provider_call_id=str(data["sid"]), status=str(data.get("status")))

    async def react(self, events: list[CallEvent]) -> None:
        """After an AMD callback said "machine": leave the batch's voicemail message (then
        hang up) or hang up at once. Best effort: the call's own limit still bounds it."""
        for e in events:
            if e.status != "amd" or e.outcome != Outcome.VOICEMAIL:
                continue
            text = e.extracted.get("voicemail_text") if e.extracted else None
            try:
                if e.extracted.get("voicemail_action") == "message" and text:
                    twiml = f"<Response><Say>{escape(str(text))}</Say><Hangup/></Response>"
                    await self._update(e.provider_call_id, {"Twiml": twiml})
                else:
                    await self.hangup(e.provider_call_id)
            except ProviderError:
                continue

    async def _update(self, call_sid: str, data: dict[str, str]) -> None:
        await self._http.send("POST", f"/{call_sid}.json", data=data)

    async def hangup(self, provider_call_id: str) -> None:
        """End the call (``Status=completed``); a call already over is not an error."""
        try:
            await self._http.send("POST", f"/{provider_call_id}.json", data={"Status": "completed"})
        except PermanentProviderError:
            return None

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The Call resource mapped to a CallEvent; None when Twilio does not know it."""
        try:
            response = await self._http.send("GET", f"/{provider_call_id}.json")
        except PermanentProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        return _event_from_resource(response.json(), provider_call_id)

    async def find_call(
        self,
        attempt_id: str,
        *,
        to_number: str,
        since: datetime,
        claimed: Claimed | None = None,
    ) -> CallEvent | None:
        """The call created for ``attempt_id`` (``since``: when its create was sent).

        The Call resource carries no metadata, so the candidates are the calls from our
        number to ``to_number`` created within :data:`CREATE_WINDOW` of ``since`` (the
        create cannot have made a call earlier, nor after its own request timed out),
        minus those ``claimed`` reports as other attempts' calls and those whose Call
        Events name another attempt. One candidate is ours; none proves no call was
        created. Two or more (the same debtor dialled by two batches whose creates were
        both lost) are told apart only by proof: the per-attempt ``attempt_id`` of our
        ``StatusCallback`` (and hosted TwiML) URL, which Twilio's Call Events show as each
        event's ``request.url`` (``GET Calls/{Sid}/Events.json``, readable 15 minutes after
        the call ends; https://www.twilio.com/docs/voice/api/call-event-resource). Without
        proof the call is never guessed: until :data:`ATTRIBUTION_DEADLINE` after
        ``since`` a ProviderError says "ask again later"; after it CallNotAttributable
        says "show the operator" (the attempt stays unknown, the job is not re-dialed)."""
        params = {"To": to_number, "StartTime>": since.date().isoformat(), "PageSize": "50"}
        if self.from_number:
            params["From"] = self.from_number
        response = await self._http.send("GET", ".json", params=params)
        low = since.timestamp() - CLOCK_SKEW.total_seconds()  # Twilio's clock may lag ours
        high = (since + CREATE_WINDOW).timestamp()
        calls = sorted(
            (
                (created.timestamp(), c)
                for c in (response.json().get("calls") or [])
                if isinstance(c, dict)
                and isinstance(c.get("sid"), str)
                and (created := _rfc2822(c.get("date_created"))) is not None
                and low <= created.timestamp() <= high
            ),
            key=lambda pair: pair[0],
        )
        candidates = [c for _, c in calls]
        if candidates and claimed is not None:
            taken = await claimed([c["sid"] for c in candidates])
            candidates = [c for c in candidates if c["sid"] not in taken]
        if not candidates:
            return None
        if len(candidates) > 1:
            named = {c["sid"]: await self._named_attempts(c["sid"]) for c in candidates}
            mine = [c for c in candidates if attempt_id in named[c["sid"]]]
            # A call whose events name only other attempts is provably not ours.
            candidates = mine or [c for c in candidates if not named[c["sid"]]]
            if not candidates:
                return None
            if len(candidates) > 1:
                sids = ", ".join(c["sid"] for c in candidates)
                if clock.now() < since + ATTRIBUTION_DEADLINE:
                    raise ProviderError(
                        f"twilio: {len(candidates)} calls to {to_number} near "
                        f"{since.isoformat()} ({sids}); their call events do not yet tell "
                        f"which one is attempt {attempt_id}"
                    )
                raise CallNotAttributable(
                    f"twilio: {len(candidates)} calls to {to_number} near {since.isoformat()} "
                    f"({sids}) and no call event names attempt {attempt_id}: check them in "
                    "Twilio's call log; the attempt is not re-dialed"
                )
        event = _event_from_resource(candidates[0])
        return replace(event, attempt_id=attempt_id)

    async def _named_attempts(self, call_sid: str) -> set[str]:
        """The attempt ids in the URLs of the requests Twilio made for the call (Call
        Events: each event's ``request.url``, i.e. our status callbacks and hosted TwiML,
        both carrying ``attempt_id``); empty while Twilio has none to show yet."""
        try:
            response = await self._http.send("GET", f"/{call_sid}/Events.json")
        except PermanentProviderError:
            return set()  # not available yet (readable 15 minutes after the call ended)
        names: set[str] = set()
        for item in response.json().get("events") or []:
            request = item.get("request") if isinstance(item, dict) else None
            url = request.get("url") if isinstance(request, dict) else None
            if isinstance(url, str):
                names.update(parse_qs(urlsplit(url).query).get("attempt_id") or [])
        return names

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
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        attempt_id = query.get("attempt_id")
        if query.get("event") == "amd" and params.get("CallSid") and params.get("AnsweredBy"):
            return [amd_event(params, attempt_id=attempt_id, query=query)]
        if not params.get("CallSid") or not params.get("CallStatus"):
            return []
        return [event_from_params(params, attempt_id=attempt_id)]

    @staticmethod
    def claimed_ids(body: bytes, url: str) -> tuple[str | None, str | None]:
        """(attempt id, CallSid) a callback names - unverified, to find whose token checks it."""
        attempt = parse_qs(urlsplit(url).query).get("attempt_id")
        try:
            sid = parse_qs(body.decode()).get("CallSid")
        except UnicodeDecodeError:
            sid = None
        return (attempt[-1] if attempt else None), (sid[-1] if sid else None)


# -- the agent server's report -------------------------------------------------------------
#
# Twilio carries audio, not results: the voice agent behind ``stream_url`` / ``twiml_url``
# knows the transcript and the business result. It reports them after the call to
# ``POST /api/v1/webhooks/twilio/report`` with ``X-Dialer-Signature: t=<unix s>,v1=<hex
# HMAC-SHA256(report_secret, "<t>." + body)>`` (the account's ``report_secret``).

REPORT_SIGNATURE_HEADER = "x-dialer-signature"
REPORT_TOLERANCE = timedelta(minutes=5)
REPORT_TEXT_LIMIT = 100_000


@dataclass(frozen=True)
class AgentReport:
    attempt_id: str
    call_sid: str
    transcript: str | None
    summary: str | None
    extracted: dict[str, Any]  # the agent's fields as reported (business result included)


def sign_report(body: bytes, secret: str, at: datetime) -> str:
    ts = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def report_claims(body: bytes) -> tuple[str | None, str | None]:
    """(attempt id, CallSid) a report names - unverified."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    attempt, sid = data.get("attempt_id"), data.get("call_sid")
    return (attempt if isinstance(attempt, str) else None), (sid if isinstance(sid, str) else None)


def parse_report(
    body: bytes, header: str | None, secret: str, *, now: datetime,
    tolerance: timedelta = REPORT_TOLERANCE,
) -> AgentReport:  # fmt: skip
    """Verify and read an agent report. Raises WebhookVerificationError."""
    if not header:
        raise WebhookVerificationError("missing X-Dialer-Signature header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    ts, given = parts.get("t", ""), parts.get("v1", "")
    if not ts.isdigit() or len(ts) > 12 or not given:
        raise WebhookVerificationError("malformed X-Dialer-Signature header")
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise WebhookVerificationError("signature does not match")
    if abs(now.timestamp() - int(ts)) > tolerance.total_seconds():
        raise WebhookVerificationError("signature timestamp outside the accepted window")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("attempt_id"), str):
        raise WebhookVerificationError("report needs attempt_id")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value[:REPORT_TEXT_LIMIT] if isinstance(value, str) and value else None

    raw_fields = data.get("extracted")
    fields: dict[str, Any] = dict(raw_fields) if isinstance(raw_fields, dict) else {}
    if isinstance(data.get("business_result"), str) and data["business_result"].strip():
        # Kept as said: dialer.job.outcomes reads it (an unknown word is flagged there).
        fields = {**fields, "resultado": data["business_result"][:200]}
    return AgentReport(
        attempt_id=data["attempt_id"],
        call_sid=str(data.get("call_sid") or ""),
        transcript=text("transcript"),
        summary=text("summary"),
        extracted=fields,
    )
