"""Delivering outbound webhooks (a worker side task). At least once, in two steps:

1. fan-out: outbox rows (committed with the changes they report) become one delivery
   per active subscription of the account that wants the event type, and are deleted,
   in one transaction. A crash before the commit leaves the outbox rows; the unique
   (subscription, event) key makes a repeated fan-out harmless.
2. delivery: due deliveries are leased (``lease_expires_at``) and POSTed with the
   ``Dialer-Signature`` header. 2xx -> delivered; anything else (status, timeout,
   refused address) -> retried after ``WEBHOOK_RETRY_BASE * 2**(n-1)`` (capped), and
   failed after ``WEBHOOK_MAX_ATTEMPTS``. A worker killed mid-POST leaves the lease to
   expire: the delivery goes again with the same event id and the same body, so
   receivers deduplicate on ``Dialer-Event-Id`` / ``id``.

Every POST (and every refusal) is a row in ``webhook_delivery_attempts``: the log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement

from dialer.config import Settings
from dialer.db.session import Database
from dialer.hooks.addresses import (
    AddressRefused,
    Resolver,
    checked_address,
    split_url,
    system_resolver,
)
from dialer.hooks.repository import HookRepository
from dialer.hooks.service import decrypt_secret
from dialer.hooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, HEADER, header_value
from dialer.logging import get_logger

log = get_logger("dialer.hooks")

LEASE = timedelta(seconds=60)
MAX_ERROR = 500


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for an event: stable across redeliveries."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Wait before retry number ``attempts`` (1-based)."""
    base = settings.WEBHOOK_RETRY_BASE.total_seconds()
    wait = base * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(wait, settings.WEBHOOK_RETRY_MAX.total_seconds()))


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def work_probe(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """True when ``Deliverer.run_once`` has something to fan out or deliver at ``now``
    (an expression, read with the worker's other side-task probes)."""
    return HookRepository.work_exists(now)


async def fan_out(db: Database, *, limit: int = 500) -> int:
    """Turn outbox rows into deliveries; how many outbox rows were consumed."""
    async with db.write() as session:
        repo = HookRepository.from_session(session)
        events = await repo.oldest_outbox(limit)
        if not events:
            return 0
        subs = await repo.active_subscriptions_of(sorted({e.account_id for e in events}))
        rows = [
            {
                "subscription_id": s.id,
                "account_id": e.account_id,
                "event_id": e.event_id,
                "type": e.type,
                "payload": e.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": e.created_at,
                "created_at": e.created_at,
            }
            for e in events
            for s in subs
            if s.account_id == e.account_id and e.type in (s.events or [])
        ]
        await repo.insert_deliveries(rows)
        await repo.delete_outbox([e.id for e in events])
        return len(events)


class Deliverer:
    """Fan out the outbox and POST due deliveries; ``run_once`` is one round."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.db = db
        self.settings = settings
        self.resolver = resolver
        # No proxies from the environment (they would bypass the address check), no
        # redirects (a 3xx to an internal address would too).
        self.client = client or httpx.AsyncClient(
            timeout=settings.WEBHOOK_TIMEOUT.total_seconds(),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run_once(self, now: datetime, *, limit: int = 50, known_work: bool = False) -> int:
        """Fan out, then deliver what is due at ``now``; how many POSTs were attempted.

        First a read of whether there is anything to do (an idle round opens no write
        transaction), unless the caller has just read that (``known_work``)."""
        if not known_work:
            async with self.db.read() as rs:
                if not await HookRepository.from_session(rs).has_work(now):
                    return 0
        while await fan_out(self.db) >= 500:
            pass
        async with self.db.write() as session:
            due = await HookRepository.from_session(session).claim_due(
                now=now, lease_until=now + LEASE, limit=limit
            )
            work = [
                (d.id, d.attempts, d.event_id, d.type, dict(d.payload), s.url, s.secret_encrypted)
                for d, s in due
            ]
        for delivery_id, attempts, event_id, type_, payload, url, secret_enc in work:
            result = await self._post(url, secret_enc, event_id, type_, payload, now)
            await self._record(delivery_id, attempts + 1, result, now)
        return len(work)

    async def _post(
        self, url: str, secret_enc: str, event_id: str, type_: str, payload: dict[str, Any],
        now: datetime,
    ) -> Result:  # fmt: skip
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            address = await checked_address(
                url, allow_private=self.settings.WEBHOOKS_ALLOW_PRIVATE, resolver=self.resolver
            )
        except AddressRefused as exc:
            return Result(None, f"refused: {exc.message}", took())
        scheme, host, port = split_url(url)
        body = body_of(payload)
        secret = decrypt_secret(self.settings, secret_enc)
        target = httpx.URL(url).copy_with(host=address)
        default_port = 443 if scheme == "https" else 80
        headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "Content-Type": "application/json",
            "User-Agent": "dialer-webhooks/1",
            HEADER: header_value(secret, int(now.timestamp()), body),
            EVENT_ID_HEADER: event_id,
            EVENT_TYPE_HEADER: type_,
        }
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        try:
            resp = await self.client.post(
                target, content=body, headers=headers, extensions=extensions
            )
        except httpx.TimeoutException:
            return Result(None, "timeout", took())
        except httpx.HTTPError as exc:
            return Result(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR], took())
        error = None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
        return Result(resp.status_code, error, took())

    async def _record(self, delivery_id: int, attempts: int, result: Result, now: datetime) -> None:
        if result.ok:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now}
        elif attempts >= self.settings.WEBHOOK_MAX_ATTEMPTS:
            values = {"status": "failed"}
        else:
            values = {"next_attempt_at": now + backoff(attempts, self.settings)}
        values.update(
            attempts=attempts,
            lease_expires_at=None,
            last_status_code=result.status_code,
            last_error=result.error,
        )
        async with self.db.write() as session:
            await HookRepository.from_session(session).finish_attempt(
                delivery_id,
                values,
                {"attempted_at": now, "status_code": result.status_code, "error": result.error,
                 "duration_ms": result.duration_ms},
            )  # fmt: skip
        if not result.ok:
            log.info("hooks.delivery_failed", delivery_id=delivery_id, attempts=attempts,
                     status_code=result.status_code, error=result.error)  # fmt: skip
