"""Shared HTTP plumbing for vendor adapters: timeouts, bounded retries, error split,
secrets kept out of messages.

Each adapter holds one :class:`Vendor` (base URL, authentication, its SDK's timeout,
retry budget, injectable sleep, the secrets to redact) and sends every request through
it. Every vendor call goes through ``send``: 429 and 5xx (and transport errors) are retried
with exponential backoff, honouring ``Retry-After``; when retries run out they surface as
``RetryableProviderError`` so the dispatcher reschedules the job. Other 4xx become
``PermanentProviderError`` (or whatever the vendor's ``classify`` hook decides).

A request that is not idempotent (a create-call: no vendor here takes an idempotency
key) is only resent when it provably never reached the vendor (connection refused,
connect timeout, 429). Once it may have been received - a read timeout, a connection
reset, 408 or 5xx - it raises ``CallOutcomeUnknown``: the call may exist, and only
asking the vendor can tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from dialer.telephony.base import (
    CallOutcomeUnknown,
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)

# The vendors' official SDKs' read timeouts (connect 5 s): retell-python-sdk 5.x
# ``_constants.DEFAULT_TIMEOUT`` 120 s; VapiAI server-sdk-python 1.x 60 s; elevenlabs-python
# 2.x 240 s. twilio-python sets none; 120 s is used for it. A create that is slow is
# not a failure: cutting it short is what made a created call look like no call.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Errors raised before a byte of the request left: resending cannot duplicate anything.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Sleep = Callable[[float], Awaitable[None]]
Classifier = Callable[[httpx.Response], ProviderError]
# The vendors' SDKs' read timeouts, by adapter (see DEFAULT_TIMEOUT).
TIMEOUTS: dict[str, httpx.Timeout] = {
    "retell": DEFAULT_TIMEOUT,
    "twilio": DEFAULT_TIMEOUT,
    "vapi": httpx.Timeout(60.0, connect=5.0),
    "elevenlabs": httpx.Timeout(240.0, connect=5.0),
}
REDACTED = "[redacted]"


def default_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout)


def _retry_after(response: httpx.Response, fallback: float) -> float:
    value = response.headers.get("retry-after")
    if value is None:
        return fallback
    try:
        # Seconds form only; an HTTP-date is rare from these APIs and the fallback is fine.
        return min(max(float(value), 0.0), 30.0)
    except ValueError:
        return fallback


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error_message", "error", "detail"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


def classify_default(response: httpx.Response) -> ProviderError:
    status = response.status_code
    text = f"HTTP {status}: {error_text(response)}"
    if status in RETRY_STATUSES:
        return RetryableProviderError(text, status_code=status)
    return PermanentProviderError(text, status_code=status)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    max_retries: int,
    backoff_s: float,
    sleep: Sleep = asyncio.sleep,
    classify: Classifier = classify_default,
    idempotent: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; retry 429/5xx/transport errors; raise the ProviderError split.

    ``idempotent=False``: never resend once the vendor may have received the request;
    raise ``CallOutcomeUnknown`` instead (see the module docstring)."""
    attempt = 0
    while True:
        try:
            response = await client.request(method, url, **kwargs)
        except NOT_SENT as exc:
            if attempt >= max_retries:
                raise RetryableProviderError(f"network error: {exc!r}") from exc
        except httpx.TimeoutException as exc:
            if not idempotent:
                raise CallOutcomeUnknown(
                    f"no answer in time ({exc.__class__.__name__}): the call may exist"
                ) from exc
            if attempt >= max_retries:
                raise RetryableProviderError(f"timeout: {exc.__class__.__name__}") from exc
        except httpx.TransportError as exc:
            if not idempotent:
                # Reset after the request was written: the vendor may have acted on it.
                raise CallOutcomeUnknown(
                    f"connection lost ({exc.__class__.__name__}): the call may exist"
                ) from exc
            if attempt >= max_retries:
                raise RetryableProviderError(f"network error: {exc!r}") from exc
        else:
            if response.status_code < 400:
                return response
            if not idempotent and response.status_code in RETRY_STATUSES - {429}:
                error = classify(response)
                if not isinstance(error, RetryableProviderError):
                    raise error
                raise CallOutcomeUnknown(
                    f"HTTP {response.status_code} from the create: the call may exist "
                    f"({error_text(response)})",
                    status_code=response.status_code,
                )
            if response.status_code not in RETRY_STATUSES or attempt >= max_retries:
                raise classify(response)
            await sleep(_retry_after(response, backoff_s * (2**attempt)))
            attempt += 1
            continue
        await sleep(backoff_s * (2**attempt))
        attempt += 1


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (API key, auth token, webhook secret) replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


class Vendor:
    """One vendor's HTTP side, shared by its adapter's calls: base URL, authentication
    (headers or HTTP Basic), timeouts (the client's; its SDK's by default), the retry
    policy of :func:`send`, and the secrets no error message may carry."""

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        client: httpx.AsyncClient | None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        secrets: Iterable[str | None] = (),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        sleep: Sleep = asyncio.sleep,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        # Per request, so a client shared by several vendors (the account router's)
        # still gives each one its own SDK's timeout.
        self.timeout = timeout or TIMEOUTS.get(name, DEFAULT_TIMEOUT)
        self.client = client or default_client(self.timeout)
        self._headers = dict(headers or {})
        self._auth = auth
        self._secrets = tuple(s for s in secrets if s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.sleep = sleep

    def __repr__(self) -> str:  # never show the credentials
        return f"Vendor({self.name!r}, base_url={self.base_url!r})"

    def url(self, path: str) -> str:
        """``path`` on the vendor's base URL; an absolute URL (a Vapi control URL) as is."""
        return path if path.startswith(("https://", "http://")) else f"{self.base_url}{path}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        classify: Classifier = classify_default,
        idempotent: bool = True,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request with :func:`send`'s policy. ``authenticated=False`` sends no
        credentials (a URL the vendor handed out, such as a call's control URL).
        ProviderError messages never contain a secret."""
        merged = {**(self._headers if authenticated else {}), **(headers or {})}
        if authenticated and self._auth is not None:
            kwargs["auth"] = self._auth
        kwargs.setdefault("timeout", self.timeout)
        try:
            return await send(
                self.client, method, self.url(path), headers=merged,
                max_retries=self.max_retries, backoff_s=self.backoff_s, sleep=self.sleep,
                classify=classify, idempotent=idempotent, **kwargs,
            )  # fmt: skip
        except ProviderError as exc:
            text = str(exc)
            clean = redact(text, self._secrets)
            if clean != text:
                exc.args = (clean, *exc.args[1:])
            raise
