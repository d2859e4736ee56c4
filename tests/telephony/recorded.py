"""Recorded provider payloads (tests/fixtures/providers) and a request-recording transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from dialer.call.business import read_outcome

CALL_AT = datetime(2026, 3, 2, 15, 2, tzinfo=UTC)  # the recorded calls' day
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def load(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / f"{name}.json").read_text(encoding="utf-8"))


def raw(provider: str, name: str) -> bytes:
    """The fixture's bytes exactly as stored (signatures cover raw bytes)."""
    return (FIXTURES / provider / f"{name}.json").read_bytes()


class Recorder:
    """An httpx MockTransport that records requests and replays scripted responses."""

    def __init__(self, *responses: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        nxt = self.responses.pop(0)
        return nxt(request) if callable(nxt) else nxt

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def no_sleep(_: float) -> None:
    return None


def business(event: Any, *, tz: str = "America/Santiago", currency: str = "CLP") -> Any:
    """The structured business result the settlement reads from an adapter's event
    (``dialer.job.outcomes`` through ``call.business.read_outcome``, as settlement does):
    adapters pass what the agent reported; only the parser interprets it."""
    return read_outcome(
        raw=event.raw, extracted=event.extracted, declared=event.business_result,
        call_at=event.ended_at or CALL_AT, tz=ZoneInfo(tz), currency=currency,
    )  # fmt: skip
