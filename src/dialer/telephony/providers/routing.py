"""Account-aware Retell/Twilio providers for the registry.

Each account may bring its own credentials (``config_service``), so the registered
provider is a thin router: it resolves the account's configuration (cached briefly),
builds the vendor adapter once per account and delegates. Webhook verification is
synchronous in the Provider protocol, so the webhook endpoint first awaits
``warm_for_webhook`` to load the credentials of the account the webhook names; the
signature check then proves the webhook really came from that account's provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from dialer.config import Settings
from dialer.db.session import Database
from dialer.telephony import config_service
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    PlacedCall,
    Provider,
    WebhookVerificationError,
)
from dialer.telephony.providers import _http
from dialer.telephony.providers.retell import RetellProvider
from dialer.telephony.providers.twilio import TwilioProvider

Builder = Callable[[config_service.ResolvedConfig, httpx.AsyncClient, Settings], Provider]
CACHE_SECONDS = 60.0


def build_retell(
    cfg: config_service.ResolvedConfig, client: httpx.AsyncClient, settings: Settings
) -> Provider:
    return RetellProvider(
        api_key=cfg.credentials["api_key"],
        client=client,
        agent_id=cfg.options.get("agent_id"),
        from_number=cfg.options.get("from_number"),
    )


def build_twilio(
    cfg: config_service.ResolvedConfig, client: httpx.AsyncClient, settings: Settings
) -> Provider:
    return TwilioProvider(
        account_sid=cfg.credentials["account_sid"],
        auth_token=cfg.credentials["auth_token"],
        client=client,
        from_number=cfg.options.get("from_number"),
        twiml_url=cfg.options.get("twiml_url"),
        stream_url=cfg.options.get("stream_url"),
        webhook_base_url=cfg.options.get("webhook_base_url") or settings.PUBLIC_BASE_URL,
        machine_detection=cfg.options.get("machine_detection", "Enable"),
        ring_timeout_s=int(cfg.options.get("ring_timeout_s", 30)),
    )


BUILDERS: dict[str, Builder] = {"retell": build_retell, "twilio": build_twilio}


def webhook_account(provider: str, body: bytes, url: str) -> str | None:
    """The account a webhook claims to be for (verified later by its signature)."""
    if provider == "twilio":
        values = parse_qs(urlsplit(url).query).get("account_id")
        return values[0] if values else None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    call = payload.get("call") if isinstance(payload, dict) else None
    metadata = call.get("metadata") if isinstance(call, dict) else None
    account = metadata.get("account_id") if isinstance(metadata, dict) else None
    return str(account) if account else None


class AccountRoutedProvider:
    """A Provider that dials with the credentials of the account in each request."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        db: Database,
        *,
        client: httpx.AsyncClient | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.name = name
        self._settings = settings
        self._db = db
        self._build = BUILDERS[name]
        self._client = client or _http.default_client()
        self._cache_seconds = cache_seconds
        self._cache: dict[str | None, tuple[float, Provider, list[str]]] = {}

    async def for_account(self, account_id: str | None) -> Provider:
        """The vendor adapter configured for ``account_id`` (deployment default when None)."""
        hit = self._cache.get(account_id)
        if hit and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        async with self._db.read() as session:
            cfg = await config_service.resolve(session, account_id, self.name, self._settings)
        provider = self._build(cfg, self._client, self._settings)
        bases = [
            b for b in (cfg.options.get("webhook_base_url"), self._settings.PUBLIC_BASE_URL) if b
        ]
        self._cache[account_id] = (time.monotonic(), provider, bases)
        return provider

    async def _for_call(self, provider_call_id: str) -> Provider:
        async with self._db.read() as session:
            account = await config_service.account_of_call(session, self.name, provider_call_id)
        return await self.for_account(account)

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Dial with the credentials of ``request.metadata['account_id']``."""
        provider = await self.for_account(request.metadata.get("account_id"))
        return await provider.place_call(request)

    async def hangup(self, provider_call_id: str) -> None:
        """Hang up with the credentials of the account that placed the call."""
        await (await self._for_call(provider_call_id)).hangup(provider_call_id)

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The call's state, asked with the placing account's credentials."""
        return await (await self._for_call(provider_call_id)).get_call(provider_call_id)

    async def warm_for_webhook(self, body: bytes, url: str) -> None:
        """Load the credentials ``parse_webhook`` will verify this webhook with."""
        account = webhook_account(self.name, body, url)
        for candidate in dict.fromkeys((account, None)):
            try:
                await self.for_account(candidate)
                return
            except config_service.ProviderNotConfigured:
                # Nothing to verify with: parse_webhook will answer 401.
                continue

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify with the named account's credentials (loaded by ``warm_for_webhook``)."""
        account = webhook_account(self.name, body, url)
        hit = self._cache.get(account) or self._cache.get(None)
        if hit is None:
            raise WebhookVerificationError(f"no {self.name} credentials for this webhook")
        _, provider, bases = hit
        try:
            return provider.parse_webhook(body=body, headers=headers, url=url, now=now)
        except WebhookVerificationError:
            # Behind a proxy the URL we see is not the public one Twilio signed.
            parts = urlsplit(url)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            for base in bases:
                candidate = base.rstrip("/") + tail
                if candidate != url:
                    try:
                        return provider.parse_webhook(
                            body=body, headers=headers, url=candidate, now=now
                        )
                    except WebhookVerificationError:
                        continue
            raise


async def warm_for_webhook(provider: Any, body: bytes, url: str) -> None:
    """Endpoint hook: prepare account credentials when the provider is account-routed."""
    if isinstance(provider, AccountRoutedProvider):
        await provider.warm_for_webhook(body, url)


def _register() -> None:
    from dialer.telephony.registry import register

    def factory(name: str) -> Callable[[Settings, Database], Provider]:
        def build(settings: Settings, db: Database) -> Provider:
            return AccountRoutedProvider(name, settings, db)

        return build

    for name in BUILDERS:
        register(name, factory(name))


_register()
