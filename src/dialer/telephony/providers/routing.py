"""Account-aware vendor providers for the registry.

Each account may bring its own credentials (``config_service``), so the registered
provider is a thin router: it resolves the account's configuration, builds the vendor
adapter once per account (a bounded, expiring cache owned by this router, keyed only by
account ids read from our own rows) and delegates.

Webhooks are bound to the attempt they concern (``verify_webhook``): the attempt is
looked up by the id the webhook *claims* (our attempt id, else the provider's call id);
the credentials that must verify it are those of *that attempt's* account and provider,
never of an account the webhook names; every event must then concern that attempt and,
once known, its provider call id. A final event verified with credentials a tenant
supplied itself is settled only as the provider confirms it (``get_call``): a tenant can
sign anything with its own key, but cannot make the provider report it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from cachetools import TTLCache

from dialer.config import Settings
from dialer.db.session import Database
from dialer.logging import get_logger
from dialer.telephony import config_service
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    PermanentProviderError,
    PlacedCall,
    Provider,
    ProviderError,
    RetryableProviderError,
    WebhookVerificationError,
    check_event,
)
from dialer.telephony.providers import _http
from dialer.telephony.providers.elevenlabs import ElevenLabsProvider
from dialer.telephony.providers.retell import RetellProvider
from dialer.telephony.providers.twilio import TwilioProvider
from dialer.telephony.providers.vapi import VapiProvider

log = get_logger("dialer.telephony.routing")

Builder = Callable[[config_service.ResolvedConfig, httpx.AsyncClient, Settings], Provider]
Claims = Callable[[bytes, str], tuple[str | None, str | None]]
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 512
PIN_CACHE_SECONDS = 3600.0
# Vendors whose create-call takes an agent version (Retell ``override_agent_version``,
# Vapi ``assistantVersion``); ElevenLabs' takes a branch only (docs/providers.md section 1).
VERSIONED = frozenset({"retell", "vapi"})


def _tolerance(cfg: config_service.ResolvedConfig, default: timedelta) -> timedelta:
    value = cfg.options.get("replay_tolerance_s")
    return timedelta(seconds=int(value)) if isinstance(value, int) else default


def build_retell(
    cfg: config_service.ResolvedConfig, client: httpx.AsyncClient, settings: Settings
) -> Provider:
    return RetellProvider(
        api_key=cfg.credentials["api_key"],
        webhook_secret=cfg.credentials.get("webhook_secret"),
        client=client,
        agent_id=cfg.options.get("agent_id"),
        agent_version=cfg.options.get("agent_version"),
        from_number=cfg.options.get("from_number"),
        tolerance=_tolerance(cfg, timedelta(minutes=5)),
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


def build_elevenlabs(
    cfg: config_service.ResolvedConfig, client: httpx.AsyncClient, settings: Settings
) -> Provider:
    return ElevenLabsProvider(
        api_key=cfg.credentials["api_key"],
        webhook_secret=cfg.credentials.get("webhook_secret"),
        client=client,
        agent_id=cfg.options.get("agent_id"),
        branch_id=cfg.options.get("branch_id"),
        phone_number_id=cfg.options.get("phone_number_id"),
        telephony=cfg.options.get("telephony", "twilio"),
        tolerance=_tolerance(cfg, timedelta(minutes=30)),
        twilio_account_sid=cfg.credentials.get("twilio_account_sid"),
        twilio_auth_token=cfg.credentials.get("twilio_auth_token"),
    )


def build_vapi(
    cfg: config_service.ResolvedConfig, client: httpx.AsyncClient, settings: Settings
) -> Provider:
    return VapiProvider(
        api_key=cfg.credentials["api_key"],
        webhook_secret=cfg.credentials.get("webhook_secret"),
        client=client,
        assistant_id=cfg.options.get("assistant_id"),
        assistant_version=cfg.options.get("assistant_version"),
        phone_number_id=cfg.options.get("phone_number_id"),
        webhook_auth=cfg.options.get("webhook_auth", "hmac"),
        tolerance=_tolerance(cfg, timedelta(minutes=5)),
    )


BUILDERS: dict[str, Builder] = {
    "retell": build_retell,
    "twilio": build_twilio,
    "elevenlabs": build_elevenlabs,
    "vapi": build_vapi,
}
CLAIMS: dict[str, Claims] = {
    "retell": RetellProvider.claimed_ids,
    "twilio": TwilioProvider.claimed_ids,
    "elevenlabs": ElevenLabsProvider.claimed_ids,
    "vapi": VapiProvider.claimed_ids,
}


class _Adapter(NamedTuple):
    provider: Provider
    bases: list[str]  # public base URLs a signed URL may have been built on
    tenant_supplied: bool


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
        cache_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.name = name
        self._settings = settings
        self._db = db
        self._build = BUILDERS[name]
        self._claims = CLAIMS[name]
        self._client = client or _http.default_client()
        # Keys are account ids of our own rows (or None: the deployment default), never a
        # value a request names, so unauthenticated traffic cannot grow it.
        self._cache: TTLCache[str | None, _Adapter] = TTLCache(cache_entries, cache_seconds)
        # "No deployment-wide credentials" is remembered as briefly: webhooks about no
        # attempt of ours would otherwise each cost a configuration read.
        self._no_default: TTLCache[None, str] = TTLCache(1, cache_seconds)
        # Each batch's pinned (agent id, agent version), keyed by batch ids of our own
        # rows (the worker's claimed jobs). A pin never changes once stored.
        self._pins: TTLCache[tuple[str, str], tuple[str, str]] = TTLCache(
            cache_entries, PIN_CACHE_SECONDS
        )

    @property
    def cached_accounts(self) -> int:
        return len(self._cache)

    async def _adapter(self, account_id: str | None) -> _Adapter:
        hit = self._cache.get(account_id)
        if hit is not None:
            return hit
        if account_id is None and (missing := self._no_default.get(None)) is not None:
            raise config_service.ProviderNotConfigured(missing)
        try:
            async with self._db.read() as session:
                cfg = await config_service.resolve(session, account_id, self.name, self._settings)
        except config_service.ProviderNotConfigured as exc:
            if account_id is None:
                self._no_default[None] = str(exc)
            raise
        bases = [
            b for b in (cfg.options.get("webhook_base_url"), self._settings.PUBLIC_BASE_URL) if b
        ]
        adapter = _Adapter(self._build(cfg, self._client, self._settings), bases,
                           cfg.tenant_supplied)  # fmt: skip
        self._cache[account_id] = adapter
        return adapter

    async def caller_number(self, cfg: config_service.ResolvedConfig, phone_number_id: str) -> str:
        """The E.164 number a vendor that names numbers by id (Vapi, ElevenLabs) has
        behind ``phone_number_id``, asked with the credentials of ``cfg`` (a configuration
        being saved). PermanentProviderError when the vendor has none."""
        adapter = self._build(cfg, self._client, self._settings)
        lookup = getattr(adapter, "phone_number", None)
        if lookup is None:
            raise PermanentProviderError(f"{self.name} does not name its numbers by id")
        return str(await lookup(phone_number_id))

    async def for_account(self, account_id: str | None) -> Provider:
        """The vendor adapter configured for ``account_id`` (deployment default when None)."""
        return (await self._adapter(account_id)).provider

    async def _for_attempt(
        self, *, attempt_id: str | None = None, provider_call_id: str | None = None
    ) -> Provider:
        """The adapter of the account that owns the attempt (by our id or the call's id)."""
        async with self._db.read() as session:
            binding = await config_service.attempt_binding(
                session, self.name, attempt_id, provider_call_id
            )
        return await self.for_account(binding.account_id if binding is not None else None)

    async def _for_call(self, provider_call_id: str) -> Provider:
        return await self._for_attempt(provider_call_id=provider_call_id)

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Dial with the credentials of ``request.metadata['account_id']`` (set by the worker
        from the claimed job, never from outside input)."""
        provider = await self.for_account(request.metadata.get("account_id"))
        return await provider.place_call(await self._pinned(provider, request))

    async def _pinned(self, provider: Provider, request: CallRequest) -> CallRequest:
        """The request with its batch's pinned agent version (vendors whose create-call
        takes one: Retell ``override_agent_version``). Batches are pinned at their start
        (``pin_batch``, run by the worker as soon as a start fires); a batch with no pin
        yet (its call claimed before the pin task ran) is pinned here, the same way. A
        batch naming its own version keeps it."""
        batch_id = request.metadata.get("batch_id")
        agent_id = request.agent_id or getattr(provider, "agent_id", None)
        if request.agent_version or not batch_id or not agent_id:
            return request
        pin = await self._pin(provider, batch_id, agent_id)
        if pin is None:
            return request
        return replace(request, agent_id=agent_id, agent_version=pin[1])

    async def pin_batch(
        self, account_id: str, batch_id: str, agent_id: str | None
    ) -> tuple[str, str] | None:
        """Pin a started batch to its agent's version (its account's ``agent_version``
        option, else the agent's newest published version, asked of the vendor); the
        (agent id, version) pinned, None when the vendor's create takes no version or no
        agent is configured. Raises ProviderError when the version cannot be read."""
        provider = await self.for_account(account_id)
        agent_id = agent_id or getattr(provider, "agent_id", None)
        if not agent_id:
            return None
        return await self._pin(provider, batch_id, agent_id)

    async def _pin(
        self, provider: Provider, batch_id: str, agent_id: str
    ) -> tuple[str, str] | None:
        """The batch's stored pin for ``agent_id``, else a new one: the version read now,
        stored on the batch (``provider_options``) unless another process stored one
        first, so an agent edited mid-campaign does not change the calls still to come."""
        current = getattr(provider, "current_agent_version", None)
        if current is None:
            return None
        # Keyed by the agent too: an operator who changes the batch's agent (PATCH) gets a
        # pin for the new agent, never the old agent's version.
        pin = self._pins.get((batch_id, agent_id))
        if pin is None:
            async with self._db.read() as session:
                pin = await config_service.agent_version_pin(session, batch_id)
            if pin is not None and pin[0] != agent_id:
                pin = None
        if pin is not None and not pin[1]:
            return None  # the vendor has no version to pin (asked within the hour)
        if pin is None:
            try:
                version = getattr(provider, "agent_version", None) or await current(agent_id)
            except PermanentProviderError:
                raise
            except ProviderError as exc:
                # Never an unpinned call: the job backs off (its attempt is not spent).
                raise RetryableProviderError(
                    f"{self.name}: could not read agent {agent_id}'s version: {exc}"
                ) from exc
            if not version:
                # Nothing to pin (Vapi: the org is not on assistant versioning): calls
                # follow the agent as it is; asked again within the hour.
                self._pins[(batch_id, agent_id)] = (agent_id, "")
                return None
            async with self._db.write() as session:
                pin = await config_service.pin_agent_version(
                    session, batch_id, agent_id, str(version)
                )
            if pin[0] != agent_id:
                # The batch names another agent now (edited meanwhile): its next claims
                # carry that; this call keeps the version read for its own agent.
                pin = (agent_id, str(version))
            log.info("provider.agent_version_pinned", provider=self.name, batch_id=batch_id,
                     agent_id=pin[0], agent_version=pin[1])  # fmt: skip
        self._pins[(batch_id, agent_id)] = pin
        return pin

    async def hangup(self, provider_call_id: str) -> None:
        """Hang up with the credentials of the account that placed the call."""
        await (await self._for_call(provider_call_id)).hangup(provider_call_id)

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The call's state, asked with the placing account's credentials."""
        return await (await self._for_call(provider_call_id)).get_call(provider_call_id)

    async def find_call(
        self, attempt_id: str, *, to_number: str, since: datetime
    ) -> CallEvent | None:
        """Ask the attempt's account's provider for the call placed for ``attempt_id``."""
        provider = await self._for_attempt(attempt_id=attempt_id)
        if isinstance(provider, TwilioProvider):
            # Twilio's calls carry no metadata: the calls other attempts of ours already
            # own are not candidates.
            async def claimed(sids: list[str]) -> set[str]:
                async with self._db.read() as session:
                    return await config_service.calls_of_other_attempts(
                        session, self.name, sids, attempt_id
                    )

            return await provider.find_call(
                attempt_id, to_number=to_number, since=since, claimed=claimed
            )
        return await provider.find_call(attempt_id, to_number=to_number, since=since)

    async def react(self, events: list[CallEvent]) -> None:
        """Let the vendor act on verified events (Twilio: a machine answered)."""
        for e in events:
            if e.attempt_id is None:
                continue
            try:
                provider = await self._for_attempt(attempt_id=e.attempt_id)
            except ProviderError:
                continue
            react = getattr(provider, "react", None)
            if react is not None:
                await react([e])

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Not usable without the attempt's credentials: use ``verify_webhook``."""
        raise WebhookVerificationError(f"{self.name} webhooks are verified by verify_webhook")

    async def verify_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify a webhook with the credentials of the attempt it concerns and bind its
        events to that attempt (see the module docstring). Raises WebhookVerificationError."""
        claimed_attempt, claimed_call = self._claims(body, url)
        async with self._db.read() as session:
            binding = await config_service.attempt_binding(
                session, self.name, claimed_attempt, claimed_call
            )
        if binding is not None and binding.provider != self.name:
            raise WebhookVerificationError(f"the attempt was not placed through {self.name}")
        try:
            adapter = await self._adapter(binding.account_id if binding else None)
        except config_service.ProviderNotConfigured:
            raise WebhookVerificationError(f"no {self.name} credentials for this webhook") from None
        events = _parse_with_bases(adapter, body=body, headers=headers, url=url, now=now)
        for e in events:
            check_event(e)  # absurd values: ValueError, the endpoint's 422
        if binding is None:
            # Verified with the deployment's own credentials, about no attempt of ours:
            # nothing for it to change.
            return []
        bound: list[CallEvent] = []
        for e in events:
            if e.attempt_id not in (None, binding.attempt_id) or (
                binding.provider_call_id
                and e.provider_call_id
                and e.provider_call_id != binding.provider_call_id
            ):
                raise WebhookVerificationError("the event concerns another call")
            e = replace(e, attempt_id=binding.attempt_id)
            if e.final and adapter.tenant_supplied:
                confirmed = await _confirm(adapter.provider, e)
                if confirmed is None:
                    continue
                e = confirmed
            bound.append(e)
        return bound


def _parse_with_bases(
    adapter: _Adapter, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
) -> list[CallEvent]:
    provider = adapter.provider
    try:
        return provider.parse_webhook(body=body, headers=headers, url=url, now=now)
    except WebhookVerificationError:
        # Behind a proxy the URL we see is not the public one Twilio signed.
        parts = urlsplit(url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        for base in adapter.bases:
            candidate = base.rstrip("/") + tail
            if candidate != url:
                try:
                    return provider.parse_webhook(
                        body=body, headers=headers, url=candidate, now=now
                    )
                except WebhookVerificationError:
                    continue
        raise


async def _confirm(provider: Provider, event: CallEvent) -> CallEvent | None:
    """The provider's own record of a final event; None while it does not confirm one
    (the reconciler settles it later from the provider's record)."""
    try:
        record = await provider.get_call(event.provider_call_id)
    except ProviderError as exc:
        log.warning("webhook.confirm_failed", provider=event.provider,
                    call_id=event.provider_call_id, error=str(exc))  # fmt: skip
        return None
    if record is None or not record.final:
        log.warning("webhook.unconfirmed_final", provider=event.provider,
                    call_id=event.provider_call_id, attempt_id=event.attempt_id)  # fmt: skip
        return None
    # Dedupe on the webhook's key; the content is the provider's.
    return replace(record, event_key=event.event_key, attempt_id=event.attempt_id)


async def verify_webhook(
    provider: Any,
    db: Database,
    *,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    now: datetime,
) -> list[CallEvent]:
    """Endpoint hook: verify and bind a webhook's events, whatever the provider.

    Account-routed vendors verify with the attempt's own credentials; others (the
    simulated carrier) verify with their own secret, and each event must then concern an
    attempt placed through that provider."""
    if isinstance(provider, AccountRoutedProvider):
        return await provider.verify_webhook(body=body, headers=headers, url=url, now=now)
    events: Sequence[CallEvent] = provider.parse_webhook(
        body=body, headers=headers, url=url, now=now
    )
    for e in events:
        check_event(e)
    out: list[CallEvent] = []
    async with db.read() as session:
        for e in events:
            binding = await config_service.attempt_binding(
                session, provider.name, e.attempt_id, e.provider_call_id or None
            )
            if binding is None:
                continue  # about no attempt of ours
            if binding.provider != provider.name or (
                binding.provider_call_id
                and e.provider_call_id
                and binding.provider_call_id != e.provider_call_id
            ):
                raise WebhookVerificationError("the event concerns another provider's call")
            out.append(replace(e, attempt_id=binding.attempt_id))
    return out


async def react(provider: Any, events: Sequence[CallEvent]) -> None:
    """Endpoint hook: let the vendor act on verified events (best effort)."""
    hook = getattr(provider, "react", None)
    if hook is not None and events:
        try:
            await hook(list(events))
        except ProviderError as exc:
            log.warning("webhook.react_failed", provider=getattr(provider, "name", "?"),
                        error=str(exc))  # fmt: skip
