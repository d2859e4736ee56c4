"""Provider webhooks as received over HTTP: find the provider, verify the request with
the credentials of the attempt it concerns, then hand the events to ``webhooks``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.errors import InvalidInput, NotFound, Unauthorized
from dialer.kit import clock
from dialer.metrics import WEBHOOKS
from dialer.telephony.base import WebhookVerificationError, check_event
from dialer.telephony.providers.routing import react, verify_webhook
from dialer.telephony.registry import Providers, known_providers
from dialer.telephony.webhooks import handle_events


async def receive_webhook(
    session: AsyncSession,
    *,
    provider_name: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    providers: Providers,
    after_commit: Callable[[Callable[[], Awaitable[None]]], None] | None = None,
) -> int:
    """Verify and apply one provider webhook. Raises NotFound for an unknown provider and
    Unauthorized for a bad signature. Returns how many events were applied.

    The vendor's reaction to the events (Twilio: hang up a machine-answered call) is an
    HTTP call: given ``after_commit``, it is handed there to run once the transaction is
    committed, never while the settlement's locks are held."""
    if provider_name not in known_providers():
        raise NotFound(f"unknown provider '{provider_name}'")
    provider = providers.get(provider_name)
    try:
        # Verified with the credentials of the attempt's own account and bound to it.
        events = await verify_webhook(
            provider, providers.db, body=body, headers=headers, url=url, now=clock.now()
        )
        for event in events:
            check_event(event)
    except WebhookVerificationError as exc:
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise Unauthorized(f"webhook rejected: {exc}") from None
    except (ValueError, TypeError, OverflowError, OSError, KeyError, AttributeError) as exc:
        # Signed or not, absurd values (a timestamp of 10^20, a list where an id goes)
        # are the sender's to fix: a 422, never a 500.
        WEBHOOKS.labels(provider_name, "rejected").inc()
        raise MalformedWebhook(f"webhook body: {exc}", field="body") from None
    applied = await handle_events(session, events)
    WEBHOOKS.labels(provider_name, "accepted").inc()

    async def reaction() -> None:
        await react(provider, events)

    if after_commit is not None:
        after_commit(reaction)
    else:
        await reaction()
    return applied


class MalformedWebhook(InvalidInput):
    """The webhook body holds values no call can have."""
