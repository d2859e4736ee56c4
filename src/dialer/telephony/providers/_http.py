"""Shared HTTP plumbing for vendor adapters: timeouts, bounded retries, error split.

Every vendor call goes through ``send``: 429 and 5xx (and transport errors) are retried
with exponential backoff, honouring ``Retry-After``; when retries run out they surface as
``RetryableProviderError`` so the dispatcher reschedules the job. Other 4xx become
``PermanentProviderError`` (or whatever the vendor's ``classify`` hook decides).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from dialer.telephony.base import PermanentProviderError, ProviderError, RetryableProviderError

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]
Classifier = Callable[[httpx.Response], ProviderError]


def default_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)


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
    retry_post: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; retry 429/5xx/transport errors; raise the ProviderError split."""
    attempt = 0
    while True:
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            # A POST that timed out may have reached the vendor; only resend when the
            # caller says the request is safe to repeat (it carries our idempotency key).
            if attempt >= max_retries or not retry_post:
                raise RetryableProviderError(f"timeout: {exc.__class__.__name__}") from exc
        except httpx.TransportError as exc:
            if attempt >= max_retries:
                raise RetryableProviderError(f"network error: {exc}") from exc
        else:
            if response.status_code < 400:
                return response
            if response.status_code not in RETRY_STATUSES or attempt >= max_retries:
                raise classify(response)
            await sleep(_retry_after(response, backoff_s * (2**attempt)))
            attempt += 1
            continue
        await sleep(backoff_s * (2**attempt))
        attempt += 1
